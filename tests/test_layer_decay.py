"""The fine-tuning optimiser and layer-wise learning-rate decay (docs/electra.md, "Fine-tuning")."""

import math

import keras
import numpy as np
import pytest
from conftest import BACKEND, gradients, to_numpy
from harness import round_trip
from references import tiny_backbone

import keras_electra as ke
from keras_electra.optimization.finetuning_optimizer import finetuning_optimizer
from keras_electra.optimization.layer_decay import layer_decay_multipliers

NUM_LAYERS = 3
INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


def functional_task(dropout=0.1):
    """A backbone + Dense head, as a functional model."""
    backbone = tiny_backbone(vocab_size=60, num_layers=NUM_LAYERS, dropout=dropout)
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}
    logits = keras.layers.Dense(3, name="classifier")(backbone(inputs)["cls_output"])
    return keras.Model(inputs, logits, name="task"), backbone


class ScopedTask(keras.Model):
    """Creates its backbone in `build`, so the backbone's variable paths get
    the task model's name as a prefix (`scoped_task/encoder_layer_0/...`)."""

    def build(self, input_shape):
        self.backbone = tiny_backbone(vocab_size=60, num_layers=NUM_LAYERS)
        self.classifier = keras.layers.Dense(3, name="classifier")

    def call(self, inputs):
        return self.classifier(self.backbone(inputs)["cls_output"])


def inputs_batch(batch_size=4, length=6):
    rng = np.random.default_rng(1)
    return {
        "token_ids": rng.integers(1, 60, (batch_size, length)).astype("int32"),
        "segment_ids": np.zeros((batch_size, length), "int32"),
        "padding_mask": np.ones((batch_size, length), "int32"),
    }


def expected_multipliers(model, backbone, decay, authors_form):
    """id(variable) -> the multiplier of docs/electra.md, "Fine-tuning", from which layer owns the variable."""
    extra = 1 if authors_form else 0
    expected = {id(v): 1.0 for v in model.trainable_variables}
    for layer in (backbone.embedding, backbone.embeddings_project):
        for v in layer.trainable_variables:
            expected[id(v)] = decay ** (NUM_LAYERS + 1 + extra)
    for i, layer in enumerate(backbone.encoder_layers, start=1):
        for v in layer.trainable_variables:
            expected[id(v)] = decay ** (NUM_LAYERS + 1 - i + extra)
    return expected


def built_task(kind):
    if kind == "functional":
        model, backbone = functional_task()
    else:
        model = ScopedTask(name="scoped_task")
        model(inputs_batch())
        backbone = model.backbone
    return model, backbone


@pytest.mark.parametrize("authors_form", [False, True])
@pytest.mark.parametrize("kind", ["functional", "scoped"])
def test_each_variable_gets_the_reference_multiplier(kind, authors_form):
    model, backbone = built_task(kind)
    if kind == "scoped":
        assert (
            backbone.encoder_layers[0]
            .trainable_variables[0]
            .path.startswith("scoped_task/encoder_layer_0/")
        )
    decay = 0.8
    rules = layer_decay_multipliers(
        model if kind == "scoped" else backbone, decay, authors_form=authors_form
    )
    optimizer = ke.ElectraAdamW(learning_rate_multipliers=rules)
    optimizer.build(model.trainable_variables)
    expected = expected_multipliers(model, backbone, decay, authors_form)
    head = {id(v) for v in model.trainable_variables} - {
        id(v) for v in backbone.trainable_variables
    }
    assert len(head) == 2
    got = {}
    for index, v in enumerate(model.trainable_variables):
        got[id(v)] = optimizer.learning_rate_multiplier(v)
        assert optimizer._variable_multipliers[index] == got[id(v)], v.path
        assert math.isclose(got[id(v)], expected[id(v)], rel_tol=1e-12), v.path
    # Spot checks of the formula's ends: head 1, top layer decay (decay^2 in
    # the authors' form), embeddings decay^(L+1) (decay^(L+2)).
    extra = 1 if authors_form else 0
    top = backbone.encoder_layers[-1].trainable_variables[0]
    table = backbone.embedding.trainable_variables[0]
    project = backbone.embeddings_project.trainable_variables[0]
    assert all(got[i] == 1.0 for i in head)
    assert math.isclose(got[id(top)], decay ** (1 + extra))
    assert math.isclose(got[id(table)], decay ** (NUM_LAYERS + 1 + extra))
    assert math.isclose(got[id(project)], decay ** (NUM_LAYERS + 1 + extra))


def test_decay_one_leaves_every_multiplier_at_one():
    model, backbone = functional_task()
    optimizer = ke.ElectraAdamW(learning_rate_multipliers=layer_decay_multipliers(backbone, 1.0))
    assert {optimizer.learning_rate_multiplier(v) for v in model.trainable_variables} == {1.0}


def numpy_adamw(
    params, grads_per_step, multipliers, decays, lr, wd, beta_1=0.9, beta_2=0.999, eps=1e-6
):
    """Keras' AdamW (bias-corrected), with each variable's learning rate
    scaled by its multiplier, weight decay included."""
    params = [p.astype("float64") for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t, grads in enumerate(grads_per_step, start=1):
        for k, g in enumerate(grads):
            g = g.astype("float64")
            lr_k = lr * multipliers[k]
            if decays[k]:
                params[k] = params[k] - params[k] * wd * lr_k
            m[k] = m[k] + (g - m[k]) * (1 - beta_1)
            v[k] = v[k] + (g * g - v[k]) * (1 - beta_2)
            alpha = lr_k * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
            params[k] = params[k] - m[k] * alpha / (np.sqrt(v[k]) + eps)
    return params


def test_zero_gradient_step_decays_each_variable_by_its_multiplier():
    # With zero gradients Adam's step is 0: a step only applies weight decay,
    # which must shrink each decayed variable by (1 - lr * multiplier * wd).
    model, backbone = functional_task()
    decay, lr, wd = 0.5, 0.5, 0.1
    optimizer = ke.ElectraAdamW(
        learning_rate=lr,
        weight_decay=wd,
        learning_rate_multipliers=layer_decay_multipliers(backbone, decay),
    )
    expected = expected_multipliers(model, backbone, decay, False)
    variables = model.trainable_variables
    before = [to_numpy(v).copy() for v in variables]
    optimizer.apply_gradients([(keras.ops.zeros(v.shape), v) for v in variables])
    decayed = 0
    for v, old in zip(variables, before):
        spared = v.name in ("gamma", "beta", "bias")
        factor = 1.0 if spared else 1 - lr * expected[id(v)] * wd
        decayed += not spared
        np.testing.assert_allclose(to_numpy(v), old * factor, rtol=1e-6, err_msg=v.path)
    assert decayed >= 3 * NUM_LAYERS


@pytest.mark.parametrize("authors_form", [False, True])
def test_steps_match_numpy_adamw_with_layer_multipliers(authors_form):
    model, backbone = functional_task()
    decay, lr, wd = 0.7, 0.01, 0.5
    optimizer = ke.ElectraAdamW(
        learning_rate=lr,
        weight_decay=wd,
        epsilon=1e-6,
        learning_rate_multipliers=layer_decay_multipliers(
            backbone, decay, authors_form=authors_form
        ),
    )
    variables = model.trainable_variables
    expected = expected_multipliers(model, backbone, decay, authors_form)
    rng = np.random.default_rng(0)
    steps = [[rng.normal(size=v.shape).astype("float32") for v in variables] for _ in range(2)]
    before = [to_numpy(v).copy() for v in variables]
    for grads in steps:
        optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
    reference = numpy_adamw(
        before,
        steps,
        [expected[id(v)] for v in variables],
        [v.name not in ("gamma", "beta", "bias") for v in variables],
        lr,
        wd,
    )
    for v, old, want in zip(variables, before, reference):
        got = to_numpy(v)
        # Keras computes Adam's bias correction from float32 betas (1 - 0.999
        # is off by 1e-5 relative): allow 1e-4 of the step's scale.
        np.testing.assert_allclose(
            got, want, rtol=1e-5, atol=1e-4 * lr * expected[id(v)], err_msg=v.path
        )
        # Two Adam steps move an element by at most ~2 lr * multiplier.
        step = np.max(np.abs(got - old))
        bound = lr * expected[id(v)] * (2.01 + 2 * wd * np.max(np.abs(old)))
        assert 0.5 * lr * expected[id(v)] < step < bound, v.path


def compiled_task(layer_decay=0.5, weight_decay=0.0, clipnorm=1.0):
    model, backbone = functional_task(dropout=0.0)
    optimizer = finetuning_optimizer(
        backbone,
        1e-2,
        total_steps=100,
        warmup_fraction=0.01,  # one warmup step: step 0 has learning rate 0
        layer_decay=layer_decay,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
    )
    model.compile(
        optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model, backbone


@pytest.mark.large
def test_compiled_fit_steps_scale_each_layer():
    # Through model.fit (jit / tf.function on each backend). WarmupLinearDecay
    # with one warmup step gives step 0 a learning rate of 0, so the first step only fills Adam's
    # moments; without dropout the second step sees the same gradient g, and
    # Adam moves each element by exactly
    # lr(1) * multiplier * g / (|g| + eps / sqrt(1 - beta_2^2)).
    model, backbone = compiled_task()
    x, y = inputs_batch(), np.array([0, 1, 2, 1])
    variables = model.trainable_variables
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    grads = gradients(lambda: loss(y, model(x, training=True)), variables)
    norm = math.sqrt(sum(float(np.sum(np.square(g.astype("float64")))) for g in grads))
    assert norm > 1.5  # so clipping to 1.0 is part of what is checked
    grads = [g / norm for g in grads]
    expected = expected_multipliers(model, backbone, 0.5, False)
    before = [to_numpy(v).copy() for v in variables]
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    lr = float(to_numpy(model.optimizer._learning_rate(1)))
    eps = 1e-6 / math.sqrt(1 - 0.999**2)
    for v, old, g in zip(variables, before, grads):
        want = old - lr * expected[id(v)] * g / (np.abs(g) + eps)
        np.testing.assert_allclose(
            to_numpy(v), want, rtol=1e-5, atol=1e-3 * lr * expected[id(v)], err_msg=v.path
        )
    # Each layer's largest move is (nearly) its own lr * multiplier.
    for layer in [backbone.embedding, *backbone.encoder_layers]:
        step = max(
            np.max(np.abs(to_numpy(v) - old))
            for v, old in zip(variables, before)
            if id(v) in {id(w) for w in layer.weights}
        )
        assert 0.95 < step / (lr * expected[id(layer.weights[0])]) <= 1.0001, layer.name


@pytest.mark.large
def test_layer_decay_survives_saving(tmp_path):
    model, backbone = compiled_task(weight_decay=0.01)
    x, y = inputs_batch(), np.array([0, 1, 2, 1])
    model.fit(x, y, batch_size=4, verbose=0)
    rules = model.optimizer.get_config()["learning_rate_multipliers"]
    assert len(rules) == NUM_LAYERS + 2
    path = tmp_path / "task.keras"
    loaded = round_trip(model, path)

    assert isinstance(loaded.optimizer, ke.ElectraAdamW)
    assert loaded.optimizer.get_config()["learning_rate_multipliers"] == rules
    assert [loaded.optimizer.learning_rate_multiplier(v) for v in loaded.trainable_variables] == [
        model.optimizer.learning_rate_multiplier(v) for v in model.trainable_variables
    ]
    assert len(set(loaded.optimizer._variable_multipliers)) == NUM_LAYERS + 2
    # One more step on each gives the same weights.
    model.fit(x, y, batch_size=4, verbose=0)
    loaded.fit(x, y, batch_size=4, verbose=0)
    for a, b in zip(model.trainable_variables, loaded.trainable_variables):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=1e-5, atol=1e-7, err_msg=a.path)


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, float("nan"), True, "0.8", None])
def test_bad_decay_is_a_value_error(bad):
    backbone = tiny_backbone(vocab_size=60, num_layers=NUM_LAYERS)
    with pytest.raises(ValueError, match=r"decay must be a number in \(0, 1\]"):
        layer_decay_multipliers(backbone, bad)
    if bad is not None:  # None means "no layer decay" for finetuning_optimizer
        with pytest.raises(ValueError, match="layer_decay="):
            finetuning_optimizer(backbone, 1e-4, 100, layer_decay=bad)


def test_finetuning_optimizer_settings():
    optimizer = finetuning_optimizer(None, 1e-4, total_steps=1000)
    config = optimizer.get_config()
    assert (config["beta_1"], config["beta_2"], config["epsilon"]) == (0.9, 0.999, 1e-6)
    assert (config["weight_decay"], config["global_clipnorm"], config["clipnorm"]) == (
        0.0,
        1.0,
        None,
    )
    assert config["learning_rate_multipliers"] == []
    schedule = optimizer._learning_rate
    assert isinstance(schedule, ke.WarmupLinearDecay)
    assert (schedule.peak_learning_rate, schedule.warmup_steps, schedule.total_steps) == (
        1e-4,
        100,
        1000,
    )
    assert finetuning_optimizer(None, 1e-4, 1000, clipnorm=None).global_clipnorm is None
    with pytest.raises(ValueError, match="authors_layer_decay"):
        finetuning_optimizer(None, 1e-4, 1000, authors_layer_decay=True)
    with pytest.raises(ValueError, match="warmup_fraction"):
        finetuning_optimizer(None, 1e-4, 1000, warmup_fraction=1.5)


def test_rules_are_validated_and_serialisable():
    optimizer = ke.ElectraAdamW(learning_rate_multipliers={"a/": 0.5, "b/": 2})
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert restored.get_config()["learning_rate_multipliers"] == [["a/", 0.5], ["b/", 2.0]]
    # First match wins; unmatched variables keep 1.0.
    assert restored.learning_rate_multiplier("x/a/b/kernel") == 0.5
    assert restored.learning_rate_multiplier("x/kernel") == 1.0
    for bad in ([["(", 1.0]], [["a", -1.0]], [["a", "1"]], [["a"]]):
        with pytest.raises(ValueError, match="learning_rate_multipliers"):
            ke.ElectraAdamW(learning_rate_multipliers=bad)


def test_subclass_is_not_swapped_for_a_fused_implementation():
    # On torch, Keras replaces an exact keras.optimizers.AdamW with a fused
    # implementation that would skip update_step; a subclass is kept.
    assert type(ke.ElectraAdamW()) is ke.ElectraAdamW
    assert type(finetuning_optimizer(None, 1e-4, 10)) is ke.ElectraAdamW
    if BACKEND == "torch":
        assert type(keras.optimizers.AdamW()) is not keras.optimizers.AdamW


def test_repeated_embedding_ids_update_like_dense_adam():
    # Id 1 looked up twice with gradients 1 and 3: Adam must see g = 4 (on
    # TensorFlow the gradient is an IndexedSlices of two slices; ElectraAdamW
    # makes it dense), so clipping to global norm 2 halves it, and the first
    # step is -lr * 2 / (2 + eps') on every backend.
    table = keras.layers.Embedding(3, 1, embeddings_initializer="zeros")
    table.build((None,))
    weights = keras.ops.convert_to_tensor(np.array([[1.0], [3.0]], "float32"))
    grads = gradients(lambda: keras.ops.sum(table(np.array([1, 1])) * weights), [table.embeddings])
    np.testing.assert_allclose(grads[0].ravel(), [0, 4, 0])
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = keras.ops.sum(table(np.array([1, 1])) * weights)
        sparse = tape.gradient(loss, table.embeddings.value)
        assert isinstance(sparse, tf.IndexedSlices)
        grads = [sparse]
    else:
        grads = [keras.ops.convert_to_tensor(g) for g in grads]
    optimizer = ke.ElectraAdamW(learning_rate=1.0, weight_decay=0.0, global_clipnorm=2.0)
    optimizer.apply_gradients(zip(grads, [table.embeddings]))
    np.testing.assert_allclose(to_numpy(optimizer._momentums[0]).ravel(), [0, 0.2, 0], rtol=1e-5)
    # rtol 2e-5: TensorFlow's fused kernel (fast_paths.adamw) takes 1 - float32(0.999), 1.3e-5 off.
    np.testing.assert_allclose(to_numpy(optimizer._velocities[0]).ravel(), [0, 0.004, 0], rtol=2e-5)
    np.testing.assert_allclose(
        to_numpy(table.embeddings).ravel(), [0, -2 / (2 + 1e-6 / math.sqrt(0.001)), 0], rtol=1e-5
    )
