"""The `keras-electra` command: bad input named clearly, and a real run end to end."""

import json
import re

import pytest
from conftest import BACKEND, shared_data, write_corpus
from test_finetune_cli import run_cli

from keras_electra.cli.main import main


def test_every_sub_command_has_help(capsys):
    for command in ("build-data", "pretrain"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert "usage: keras-electra " + command in capsys.readouterr().out


def test_missing_corpus_is_named(tmp_path, capsys):
    missing = tmp_path / "nowhere.txt"
    code, _, err = run_cli(
        capsys, "build-data", "--corpus", missing, "--vocab-size", 100, "--out", tmp_path / "d"
    )
    assert code == 2 and f"argument --corpus: {missing}: no such file or folder" in err
    assert not (tmp_path / "d").exists()


def test_a_warmup_longer_than_the_run_names_both_flags(tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "pretrain", "--steps", 10, "--warmup-steps", 11, "--out", tmp_path / "run"
    )
    assert (
        code == 2
        and "--warmup-steps 11: more than the run's --steps 10" in err
        and "Traceback" not in err
    )
    assert not (tmp_path / "run").exists()


def test_vocabulary_without_special_tokens_is_named(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "texts", files=1)
    vocab = tmp_path / "bad_vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\nthe\ncat\n", encoding="utf-8")
    assert (
        main(
            [
                "build-data",
                "--corpus",
                str(corpus),
                "--vocab",
                str(vocab),
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "bad_vocab.txt" in err and "[MASK]" in err
    assert not (tmp_path / "d").exists()


def test_pretrain_refuses_a_non_data_directory_and_a_used_run_directory(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert (
        main(["pretrain", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run")]) == 2
    )
    assert "manifest.json" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("x")
    assert (
        main(["pretrain", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "used")]) == 2
    )
    assert "used" in capsys.readouterr().err
    assert (tmp_path / "used" / "keep.txt").read_text() == "x"


@pytest.mark.large
def test_build_data_then_pretrain_writes_every_artifact(tmp_path, capsys):
    import csv

    import keras

    corpus = write_corpus(tmp_path / "texts", files=2, documents=10)
    data, run = tmp_path / "data", tmp_path / "run"
    assert (
        main(
            [
                "build-data",
                "--corpus",
                str(corpus),
                "--vocab-size",
                "200",
                "--max-length",
                "32",
                "--heldout-fraction",
                "0.2",
                "--workers",
                "1",
                "--out",
                str(data),
            ]
        )
        == 0
    )
    summary = json.loads((data / "summary.json").read_text())
    assert summary["examples"] > 10
    capsys.readouterr()
    assert (
        main(
            [
                "pretrain",
                "--data",
                str(data),
                "--size",
                "tiny",
                "--steps",
                "7",
                "--log-every",
                "5",
                "--save-every",
                "3",
                "--batch-size",
                "4",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    # stdout is not a terminal here (a log file's case): one plain line per --log-every interval.
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    lines = re.findall(r"^step (\d+)/7: .*\bloss .*\bval_loss .* steps/s\)$", out, re.M)
    assert lines == ["5", "7"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 7 and {"disc_auc", "mlm_loss"} <= set(metrics["after"])
    with open(run / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 2  # epochs of 5 and 2 steps, both kept
    assert sorted(p.name for p in (run / "checkpoints").glob("*.keras")) == [
        "step-0000003.keras",
        "step-0000006.keras",
    ]
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "vocab.txt").read_text() == (data / "vocab.txt").read_text()
    assert isinstance(keras.models.load_model(run / "discriminator.keras"), keras.Model)


@pytest.mark.large
@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="the README's main job runs on TensorFlow; the model tests cover every backend",
)
def test_main_job_on_the_default_corpus_ends_with_the_fine_tuning_demo(tmp_path):
    import numpy as np

    from keras_electra.data.stdlib_corpus import docstring_kind_task

    run = tmp_path / "run"
    assert (
        main(
            [
                "pretrain",
                "--size",
                "tiny",
                "--steps",
                "3",
                "--batch-size",
                "4",
                "--log-every",
                "3",
                "--vocab-size",
                "2000",
                "--finetune-epochs",
                "1",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    metrics = json.loads((run / "metrics.json").read_text())
    demo = metrics["finetuning"]
    (_, train_y), (_, dev_y) = docstring_kind_task()
    assert demo["examples"] == {"train": len(train_y), "dev": len(dev_y)}
    assert demo["majority_class_accuracy"] == np.mean(dev_y == np.bincount(train_y).argmax())
    for name in ("pretrained_accuracy", "random_init_accuracy"):
        # Each accuracy is a count of correct dev examples over the dev set.
        assert (
            0 <= demo[name] <= 1
            and abs(demo[name] * len(dev_y) - round(demo[name] * len(dev_y))) < 1e-6
        )
    assert (run / "corpus" / "stdlib_docs.txt").stat().st_size > 500_000
    assert (run / "tokenizer_config.json").is_file()


@pytest.mark.large
@pytest.mark.skipif(
    BACKEND != "jax",
    reason="one backend suffices for the command line; the model tests cover every backend",
)
def test_build_data_and_pretrain_on_real_books_learn(tmp_path):
    """The command line end to end on a slice of the shared corpus: losses fall, the generator learns
    and the discriminator's held-out AUC rises. Its accuracy hovers at the all-original baseline
    (within +-0.005 over repeated runs): beating that takes context, which a CI-sized run does not
    reach (benchmarks/results/rtd_learning_speed.md), so it is printed, not asserted."""
    import csv

    books = shared_data("corpus", "gutenberg_books")
    data, run = tmp_path / "data", tmp_path / "run"
    slice_ = [
        str(books / name)
        for name in ("pg11_alices_adventures_in_wonderland.txt", "pg16_peter_pan.txt")
    ]
    assert (
        main(
            [
                "build-data",
                "--corpus",
                *slice_,
                "--strip-gutenberg",
                "--vocab-size",
                "4000",
                "--max-length",
                "64",
                "--heldout-fraction",
                "0.1",
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
                # 130 steps: each asserted margin is as wide as after 200 (measured on JAX, seed 0:
                # loss x0.58, mlm_accuracy +0.052, disc_auc +0.20; 200 steps: x0.60, +0.052, +0.055;
                # seeds 1 and 2 at 130: x0.57, +0.06 to +0.07, +0.23 to +0.27).
                "--steps",
                "130",
                "--batch-size",
                "32",
                "--log-every",
                "65",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    metrics = json.loads((run / "metrics.json").read_text())
    before, after = metrics["before"], metrics["after"]
    with open(run / "history.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    print(
        f"losses {losses}, mlm_accuracy {before['mlm_accuracy']:.3f} -> {after['mlm_accuracy']:.3f}, "
        f"disc_auc {before['disc_auc']:.3f} -> {after['disc_auc']:.3f}, disc_accuracy {after['disc_accuracy']:.4f} "
        f"vs all-original {metrics['all_original_accuracy']:.4f}"
    )
    assert losses[-1] < losses[0] and after["loss"] < 0.8 * before["loss"]
    assert after["mlm_accuracy"] > before["mlm_accuracy"] + 0.03
    assert after["disc_auc"] > before["disc_auc"] + 0.01


@pytest.mark.large
@pytest.mark.skipif(
    BACKEND != "jax", reason="the objectives' steps are tested on every backend in test_objectives"
)
def test_pretrain_with_the_bert_objective_then_fill_mask_and_detect(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "texts", files=2, documents=10)
    data, run = tmp_path / "data", tmp_path / "run"
    assert (
        main(
            [
                "build-data",
                "--corpus",
                str(corpus),
                "--vocab-size",
                "200",
                "--max-length",
                "32",
                "--heldout-fraction",
                "0.2",
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
                "--batch-size",
                "4",
                "--objective",
                "mlm",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["objective"] == "mlm"
    assert {"encoder_mlm_loss", "encoder_mlm_accuracy"} <= set(metrics["after"])
    assert not {"disc_auc", "mlm_loss"} & set(
        metrics["after"]
    )  # no discriminator head, no generator
    assert (
        "; encoder: " in capsys.readouterr().out
    )  # the fill-mask examples come from the encoder's head
    assert main(["fill-mask", "--model", str(run), "the cat [MASK] on a mat"]) == 0
    assert "[MASK] 1:" in capsys.readouterr().out
    assert main(["detect", "--model", str(run), "the cat sat"]) != 0
    assert "its objective (mlm) trains no replaced-token detection head" in capsys.readouterr().err
