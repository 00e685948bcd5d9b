"""Mixed precision (mixed_bfloat16, mixed_float16 with loss scaling) and gradient accumulation,
for pretraining and fine-tuning, on the current backend."""

import csv
import json

import keras
import numpy as np
import pytest
from conftest import BACKEND, VOCAB, make_batch, to_numpy, write_corpus
from harness import MIXED_POLICIES, assert_computes_in, round_trip
from references import tiny_backbone

import keras_electra as ke
from keras_electra import precision
from keras_electra.cli.main import main
from keras_electra.finetuning.training import fine_tune, with_dtype_policy

POLICIES = tuple(MIXED_POLICIES)
LOW = {policy: low for policy, (low, _) in MIXED_POLICIES.items()}


def weights(model):
    return [to_numpy(v).copy() for v in model.trainable_weights]


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def tiny_pretrainer(**overrides):
    # One layer per tower: half the tiny model's compile time, the same code paths.
    return ke.ElectraPretrainer.from_size(
        "tiny", vocab_size=VOCAB, seed=0, num_layers=1, max_sequence_length=32, **overrides
    )


def classification_data(examples=16, length=12, seed=0):
    """Random ids; the label is whether the first token after [CLS] is 7 (or 9)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(10, 64, (examples, length)).astype("int32")
    labels = np.arange(examples, dtype="int32") % 2
    ids[:, 0] = 2
    ids[:, 1] = np.where(labels == 1, 7, 9)
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    return x, labels


@pytest.fixture
def global_policy():
    """Sets the global dtype policy for one test and restores the previous one."""
    previous = keras.config.dtype_policy()
    yield keras.config.set_dtype_policy
    keras.config.set_dtype_policy(previous)


# ---------------------------------------------------------------- mixed precision, pretraining


INPUTS = ("token_ids", "segment_ids", "padding_mask")


def symbolic_batch(batch_size=4, length=16):
    """Input specs: calling a model on them traces its real code on the backend (no compile)."""
    return {name: keras.KerasTensor((batch_size, length), "int32", name=name) for name in INPUTS}


def check_pretrainer_dtypes(pre, policy):
    # Every layer, the shared embedding, the generator's MLM head and both backbones included.
    assert_computes_in(pre, policy)
    assert pre.discriminator(symbolic_batch())["sequence_output"].dtype == LOW[policy]
    out = pre(symbolic_batch(), training=True)
    # The logits leave the model in float32, so losses, sampling and metrics are float32.
    assert out["mlm_logits"].dtype == out["disc_logits"].dtype == "float32"


@pytest.mark.large
def test_pretrainer_trains_under_mixed_float16_with_loss_scaling(tmp_path):
    pre = tiny_pretrainer(dtype="mixed_float16")
    check_pretrainer_dtypes(pre, "mixed_float16")
    pre.compile(learning_rate=2e-3, warmup_steps=0, total_steps=1000)
    # Keras' compile wraps the reference optimizer for loss scaling; our compile keeps that.
    optimizer = pre.optimizer
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(optimizer.inner_optimizer, ke.ElectraAdamW)

    x = make_batch(np.random.default_rng(0), batch_size=4, length=16, min_tokens=10)
    losses = pre.fit(x, batch_size=4, epochs=16, verbose=0, shuffle=False).history["loss"]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-4:]) < 0.8 * losses[0], losses
    scale = float(to_numpy(optimizer.dynamic_scale))
    assert np.isfinite(scale) and 1.0 <= scale <= 2.0**15
    # A step whose scaled gradients overflow is skipped and halves the scale; the rest update.
    assert 16 - np.log2(2.0**15 / scale) == int(to_numpy(optimizer.iterations)) >= 10

    loaded = round_trip(pre, tmp_path / "pre.keras")
    assert_computes_in(loaded, "mixed_float16")
    assert isinstance(loaded.optimizer, keras.optimizers.LossScaleOptimizer)
    assert float(to_numpy(loaded.optimizer.dynamic_scale)) == scale
    np.testing.assert_array_equal(
        to_numpy(loaded.discriminator.embedding.token_embedding.embeddings),
        to_numpy(pre.discriminator.embedding.token_embedding.embeddings),
    )


@pytest.mark.large
def test_pretrainer_trains_under_mixed_bfloat16_with_accumulation():
    """Masks differ per micro-batch, so there is no exact comparison with a big batch here: the
    weights move once every k=2 batches, and the loss still falls."""
    pre = tiny_pretrainer(dtype="mixed_bfloat16")
    check_pretrainer_dtypes(pre, "mixed_bfloat16")
    pre.compile(
        optimizer=ke.pretraining_optimizer(
            2e-3, warmup_steps=0, total_steps=100, gradient_accumulation_steps=2
        )
    )
    assert isinstance(pre.optimizer, ke.ElectraAdamW)  # no loss scaling for bfloat16
    x = make_batch(np.random.default_rng(0), batch_size=4, length=16, min_tokens=10)
    losses = []
    for step in range(1, 17):
        before = weights(pre)
        losses.append(float(pre.train_on_batch(x, return_dict=True)["loss"]))
        moved = not same(weights(pre), before)
        assert moved == (step % 2 == 0), (
            f"batch {step}: the weights {'moved' if moved else 'did not move'}"
        )
        assert int(to_numpy(pre.optimizer.iterations)) == step // 2
    assert np.isfinite(losses).all()
    assert np.mean(losses[-4:]) < 0.8 * losses[0], losses


def test_global_policy_reaches_every_layer(global_policy):
    global_policy("mixed_bfloat16")
    pre = tiny_pretrainer()
    assert_computes_in(pre, "mixed_bfloat16")
    backbone = tiny_backbone(dropout=0.0)
    model = ke.ElectraClassifier(backbone, 2, seed=0)
    assert_computes_in(model, "mixed_bfloat16", float32_layers=("logits",))


def test_saved_backbone_keeps_its_policy_and_with_dtype_policy_changes_it(tmp_path):
    backbone = tiny_backbone(dropout=0.0, dtype="mixed_bfloat16")
    loaded = round_trip(backbone, tmp_path / "backbone.keras")
    assert_computes_in(loaded, "mixed_bfloat16")
    assert loaded(symbolic_batch())["sequence_output"].dtype == "bfloat16"

    as_float32 = with_dtype_policy(loaded, "float32")
    assert_computes_in(as_float32, "float32")
    assert as_float32(symbolic_batch())["sequence_output"].dtype == "float32"
    assert same(weights(as_float32), weights(loaded))
    assert [v.path for v in as_float32.weights] == [
        v.path for v in loaded.weights
    ]  # layer-decay rules match
    assert with_dtype_policy(loaded, "mixed_bfloat16") is loaded


# ---------------------------------------------------------------- mixed precision, fine-tuning


@pytest.mark.large
@pytest.mark.parametrize("policy", POLICIES)
def test_classifier_fine_tunes_under_mixed_precision_with_accumulation(policy):
    # The backbone decides: the task model takes its policy whatever the global one is.
    model = ke.ElectraClassifier(tiny_backbone(dropout=0.0, dtype=policy), 2, dropout=0.0, seed=0)
    assert_computes_in(model, policy, float32_layers=("logits",))
    assert model.backbone(symbolic_batch())["cls_output"].dtype == LOW[policy]
    assert model(symbolic_batch()).dtype == "float32"  # logits, for the loss
    x, y = classification_data()
    # 16 examples in batches of 8 for 30 epochs: 60 batches, 30 updates of 16 examples.
    history = fine_tune(
        model,
        x,
        y,
        epochs=30,
        learning_rate=1e-2,
        batch_size=8,
        layer_decay=None,
        gradient_accumulation_steps=2,
    )
    optimizer = model.optimizer
    if policy == "mixed_float16":
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert np.isfinite(float(to_numpy(optimizer.dynamic_scale)))
        optimizer = optimizer.inner_optimizer
    else:
        assert isinstance(optimizer, ke.ElectraAdamW)
    losses = history.history["loss"]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.5 * losses[0], losses
    # The schedule spans the updates, and reached its end (rate 0) at the last one.
    assert optimizer.gradient_accumulation_steps == 2
    assert optimizer._learning_rate.total_steps == 30
    assert int(to_numpy(optimizer.iterations)) == 30
    assert float(to_numpy(optimizer.learning_rate)) == 0.0


# ---------------------------------------------------------------- gradient accumulation


def test_accumulation_steps_are_checked():
    for bad in (0, -1, 2.0, True, "2"):
        with pytest.raises(ValueError, match="gradient_accumulation_steps"):
            ke.pretraining_optimizer(gradient_accumulation_steps=bad)
        with pytest.raises(ValueError, match="gradient_accumulation_steps"):
            ke.finetuning_optimizer(None, 1e-3, 10, gradient_accumulation_steps=bad)
    assert (
        ke.pretraining_optimizer(gradient_accumulation_steps=1).gradient_accumulation_steps is None
    )
    optimizer = ke.finetuning_optimizer(None, 1e-3, 10, gradient_accumulation_steps=4)
    assert optimizer.gradient_accumulation_steps == 4
    restored = ke.ElectraAdamW.from_config(optimizer.get_config())
    assert restored.gradient_accumulation_steps == 4
    x, y = classification_data()
    model = ke.ElectraClassifier(tiny_backbone(dropout=0.0), 2, seed=0)
    with pytest.raises(ValueError, match="gradient_accumulation_steps=16: more than the 4 batches"):
        fine_tune(
            model, x, y, epochs=1, learning_rate=1e-3, batch_size=4, gradient_accumulation_steps=16
        )


@pytest.mark.large
def test_accumulated_micro_batches_equal_one_big_batch():
    """k=2 micro-batches of 4 per update give the weights of one step on their 8 examples (Adam,
    layer-wise decay and clipping included), update after update; the weights stay put on the
    first micro-batch of each update; the schedule (1 warmup step, linear decay to 0 at 4) is
    read at the update count, not at the micro-batch count, which would give update 1 the rate
    of step 3 instead of step 1."""
    x, y = classification_data(examples=24)
    start = weights(ke.ElectraClassifier(tiny_backbone(dropout=0.0), 2, dropout=0.0, seed=0))

    def model(k):
        m = ke.ElectraClassifier(tiny_backbone(dropout=0.0), 2, dropout=0.0, seed=0)
        m.set_weights(start)
        m.compile(
            optimizer=ke.finetuning_optimizer(
                m.backbone,
                1e-2,
                total_steps=4,
                warmup_fraction=0.25,
                layer_decay=0.8,
                gradient_accumulation_steps=k,
            )
        )
        return m

    def rows(i, j):
        return {name: value[i:j] for name, value in x.items()}, y[i:j]

    big, accumulated = model(None), model(2)
    schedule = accumulated.optimizer._learning_rate
    for update in range(3):
        big.train_on_batch(*rows(8 * update, 8 * update + 8))
        before = weights(accumulated)
        accumulated.train_on_batch(*rows(8 * update, 8 * update + 4))
        assert same(weights(accumulated), before), (
            f"update {update}: the first micro-batch moved the weights"
        )
        assert int(to_numpy(accumulated.optimizer.iterations)) == update
        accumulated.train_on_batch(*rows(8 * update + 4, 8 * update + 8))
        assert int(to_numpy(accumulated.optimizer.iterations)) == update + 1
        for a, b in zip(weights(accumulated), weights(big)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6)
        # The rate the next update will use: the schedule at the update count.
        np.testing.assert_allclose(
            float(to_numpy(accumulated.optimizer.learning_rate)),
            float(to_numpy(schedule(update + 1))),
            rtol=1e-6,
        )
        if update == 0:  # warmup: step 0 of a 1-step warmup has rate 0, so nothing moved yet
            assert same(weights(accumulated), start)
    assert not same(weights(accumulated), start)


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize("command", ["pretrain", "finetune"])
def test_cli_flags_reject_bad_values(capsys, command):
    required = (
        ["--task", "sst2", "--data", ".", "--model", ".", "--out", "o"]
        if command == "finetune"
        else []
    )
    for flag, value in (
        ("--gradient-accumulation-steps", "0"),
        ("--gradient-accumulation-steps", "two"),
        ("--mixed-precision", "float16"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([command, *required, flag, value])
        assert exit_info.value.code == 2
        assert f"argument {flag}" in capsys.readouterr().err


ON_TORCH_ONLY = pytest.mark.skipif(
    BACKEND != "torch",
    reason="the flags' wiring is the same on every backend, and the training it drives is tested above on each; "
    "torch runs these end-to-end commands without a multi-second compile of every model",
)


@pytest.mark.large
@ON_TORCH_ONLY
def test_pretrain_cli_counts_updates_and_saves_the_policy(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    assert (
        main(
            [
                "build-data",
                "--corpus",
                str(write_corpus(tmp_path / "texts", files=1, documents=10)),
                "--vocab-size",
                "200",
                "--max-length",
                "32",
                "--workers",
                "1",
                "--out",
                str(data),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "pretrain",
                "--data",
                str(data),
                "--size",
                "tiny",
                "--steps",
                "3",
                "--log-every",
                "2",
                "--save-every",
                "2",
                "--batch-size",
                "4",
                "--out",
                str(run),
                "--mixed-precision",
                "mixed_bfloat16",
                "--gradient-accumulation-steps",
                "2",
            ]
        )
        == 0
    )
    metrics = json.loads((run / "metrics.json").read_text())
    assert (
        metrics["steps"],
        metrics["mixed_precision"],
        metrics["gradient_accumulation_steps"],
    ) == (3, "mixed_bfloat16", 2)
    pre = keras.saving.load_model(run / "pretrainer.keras")
    assert_computes_in(pre, "mixed_bfloat16")
    # 3 updates of 2 batches each; the schedule spans the 3 updates.
    assert int(to_numpy(pre.optimizer.iterations)) == 3
    assert pre.optimizer.gradient_accumulation_steps == 2
    assert pre.optimizer._learning_rate.total_steps == 3
    with open(run / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 2  # --log-every 2 updates: points after 2 and 3
    assert sorted(p.name for p in (run / "checkpoints").glob("*.keras")) == [
        "step-0000004.keras"
    ]  # batches


@pytest.mark.large
@ON_TORCH_ONLY
def test_pretrain_cli_resolves_auto_and_names_the_choice(tmp_path, capsys):
    """No --mixed-precision: auto, resolved before the run is recorded, so run.json and metrics.json
    hold the policy trained with (never "auto") and the description line says why."""
    data, run = tmp_path / "data", tmp_path / "run"
    corpus = write_corpus(tmp_path / "texts", files=1, documents=10)
    build = ["build-data", "--corpus", str(corpus), "--vocab-size", "200", "--max-length", "32"]
    assert main([*build, "--workers", "1", "--out", str(data)]) == 0
    pretrain = ["pretrain", "--data", str(data), "--size", "tiny", "--steps", "2"]
    assert main([*pretrain, "--batch-size", "4", "--finetune-epochs", "0", "--out", str(run)]) == 0
    policy, reason = precision.resolve("auto")
    assert f", {policy} ({reason})" in capsys.readouterr().out
    settings = json.loads((run / "run.json").read_text())["settings"]
    assert json.loads((run / "metrics.json").read_text())["mixed_precision"] == policy
    assert settings["mixed_precision"] == policy and "mixed_precision_reason" not in settings
    assert_computes_in(keras.saving.load_model(run / "pretrainer.keras"), policy)
    assert (
        keras.saving.load_model(run / "discriminator.keras").dtype_policy.name == "mixed_bfloat16"
    )


@pytest.mark.large
@ON_TORCH_ONLY
def test_finetune_cli_casts_a_float32_model_and_accumulates(tmp_path):
    pretrained, glue, out = tmp_path / "pretrained", tmp_path / "SST-2", tmp_path / "ft"
    words = "good bad fine awful great poor nice dull".split()
    tokenizer = ke.ElectraTokenizer.train(texts=words * 4, vocab_size=100)
    backbone = ke.ElectraBackbone(
        vocab_size=tokenizer.vocab_size,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=32,
        seed=0,
    )
    pretrained.mkdir()
    backbone.save(pretrained / "discriminator.keras")  # float32
    tokenizer.save(pretrained)
    glue.mkdir()
    rows = "".join(f"{words[i % 8]} {words[(i * 3) % 8]}\t{i % 2}\n" for i in range(16))
    for split in ("train", "dev"):
        (glue / f"{split}.tsv").write_text("sentence\tlabel\n" + rows, encoding="utf-8")
    assert (
        main(
            [
                "finetune",
                "--task",
                "sst2",
                "--data",
                str(glue),
                "--model",
                str(pretrained),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--batch-size",
                "4",
                "--max-length",
                "16",
                "--mixed-precision",
                "mixed_float16",
                "--gradient-accumulation-steps",
                "2",
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["mixed_precision"], metrics["gradient_accumulation_steps"]) == (
        "mixed_float16",
        2,
    )
    model = keras.saving.load_model(out / "model.keras")
    # The preprocessor turns text into ids: no floating-point compute.
    assert_computes_in(model, "mixed_float16", float32_layers=("logits", model.preprocessor.name))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    # 2 epochs of 4 batches: 4 updates in the schedule.
    assert model.optimizer.inner_optimizer._learning_rate.total_steps == 4
