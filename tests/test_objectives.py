"""The pretraining objectives (docs/electra.md, "Objectives"): what each step's encoder sees, its loss
recomputed in NumPy from the step's outputs, and which weights each loss reaches."""

import numpy as np
import pytest
from conftest import MASK, VOCAB, gradients, make_batch, to_numpy
from harness import round_trip
from scipy import stats

import keras_electra as ke
from keras_electra.pretraining.objectives import OBJECTIVES

NAMES = list(OBJECTIVES)


def pretrainer(objective, **overrides):
    return ke.ElectraPretrainer.from_size(
        "tiny", vocab_size=VOCAB, seed=0, num_layers=1, objective=objective, **overrides
    )


def numpy_log_softmax(logits):
    logits = logits - logits.max(-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def numpy_cross_entropy(logits, labels, weights):
    picked = np.take_along_axis(numpy_log_softmax(logits), labels[..., None], -1)[..., 0]
    return -(picked * weights).sum() / weights.sum()


def numpy_log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def numpy_chosen(positions, weights, length):
    chosen = np.zeros((len(positions), length))
    for row, (where, used) in enumerate(zip(positions, weights)):
        chosen[row, where[used > 0]] = 1.0
    return chosen


def numpy_loss(name, x, out):
    """The objective's loss by the paper's rules, from the step's logits, labels and inputs."""
    kind, padding = OBJECTIVES[name], x["padding_mask"].astype("float64")
    original, corrupted = x["token_ids"], out["corrupted_token_ids"]
    total = 0.0
    if kind.generator:
        total += numpy_cross_entropy(out["mlm_logits"], out["mlm_labels"], out["mlm_weights"])
    if kind.encoder_head == "rtd":
        labels = (corrupted != original) * padding  # a sample equal to the original is real
        z = out["disc_logits"].astype("float64")
        losses = -(labels * numpy_log_sigmoid(z) + (1 - labels) * numpy_log_sigmoid(-z))
        weights = (
            numpy_chosen(out["mlm_positions"], out["mlm_weights"], original.shape[1])
            if kind.rtd_on_chosen_only
            else padding
        )
        return total + 50.0 * (losses * weights).sum() / weights.sum()
    if kind.encoder_head == "mlm":
        return total + numpy_cross_entropy(
            out["encoder_logits"], out["mlm_labels"], out["mlm_weights"]
        )
    # All-Tokens MLM: p = D 1[original = input] + (1 - D) softmax[original], D = sigmoid(-replaced logit)
    copy = 1.0 / (1.0 + np.exp(out["disc_logits"].astype("float64")))
    softmax = np.exp(numpy_log_softmax(out["encoder_logits"].astype("float64")))
    p = (
        copy * (original == corrupted)
        + (1 - copy) * np.take_along_axis(softmax, original[..., None], -1)[..., 0]
    )
    return total - (np.log(p) * padding).sum() / padding.sum()


def step(model, x):
    """The step's outputs, in NumPy, and its loss from them."""
    out = model(x, training=False)
    return {key: to_numpy(value) for key, value in out.items()}, float(
        to_numpy(model.compute_loss(x=x, y_pred=out))
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_loss_is_the_papers_rule_recomputed_in_numpy(rng, name):
    model = pretrainer(name)
    x = make_batch(rng, batch_size=8, length=32)
    out, loss = step(model, x)
    np.testing.assert_allclose(loss, numpy_loss(name, x, out), rtol=2e-5)
    np.testing.assert_array_equal(
        out["mlm_labels"], np.take_along_axis(x["token_ids"], out["mlm_positions"], 1)
    )


@pytest.mark.parametrize("name", NAMES)
def test_each_objective_builds_only_what_its_step_uses(name):
    kind, model = OBJECTIVES[name], pretrainer(name)
    assert (model.generator is not None) == kind.generator
    assert (model.discriminator_head is not None) == (kind.encoder_head in ("rtd", "copy-mlm"))
    assert (model.encoder_mlm_head is not None) == (kind.encoder_head in ("mlm", "copy-mlm"))
    if model.encoder_mlm_head is not None:  # BERT's output layer tied to the input embeddings
        assert (
            model.encoder_mlm_head.token_embedding is model.discriminator.embedding.token_embedding
        )
    if not kind.generator:
        assert not [v.path for v in model.weights if "generator" in v.path]


def test_bert_corrupts_its_chosen_positions_80_10_10(rng):
    model = pretrainer("mlm")
    x = make_batch(rng, batch_size=64, length=128, min_tokens=100)
    out, _ = step(model, x)
    chosen = numpy_chosen(out["mlm_positions"], out["mlm_weights"], 128) > 0
    seen, original = out["corrupted_token_ids"], x["token_ids"]
    np.testing.assert_array_equal(seen[~chosen], original[~chosen])
    masked = (seen == MASK) & chosen
    kept = (seen == original) & chosen
    outcomes = [masked.sum(), (chosen & ~masked & ~kept).sum(), kept.sum()]
    expected = np.array([0.8, 0.1 * (1 - 1 / VOCAB), 0.1 + 0.1 / VOCAB]) * chosen.sum()
    assert stats.chisquare(outcomes, expected).pvalue > 1e-4, outcomes


@pytest.mark.parametrize("name", ["electra", "electra-15", "replace-mlm", "all-tokens-mlm"])
def test_the_generators_samples_replace_every_chosen_position(rng, name):
    x = make_batch(rng, batch_size=16, length=64, min_tokens=40)
    out, _ = step(pretrainer(name), x)
    chosen = numpy_chosen(out["mlm_positions"], out["mlm_weights"], 64) > 0
    changed = out["corrupted_token_ids"] != x["token_ids"]
    assert not (changed & ~chosen).any()
    # [MASK] only where the generator happened to sample it (about 1 in VOCAB), never 85% of the time.
    assert (out["corrupted_token_ids"][chosen] == MASK).mean() < 0.02
    assert (out["generator_token_ids"][chosen] == MASK).mean() > 0.7


def encoder_loss(model, name, x):
    def loss():
        out = model(x, training=True)
        if name in ("electra", "electra-15"):
            return ke.discriminator_loss(out["disc_logits"], out["disc_labels"], x["padding_mask"])
        if name == "all-tokens-mlm":
            return ke.copy_mlm_loss(
                out["encoder_logits"],
                out["disc_logits"],
                out["token_ids"],
                out["corrupted_token_ids"],
                x["padding_mask"],
            )
        return ke.mlm_loss(out["encoder_logits"], out["mlm_labels"], out["mlm_weights"])

    return loss


def generator_loss(model, x):
    def loss():
        out = model(x, training=True)
        return ke.mlm_loss(out["mlm_logits"], out["mlm_labels"], out["mlm_weights"])

    return loss


@pytest.mark.parametrize("name", NAMES)
def test_each_loss_reaches_exactly_its_own_tower(rng, name):
    """The encoder's loss trains the encoder, its heads and the shared embeddings, never the generator's
    own weights (its samples are drawn under stop-gradient); the generator's loss never the encoder's."""
    model = pretrainer(name)
    x = make_batch(rng, batch_size=4, length=16)
    shared = {id(v) for v in model.discriminator.embedding.trainable_weights}
    generator = [
        v
        for v in (model.generator.trainable_weights if model.generator else [])
        if id(v) not in shared
    ]
    encoder = [
        v
        for v in model.trainable_weights
        if id(v) not in shared and all(v is not g for g in generator)
    ]
    variables = encoder + generator

    def reached(loss):
        return [g is not None and np.abs(g).max() > 0 for g in gradients(loss, variables)]

    from_encoder = reached(encoder_loss(model, name, x))
    assert all(from_encoder[: len(encoder)]), [
        v.path for v, hit in zip(encoder, from_encoder) if not hit
    ]
    assert not any(from_encoder[len(encoder) :])
    if generator:
        from_generator = reached(generator_loss(model, x))
        assert all(from_generator[len(encoder) :]) and not any(from_generator[: len(encoder)])


@pytest.mark.large
@pytest.mark.parametrize("name", NAMES)
def test_fit_lowers_the_encoder_loss_and_a_saved_model_keeps_its_objective(rng, tmp_path, name):
    model = pretrainer(name)
    x = make_batch(rng, batch_size=16, length=32, min_tokens=20)
    model.compile(learning_rate=2e-3, warmup_steps=2, total_steps=1000)
    history = model.fit(x, batch_size=16, epochs=15, verbose=0, shuffle=False).history
    metric = "disc_loss" if OBJECTIVES[name].encoder_head == "rtd" else "encoder_mlm_loss"
    assert np.mean(history[metric][-5:]) < np.mean(history[metric][:5])
    loaded = round_trip(model, tmp_path / "pretrainer.keras")
    assert loaded.objective == name
    # The evaluation draws restart at each `evaluate`: the same masks and samples for both models.
    np.testing.assert_allclose(
        loaded.evaluate(x, verbose=0, return_dict=True)["loss"],
        model.evaluate(x, verbose=0, return_dict=True)["loss"],
        rtol=1e-5,
    )


def test_an_unknown_objective_names_the_choices():
    with pytest.raises(ValueError, match="objective='bert'.*mlm, electra-15"):
        pretrainer("bert")


@pytest.mark.parametrize("name", ["mlm", "replace-mlm", "all-tokens-mlm"])
def test_hugging_face_export_refuses_a_pretrainer_it_would_lose_heads_of(tmp_path, name):
    with pytest.raises(ValueError, match=f"the {name} pretrainer has no Hugging Face pair"):
        ke.save_huggingface(pretrainer(name), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    ke.save_huggingface(
        pretrainer(name).discriminator, tmp_path / "encoder"
    )  # its encoder exports as usual
    assert (tmp_path / "encoder" / "config.json").is_file()
