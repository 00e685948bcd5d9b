"""The pretraining optimiser (reference §7)."""

import numpy as np
import pytest

import keras
import keras_electra as ke
from conftest import to_numpy


def test_schedule_is_warmup_times_linear_decay():
    schedule = ke.WarmupLinearDecay(1e-3, warmup_steps=100, total_steps=1000)
    for step in [0, 1, 50, 99, 100, 101, 500, 999, 1000, 1200]:
        expected = 1e-3 * min(1.0, step / 100) * max(0.0, 1 - step / 1000)
        np.testing.assert_allclose(to_numpy(schedule(step)), expected, rtol=1e-4, atol=1e-12)
    restored = ke.WarmupLinearDecay.from_config(schedule.get_config())
    np.testing.assert_allclose(to_numpy(restored(250)), to_numpy(schedule(250)))
    with pytest.raises(ValueError, match="warmup_steps=20, total_steps=10"):
        ke.WarmupLinearDecay(1e-3, 20, 10)
    # No warmup means no warmup factor: the first step has the full peak rate.
    no_warmup = ke.WarmupLinearDecay(1e-3, warmup_steps=0, total_steps=1000)
    np.testing.assert_allclose(to_numpy(no_warmup(0)), 1e-3, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(no_warmup(500)), 5e-4, rtol=1e-6)


def test_pretraining_optimizer_settings():
    config = ke.pretraining_optimizer().get_config()
    assert (config["beta_1"], config["beta_2"], config["epsilon"]) == (0.9, 0.999, 1e-6)
    assert (config["weight_decay"], config["global_clipnorm"]) == (0.01, 1.0)


def no_decay_variables(model):
    """LayerNorm parameters and biases, found by walking the layers."""
    found = set()
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.LayerNormalization):
            found |= {id(layer.gamma), id(layer.beta)}
        elif isinstance(layer, keras.layers.Dense):
            found.add(id(layer.bias))
        elif isinstance(layer, ke.ElectraMaskedLMHead):
            found.add(id(layer.bias))
    return found


@pytest.mark.parametrize("reload", [False, True])
def test_decay_spares_layer_norm_and_biases(tiny_pretrainer, reload):
    # With zero gradients AdamW's update is 0, so a step only applies decay:
    # decayed variables shrink by (1 - lr * wd), the others stay put.
    optimizer = ke.ElectraAdamW(learning_rate=0.5, weight_decay=0.1)
    if reload:
        optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        assert isinstance(optimizer, ke.ElectraAdamW)
    variables = tiny_pretrainer.trainable_variables
    before = [to_numpy(v).copy() for v in variables]
    optimizer.apply_gradients([(keras.ops.zeros(v.shape), v) for v in variables])
    spared = no_decay_variables(tiny_pretrainer)
    assert len(spared) > 10
    for v, old in zip(variables, before):
        factor = 1.0 if id(v) in spared else 1 - 0.5 * 0.1
        np.testing.assert_allclose(to_numpy(v), old * factor, rtol=1e-6, err_msg=v.path)


def test_gradients_are_clipped_by_global_norm():
    # Adam's first step is sign(g) * lr whatever the scale of g, which hides
    # clipping from a behavioural test: check the clipping function itself.
    clipped = ke.pretraining_optimizer()._clip_gradients([keras.ops.convert_to_tensor(np.array([30.0, 40.0], "float32"))])
    np.testing.assert_allclose(to_numpy(clipped[0]), [0.6, 0.8], rtol=1e-6)
