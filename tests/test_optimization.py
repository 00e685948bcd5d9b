"""The pretraining optimiser (docs/electra.md, "Pretraining optimisation")."""

import keras
import numpy as np
import pytest
from conftest import to_numpy

import keras_electra as ke


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
    clipped = ke.pretraining_optimizer()._clip_gradients(
        [keras.ops.convert_to_tensor(np.array([30.0, 40.0], "float32"))]
    )
    np.testing.assert_allclose(to_numpy(clipped[0]), [0.6, 0.8], rtol=1e-6)


def test_clipping_keeps_missing_gradients_and_poisons_a_non_finite_norm():
    # Keras' rule, kept by the multi-tensor torch path: a None gradient stays None, and an
    # infinite global norm turns every gradient NaN (so the loss guard sees it) rather than 0.
    optimizer = ke.pretraining_optimizer()
    grads = [
        keras.ops.convert_to_tensor(np.array(g, "float32")) for g in ([3.0, 4.0], [np.inf, 0.0])
    ]
    clipped = optimizer._clip_gradients([grads[0], None])
    assert clipped[1] is None
    np.testing.assert_allclose(to_numpy(clipped[0]), [0.6, 0.8], rtol=1e-6)
    assert np.isnan(to_numpy(optimizer._clip_gradients(grads)[0])).all()


def test_skip_non_finite_undoes_the_bad_step_exactly():
    rng = np.random.default_rng(0)
    good = [
        (rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 1)).astype("float32"))
        for _ in range(3)
    ]
    bad = (np.full((4, 3), np.nan, "float32"), np.ones((4, 1), "float32"))

    def train(batches, skip):
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="ones")]
        )
        optimizer = ke.ElectraAdamW(
            learning_rate=1e-2, weight_decay=0.1, global_clipnorm=1.0, skip_non_finite=skip
        )
        model.compile(
            optimizer=optimizer, loss="mse"
        )  # the compiled step: jit / tf.function / eager
        for x, y in batches:
            model.train_on_batch(x, y)
        return model

    clean = train(good, skip=True)
    skipping = train(good[:1] + [bad] + good[1:], skip=True)
    assert (
        int(to_numpy(skipping.optimizer.skipped_steps)) == 1
        and int(to_numpy(clean.optimizer.skipped_steps)) == 0
    )
    for a, b in zip(
        clean.weights + clean.optimizer.variables, skipping.weights + skipping.optimizer.variables
    ):
        if "skipped_steps" not in b.path:
            np.testing.assert_array_equal(to_numpy(b), to_numpy(a), err_msg=b.path)
    assert np.isnan(to_numpy(train(good[:1] + [bad], skip=False).weights[0])).all()
    assert ke.ElectraAdamW.from_config(skipping.optimizer.get_config()).skip_non_finite
