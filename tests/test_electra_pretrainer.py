"""The joint pretrainer: weight sharing (docs/electra.md, "Weight sharing"), gradients, and training by fit."""

import keras
import numpy as np
import pytest
from conftest import BACKEND, VOCAB, gradients, make_batch

import keras_electra as ke

METRICS = {
    "loss",
    "mlm_loss",
    "mlm_accuracy",
    "disc_loss",
    "disc_accuracy",
    "disc_precision",
    "disc_recall",
    "disc_auc",
    "replaced_fraction",
}


def test_towers_share_one_set_of_embeddings(tiny_pretrainer):
    pre = tiny_pretrainer
    shared = pre.discriminator.embedding
    assert pre.generator.backbone.embedding is shared
    assert pre.generator.mlm_head.token_embedding is shared.token_embedding
    ids = [id(v) for v in pre.trainable_weights]
    assert len(ids) == len(set(ids))  # each variable once
    for v in shared.trainable_weights:
        assert sum(w is v for w in pre.trainable_weights) == 1
    # Each tower projects E -> H with its own kernel and has its own encoder.
    assert pre.discriminator.embeddings_project is not pre.generator.backbone.embeddings_project
    expected = (
        len(pre.discriminator.trainable_weights)
        + len(pre.discriminator_head.trainable_weights)
        + len(pre.generator.trainable_weights)
        - len(shared.trainable_weights)
    )
    assert len(pre.trainable_weights) == expected


def test_gradients_flow_as_the_reference_says(rng, tiny_pretrainer):
    pre = tiny_pretrainer
    x = make_batch(rng, batch_size=4, length=16)
    shared = pre.discriminator.embedding.trainable_weights
    shared_ids = {id(v) for v in shared}
    generator_only = [v for v in pre.generator.trainable_weights if id(v) not in shared_ids]
    discriminator_only = [
        v
        for v in pre.discriminator.trainable_weights + pre.discriminator_head.trainable_weights
        if id(v) not in shared_ids
    ]
    variables = shared + generator_only + discriminator_only

    def loss(part):
        def fn():
            out = pre(x, training=True)
            if part == "mlm":
                return ke.mlm_loss(out["mlm_logits"], out["mlm_labels"], out["mlm_weights"])
            return ke.discriminator_loss(out["disc_logits"], out["disc_labels"], x["padding_mask"])

        return fn

    def nonzero(g):
        return g is not None and np.abs(g).max() > 0

    mlm = dict(zip(map(id, variables), gradients(loss("mlm"), variables)))
    disc = dict(zip(map(id, variables), gradients(loss("disc"), variables)))
    word_table = pre.discriminator.embedding.token_embedding.embeddings
    assert nonzero(mlm[id(word_table)]) and nonzero(disc[id(word_table)])
    for v in shared:  # gradients from both losses into the shared embeddings
        assert nonzero(mlm[id(v)]) and nonzero(disc[id(v)]), v.path
    for v in generator_only:  # nothing from the discriminator reaches the generator
        assert not nonzero(disc[id(v)]), v.path
    for v in discriminator_only:
        assert not nonzero(mlm[id(v)]), v.path


def fit_losses(pre, x, epochs, jit_compile="auto"):
    pre.compile(learning_rate=2e-3, warmup_steps=2, total_steps=1000, jit_compile=jit_compile)
    history = pre.fit(x, batch_size=len(x["token_ids"]), epochs=epochs, verbose=0, shuffle=False)
    return history.history


# JAX always compiles its step; torch runs eagerly (torch.compile is opt-in).
JIT = {"tensorflow": [False, True], "jax": [True], "torch": [False]}[BACKEND]


@pytest.mark.large
@pytest.mark.parametrize("jit_compile", JIT)
def test_fit_lowers_the_loss_on_a_fixed_batch(rng, jit_compile):
    pre = ke.ElectraPretrainer.from_size("tiny", vocab_size=VOCAB, seed=0)
    x = make_batch(rng, batch_size=16, length=32, min_tokens=20)
    history = fit_losses(pre, x, epochs=40, jit_compile=jit_compile)
    assert METRICS <= set(history)
    losses = np.array(history["loss"])
    assert losses[-5:].mean() < 0.8 * losses[:5].mean()
    assert np.mean(history["mlm_loss"][-5:]) < np.mean(history["mlm_loss"][:5])
    assert np.mean(history["disc_loss"][-5:]) < np.mean(history["disc_loss"][:5])
    fraction = np.mean(history["replaced_fraction"])
    assert 0.0 < fraction < 0.15  # ~0.15 * 0.85+ of tokens are chosen; correct samples are real
    # The discriminator ranks the replacements above the originals, better than chance (0.6-0.75 here).
    assert np.mean(history["disc_auc"][-5:]) > 0.55


@pytest.mark.large
def test_same_seed_gives_identical_losses(rng):
    x = make_batch(rng, batch_size=8, length=24)
    # One layer per tower: seeding does not depend on depth, and each run compiles its own step.
    runs = [
        fit_losses(
            ke.ElectraPretrainer.from_size("tiny", vocab_size=VOCAB, seed=s, num_layers=1), x, 3
        )
        for s in (5, 5, 6)
    ]
    assert runs[0] == runs[1]
    assert runs[0]["loss"] != runs[2]["loss"]


def test_evaluate_reports_the_metrics(rng, tiny_pretrainer):
    x = make_batch(rng, batch_size=8, length=24)
    tiny_pretrainer.compile()
    results = tiny_pretrainer.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    assert METRICS <= set(results)
    assert np.isfinite(list(results.values())).all()


def test_default_compile_uses_the_reference_optimizer(tiny_pretrainer):
    tiny_pretrainer.compile()
    opt = tiny_pretrainer.optimizer
    assert isinstance(opt, ke.ElectraAdamW)
    schedule = opt.get_config()["learning_rate"]
    assert schedule["class_name"] == "WarmupLinearDecay"
    assert schedule["config"] == {
        "peak_learning_rate": 5e-4,
        "warmup_steps": 10_000,
        "total_steps": 1_000_000,
    }


@pytest.mark.large
def test_compile_builds_the_optimizer_so_the_first_fit_traces_its_step_once(rng):
    pre = ke.ElectraPretrainer.from_size("tiny", vocab_size=VOCAB, seed=0, num_layers=1)
    pre.compile()
    assert pre.optimizer.built
    slots = {v.path for v in pre.optimizer.variables}
    assert all(
        any(s.endswith(f"{v.path.replace('/', '_')}_momentum") for s in slots)
        for v in pre.trainable_variables
    )
    traces = []
    step = pre.train_step
    pre.train_step = lambda *args: (traces.append(args), step(*args))[1]
    pre.fit(make_batch(rng, batch_size=8, length=16), batch_size=4, epochs=1, verbose=0)
    # TensorFlow traces a step that creates variables twice; JAX traces once; torch runs eagerly.
    assert len(traces) == {"tensorflow": 1, "jax": 1, "torch": 2}[BACKEND]


@pytest.mark.skipif(
    BACKEND != "torch",
    reason="which generator a step draws from is the same on every backend: "
    "tested in the torch pass (tests/test_resume.py checks the consequence on each backend)",
)
def test_evaluation_repeats_its_draws_and_never_shifts_trainings(rng):
    x = make_batch(rng, batch_size=8, length=16)

    def trained(evaluate_between):
        pre = ke.ElectraPretrainer.from_size("tiny", vocab_size=VOCAB, seed=5)
        pre.compile(learning_rate=1e-3, warmup_steps=1, total_steps=100)
        pre.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
        scores = [
            pre.evaluate(x, batch_size=8, verbose=0, return_dict=True)
            for _ in range(evaluate_between)
        ]
        pre.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return pre, scores

    plain, _ = trained(0)
    evaluated, (first, second) = trained(2)
    assert first == second  # the same held-out masks and samples each time
    for a, b in zip(plain.weights, evaluated.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path
        )
