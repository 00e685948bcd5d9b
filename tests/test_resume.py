"""Never lose a run: SIGKILL at a random step, `--resume`, and the final weights equal an uninterrupted run's."""

import json
import math
import os
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from conftest import BACKEND, to_numpy, write_corpus

from keras_electra.callbacks import PeriodicCheckpoint, latest_checkpoint
from keras_electra.cli.main import main

STEPS = 20
# The command line's own logic is the same on every backend: tested once, in the fastest pass. The
# per-backend parts (exact resume, skipping a step, the guard) run in every pass, here and in
# test_optimization.py and test_non_finite_loss_guard.py.
command_line_only = pytest.mark.skipif(
    BACKEND != "torch", reason="command-line logic: tested in the torch pass"
)
# `finetune`'s SIGKILL test checks fine_tune's resume on each backend; its Python call, once.
python_api_only = pytest.mark.skipif(
    BACKEND != "torch", reason="fine_tune's call: tested in the torch pass"
)
# Every test here runs a command end to end (or kills one in a subprocess): the large tier.
pytestmark = pytest.mark.large


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    write_corpus(folder / "corpus")
    assert (
        main(
            [
                "build-data",
                "--corpus",
                str(folder / "corpus"),
                "--vocab-size",
                "200",
                "--max-length",
                "32",
                "--heldout-fraction",
                "0.2",
                "--workers",
                "1",
                "--out",
                str(folder / "data"),
            ]
        )
        == 0
    )
    return folder / "data"


def command(data, out, *extra, save_every=2):
    return [
        sys.executable,
        "-m",
        "keras_electra",
        "pretrain",
        "--data",
        str(data),
        "--size",
        "tiny",
        "--steps",
        str(STEPS),
        "--batch-size",
        "4",
        "--log-every",
        "4",
        "--save-every",
        str(save_every),
        "--seed",
        "3",
        "--out",
        str(out),
        *extra,
    ]


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """The subprocesses' environment: this pass's backend, and under JAX a compilation cache they
    share, so that every run after the first reuses the first's compiled step (the same
    executable, so the same numbers) instead of compiling it again."""
    cache = tmp_path_factory.mktemp("jax-cache")
    return {
        **os.environ,
        "KERAS_BACKEND": BACKEND,
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def run(argv, env):
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory, environment):
    """The reference every interrupted pretrain run here must end at: the same command run through
    once, in a process of its own, for the module. It writes no checkpoint (--save-every may change
    on resume, docs/pretraining.md): the weights must not depend on the saves either."""
    out = tmp_path_factory.mktemp("uninterrupted") / "whole"
    run(command(data, out, save_every=1000), environment)
    return out / "pretrainer.keras"


def newest_checkpoint_step(out):
    # From the records' names: the run being watched may prune a record between the listing and a read.
    records = (out / "checkpoints").glob("step-*.json") if (out / "checkpoints").exists() else []
    return max((int(p.stem.removeprefix("step-")) for p in records), default=0)


def state(path):
    model = keras.models.load_model(path)
    return [to_numpy(v) for v in model.weights + model.optimizer.variables + model._seed_states()]


def kill_after_a_random_checkpoint(argv, out, environment, steps, final_file):
    """Runs `argv`, kills it with SIGKILL within 50 ms of the checkpoint of a random even step below
    `steps` (mid-step, mid-evaluation or mid-save), and returns the step of its newest checkpoint."""
    kill_after = random.choice(range(2, steps, 2))
    print(f"killing after the checkpoint of step {kill_after}")
    victim = subprocess.Popen(
        argv, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 600
    while newest_checkpoint_step(out) < kill_after and victim.poll() is None:
        assert time.time() < deadline
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.05))
    assert victim.poll() is None, "the run finished before it was killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (out / final_file).exists()
    resumed_from = newest_checkpoint_step(out)
    print(f"killed after step {resumed_from}'s checkpoint")
    return resumed_from


def assert_same_state(resumed, whole):
    """Every weight, optimizer slot and seed state of two saved models, bit for bit."""
    resumed, whole = state(resumed), state(whole)
    assert len(resumed) == len(whole)
    for got, want in zip(resumed, whole):
        np.testing.assert_array_equal(got, want)


def test_sigkill_at_a_random_step_then_resume_gives_the_uninterrupted_weights(
    data, tmp_path, environment, uninterrupted
):
    # Epochs end at multiples of 4: some checkpoints fall there.
    resumed_from = kill_after_a_random_checkpoint(
        command(data, tmp_path / "killed"), tmp_path / "killed", environment, 14, "pretrainer.keras"
    )
    output = run(command(data, tmp_path / "killed", "--resume"), environment)
    assert "resuming from" in output and f"batch {resumed_from} of {STEPS}" in output
    assert_same_state(tmp_path / "killed" / "pretrainer.keras", uninterrupted)
    # The curves cover the whole run once: an epoch per 4 steps.
    history = (tmp_path / "killed" / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == [
        str(epoch) for epoch in range(math.ceil(STEPS / 4))
    ]


def in_process(data, out, *extra):
    return main(command(data, out, *extra)[3:])


def signal_after_the_first_checkpoint(monkeypatch, number):
    """Sends this process `number` (Ctrl-C's SIGINT, a scheduler's SIGTERM) as the run writes its
    first checkpoint, as a person or a scheduler would while it trains. From the checkpoint's own
    call, not a thread that watches the files: such a thread lost the race to a short run's end
    once (the run finished its 6 steps first)."""
    save = PeriodicCheckpoint.save

    def save_then_signal(self, step):
        save(self, step)
        monkeypatch.setattr(PeriodicCheckpoint, "save", save)  # the first checkpoint only
        os.kill(os.getpid(), number)

    monkeypatch.setattr(PeriodicCheckpoint, "save", save_then_signal)


@command_line_only
@pytest.mark.parametrize("number, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_finishes_the_step_saves_and_resume_gives_the_uninterrupted_weights(
    data, tmp_path, capsys, monkeypatch, number, status, uninterrupted
):
    out = tmp_path / "run"
    signal_after_the_first_checkpoint(monkeypatch, number)
    assert in_process(data, out) == status
    err = capsys.readouterr().err
    step = newest_checkpoint_step(out)
    assert 2 <= step < STEPS and f"interrupted at batch {step}" in err and "--resume" in err
    assert not (out / "pretrainer.keras").exists()
    assert in_process(data, out, "--resume") == 0
    assert f"batch {step} of {STEPS}" in capsys.readouterr().out
    assert_same_state(out / "pretrainer.keras", uninterrupted)


@command_line_only
def test_resume_refuses_other_arguments_and_needs_out(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "pretrain",
                "--data",
                str(data),
                "--size",
                "tiny",
                "--steps",
                "2",
                "--batch-size",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    before = sorted(p.name for p in out.rglob("*"))
    assert (
        main(
            [
                "pretrain",
                "--data",
                str(data),
                "--size",
                "tiny",
                "--steps",
                "2",
                "--batch-size",
                "8",
                "--out",
                str(out),
                "--resume",
            ]
        )
        == 2
    )
    assert "--batch-size is 8, but the run" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == before
    assert (
        main(["pretrain", "--data", str(data), "--size", "tiny", "--steps", "2", "--resume"]) == 2
    )
    assert "--resume needs --out" in capsys.readouterr().err


@command_line_only
def test_a_diverging_run_stops_naming_the_step_and_keeps_the_good_checkpoint(
    data, tmp_path, capsys
):
    out = tmp_path / "run"
    assert in_process(data, out, "--learning-rate", "1e30") == 1
    err = capsys.readouterr().err
    bad = int(err.split("at batch ")[1].split(";")[0])
    assert "the loss is nan" in err or "the loss is inf" in err
    path, step = latest_checkpoint(out / "checkpoints")
    assert step < bad and str(path) in err and not (out / "pretrainer.keras").exists()
    model = keras.models.load_model(path)
    assert all(np.isfinite(to_numpy(v)).all() for v in model.weights)


@command_line_only
def test_skip_mode_trains_through_and_counts(data, tmp_path):
    out = tmp_path / "run"
    assert in_process(data, out, "--learning-rate", "1e30", "--on-non-finite", "skip") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["skipped_batches"] >= 1
    model = keras.models.load_model(out / "pretrainer.keras")
    assert all(np.isfinite(to_numpy(v)).all() for v in model.weights)


@command_line_only
def test_pretraining_data_longer_than_the_position_table_is_refused(tmp_path, capsys):
    write_corpus(tmp_path / "corpus")
    assert (
        main(
            [
                "build-data",
                "--corpus",
                str(tmp_path / "corpus"),
                "--vocab-size",
                "200",
                "--max-length",
                "600",
                "--heldout-fraction",
                "0.2",
                "--workers",
                "1",
                "--out",
                str(tmp_path / "data"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "pretrain",
                "--data",
                str(tmp_path / "data"),
                "--size",
                "tiny",
                "--steps",
                "2",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 2
    )
    assert "max_length 600 exceeds the 512 positions of the tiny model" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- finetune --resume

FINETUNE_EPOCHS = 4  # of 12 batches: 48 steps


@pytest.fixture(scope="module")
def finetuning(tmp_path_factory):
    """(task folder, pretrained folder): an SST-2-format task whose label a word gives away, and a
    tiny random encoder with a vocabulary of its words."""
    from keras_electra import ElectraBackbone, ElectraTokenizer

    folder = tmp_path_factory.mktemp("finetune-resume")
    rng = random.Random(0)
    cues = {1: "good great fine lovely superb".split(), 0: "bad awful poor dull boring".split()}
    filler = "the movie was a film with plot and actors in it".split()
    for split, count in (("train", 90), ("dev", 30)):
        rows = []
        for _ in range(count):
            label = rng.randrange(2)
            words = rng.sample(filler, 5) + [rng.choice(cues[label])]
            rng.shuffle(words)
            rows.append(f"{' '.join(words)}\t{label}")
        (folder / "task").mkdir(exist_ok=True)
        (folder / "task" / f"{split}.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    tokenizer = ElectraTokenizer.train(
        texts=[" ".join(cues[0] + cues[1] + filler)] * 20, vocab_size=120
    )
    backbone = ElectraBackbone(
        vocab_size=tokenizer.vocab_size,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=32,
        seed=0,
    )
    (folder / "pretrained").mkdir()
    backbone.save(folder / "pretrained" / "discriminator.keras")
    tokenizer.save(folder / "pretrained")
    return folder / "task", folder / "pretrained"


def finetune_command(finetuning, out, *extra, save_every=2):
    task, pretrained = finetuning
    return [
        sys.executable,
        "-m",
        "keras_electra",
        "finetune",
        "--task",
        "sst2",
        "--data",
        str(task),
        "--model",
        str(pretrained),
        "--out",
        str(out),
        "--epochs",
        str(FINETUNE_EPOCHS),
        "--batch-size",
        "8",
        "--max-length",
        "16",
        "--learning-rate",
        "1e-3",
        "--save-every",
        str(save_every),
        "--seed",
        "5",
        *extra,
    ]


def test_finetune_sigkill_at_a_random_step_then_resume_gives_the_uninterrupted_weights(
    finetuning, tmp_path, environment
):
    # Epochs end at multiples of 12: some checkpoints fall there.
    resumed_from = kill_after_a_random_checkpoint(
        finetune_command(finetuning, tmp_path / "killed"),
        tmp_path / "killed",
        environment,
        32,
        "model.keras",
    )
    output = run(finetune_command(finetuning, tmp_path / "killed", "--resume"), environment)
    assert f"batch {resumed_from} of {FINETUNE_EPOCHS * 12}" in output
    # No checkpoint (every 1000 of 48 updates): the weights must not depend on the saves either.
    run(finetune_command(finetuning, tmp_path / "whole", save_every=1000), environment)
    assert_same_state(tmp_path / "killed" / "model.keras", tmp_path / "whole" / "model.keras")
    metrics = [
        json.loads((tmp_path / run / "metrics.json").read_text())["dev"]
        for run in ("killed", "whole")
    ]
    assert metrics[0] == metrics[1]
    # The logs cover the run once: a row per epoch, and per step.
    history = (tmp_path / "killed" / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == [
        str(epoch) for epoch in range(FINETUNE_EPOCHS)
    ]
    steps = (tmp_path / "killed" / "steps.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in steps[1:]] == [
        str(step) for step in range(1, FINETUNE_EPOCHS * 12 + 1)
    ]
    # Steps before the kill were logged once, by the first process, with the uninterrupted run's values.
    whole_steps = (tmp_path / "whole" / "steps.csv").read_text().splitlines()
    assert steps[: resumed_from + 1] == whole_steps[: resumed_from + 1]


@command_line_only
@pytest.mark.parametrize("number, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_finetune_stop_signal_saves_and_resume_refuses_other_arguments(
    finetuning, tmp_path, capsys, monkeypatch, number, status
):
    out = tmp_path / "run"
    argv = finetune_command(finetuning, out)[3:]
    signal_after_the_first_checkpoint(monkeypatch, number)
    assert main(argv) == status
    err = capsys.readouterr().err
    step = newest_checkpoint_step(out)
    assert (
        f"interrupted at batch {step}" in err
        and "--resume" in err
        and not (out / "model.keras").exists()
    )
    before = sorted(p.name for p in out.rglob("*"))
    assert main([*argv, "--resume", "--learning-rate", "2e-3"]) == 2
    assert "--learning-rate is 0.002, but the run" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == before
    assert main([*argv, "--resume", "--keep-checkpoints", "5"]) == 0
    assert f"batch {step} of {FINETUNE_EPOCHS * 12}" in capsys.readouterr().out
    assert (out / "model.keras").exists()


class CrashAt(keras.callbacks.Callback):
    """Raises at a step, as a crash would: nothing after the last checkpoint survives."""

    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            raise RuntimeError("crash")


@python_api_only
def test_fine_tune_with_a_checkpoint_dir_continues_a_crashed_run(finetuning, tmp_path):
    """The Python API: the same `fine_tune` call on a fresh model continues from the newest checkpoint."""
    from keras_electra.finetuning import tasks
    from keras_electra.finetuning.training import fine_tune

    x, y = tasks.load_split("sst2", finetuning[0], "train")

    def model_after(checkpoint_dir, crash_at=None):
        model = tasks.build_model("sst2", *tasks.load_pretrained(finetuning[1]), 16, seed=5)
        fine_tune(
            model,
            x,
            y,
            epochs=2,
            learning_rate=1e-3,
            batch_size=8,
            seed=5,
            checkpoint_dir=checkpoint_dir,
            save_every=3,
            callbacks=[CrashAt(crash_at)] if crash_at else [],
        )
        return [
            to_numpy(v) for v in model.weights + model.optimizer.variables + model._seed_states()
        ]

    whole = model_after(tmp_path / "whole")
    with pytest.raises(RuntimeError, match="crash"):
        model_after(
            tmp_path / "crashed", crash_at=17
        )  # after step 15's checkpoint, in the second epoch
    assert latest_checkpoint(tmp_path / "crashed")[1] == 15
    resumed = model_after(tmp_path / "crashed")
    for got, want in zip(resumed, whole):
        np.testing.assert_array_equal(got, want)


@command_line_only
def test_a_diverging_finetune_stops_naming_the_step_and_keeps_the_good_checkpoint(
    finetuning, tmp_path, capsys
):
    out = tmp_path / "run"
    assert main(finetune_command(finetuning, out, "--learning-rate", "1e30")[3:]) == 1
    err = capsys.readouterr().err
    bad = int(err.split("at batch ")[1].split(";")[0])
    assert "the loss is nan" in err or "the loss is inf" in err
    assert "keras-electra finetune: error:" in err and not (out / "model.keras").exists()
    path, step = latest_checkpoint(out / "checkpoints")
    assert step < bad and str(path) in err
    model = keras.models.load_model(path)
    assert all(np.isfinite(to_numpy(v)).all() for v in model.weights)
