"""Bad input, and the failures that stop a write half-way: each is an error that names the file, line
or argument, and leaves no half-written output. The table of docs/bad-input.md lists every case,
with the test that covers it here or elsewhere in tests/."""

import errno
import json
import os
import re
import shutil
import zipfile

import keras
import numpy as np
import pytest
from conftest import SPECIALS
from references import tiny_backbone
from test_finetune_cli import run_cli
from test_squad import V1_QAS, squad_json, write_json

import keras_electra as ke
from keras_electra.data.atomic import save_model_atomic
from keras_electra.data.glue import read_glue
from keras_electra.data.shards import read_manifest
from keras_electra.data.squad import read_squad
from keras_electra.data.text_files import MAX_LINE_CHARS
from keras_electra.signals import Terminated

VOCAB = SPECIALS + "the cat sat on a mat dogs ran".split()
# The corpus, vocab_file and data_dir fixtures come from conftest.py.


def leftovers(folder):
    """Temporary files and folders of an interrupted atomic write under `folder`."""
    return [path.name for path in folder.rglob("*") if ".tmp-" in path.name]


def build_data_cli(capsys, corpus, out, vocab_file, *extra):
    return run_cli(
        capsys,
        "build-data",
        "--corpus",
        corpus,
        "--vocab",
        vocab_file,
        "--out",
        out,
        "--max-length",
        16,
        "--workers",
        1,
        *extra,
    )


# --- corpus and build-data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("weights.txt", b"PK\x03\x04\x00\x00\x00 a zip, not text", "weights.txt: looks binary"),
        ("one_line.txt", b"word " * (MAX_LINE_CHARS // 5 + 1), "one_line.txt, line 1: longer than"),
    ],
    ids=["binary", "over-long line"],
)
def test_build_data_names_a_bad_corpus_file_and_writes_nothing(
    tmp_path, capsys, corpus, vocab_file, name, content, message
):
    texts = tmp_path / "texts"
    shutil.copytree(corpus, texts)
    (texts / name).write_bytes(content)
    out = tmp_path / "new" / "deeper" / "data"  # folders made for --out go too
    code, _, err = build_data_cli(capsys, texts, out, vocab_file)
    assert code == 2 and message in err and "Traceback" not in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["texts"]


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--max-length", "4", "argument --max-length: expected an integer from 5 to"),
        ("--heldout-fraction", "0.7", "argument --heldout-fraction: expected a number in (0, 0.5]"),
        ("--workers", "0", "argument --workers: expected an integer from 1 to"),
        ("--seed", "-1", "argument --seed: expected an integer from 0 to"),
    ],
)
def test_build_data_names_a_bad_argument_and_writes_nothing(
    tmp_path, capsys, corpus, vocab_file, option, value, message
):
    code, _, err = build_data_cli(capsys, corpus, tmp_path / "data", vocab_file, option, value)
    assert code == 2 and message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def fail_second_save(monkeypatch, error):
    """np.save writes the first array whole, then half of the second before `error` (disk full, Ctrl-C)."""
    real_save, names = np.save, []

    def save(file, array, **kwargs):
        names.append(os.path.basename(file.name))
        if len(names) == 2:
            file.write(b"\x93NUMPY half an array")
            raise error
        return real_save(file, array, **kwargs)

    monkeypatch.setattr(np, "save", save)
    return names


def test_disk_full_while_writing_shards_leaves_the_out_directory_as_it_was(
    tmp_path, capsys, monkeypatch, corpus, vocab_file
):
    out = tmp_path / "data"
    out.mkdir()  # an empty --out is allowed, and must stay as it was
    names = fail_second_save(monkeypatch, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    code, _, err = build_data_cli(capsys, corpus, out, vocab_file)
    assert names[0].startswith(
        ".train-00000.npy.tmp-"
    )  # one shard was complete when the disk filled
    assert code == 1 and "Traceback" not in err
    assert (
        "No space left on device" in err
        and "heldout.npy" in err
        and f"nothing written to --out {out}" in err
    )
    assert list(out.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["data"]


@pytest.mark.parametrize("interrupt, status", [(KeyboardInterrupt(), 130), (Terminated(), 143)])
def test_ctrl_c_during_build_data_leaves_nothing_and_says_so(
    tmp_path, capsys, monkeypatch, corpus, vocab_file, interrupt, status
):
    out = tmp_path / "data"
    names = fail_second_save(monkeypatch, interrupt)
    code, _, err = build_data_cli(capsys, corpus, out, vocab_file)
    assert len(names) == 2 and code == status
    assert f"interrupted; nothing written to --out {out}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda d: (d / "train-00000.npy").write_bytes(
                (d / "train-00000.npy").read_bytes()[:200]
            ),
            r"train-00000\.npy: not a readable \.npy array",
        ),
        (
            lambda d: (d / "heldout.npy").write_bytes(b"PK\x03\x04 not an array"),
            r"heldout\.npy: not a readable \.npy array \(BadZipFile",
        ),
        (
            lambda d: (d / "heldout.npy").write_bytes(b""),
            r"heldout\.npy: not a readable \.npy array \(EOFError",
        ),
        (
            lambda d: (
                np.savez(d / "heldout.npy", np.zeros(3))
                or os.replace(d / "heldout.npy.npz", d / "heldout.npy")
            ),
            r"heldout\.npy: a \.npz archive, not a \.npy array",
        ),
        (
            lambda d: (d / "manifest.json").write_text(
                '{"format": "keras-electra-pretraining-data", '
            ),
            r"manifest\.json: not valid JSON",
        ),
    ],
    ids=["truncated shard", "zip bytes", "empty shard", "npz archive", "truncated manifest"],
)
def test_a_damaged_data_directory_is_named(tmp_path, data_dir, damage, message):
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    damage(copy)
    with pytest.raises(ValueError, match=message):
        read_manifest(copy)


# --- checkpoints and models ------------------------------------------------------------------------


def test_disk_full_while_saving_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = save_model_atomic(model, tmp_path / "step-0000100.keras")
    previous, kernel = path.read_bytes(), keras.ops.convert_to_numpy(model.layers[0].kernel)
    model.layers[0].kernel.assign(np.ones((3, 2)))

    def disk_full(
        *args, **kwargs
    ):  # the weights go in after metadata and config: a half-written zip
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full)
    with pytest.raises(OSError, match=re.escape(f"No space left on device: '{path}'")):
        save_model_atomic(model, path)
    monkeypatch.undo()
    assert path.read_bytes() == previous and [p.name for p in tmp_path.iterdir()] == [path.name]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(keras.saving.load_model(path).layers[0].kernel), kernel
    )


@pytest.fixture
def truncated_run(tmp_path):
    """A `finetune` output directory whose model.keras lost its second half (an interrupted copy)."""
    run = tmp_path / "ft"
    run.mkdir()
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(run / "model.keras")
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 2])
    (run / "task.json").write_text(json.dumps({"task": "sst2"}))
    return run


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_truncated_keras_file_is_named_as_such(truncated_run, capsys, command):
    arguments = (
        ["--task", "sst2", "--data", truncated_run] if command == "evaluate" else ["a sentence"]
    )
    code, out, err = run_cli(capsys, command, "--model", truncated_run, *arguments)
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"{truncated_run / 'model.keras'}: not a complete .keras file" in err


def test_converting_a_truncated_keras_file_names_it_and_writes_nothing(
    truncated_run, tmp_path, capsys
):
    code, _, err = run_cli(capsys, "convert", truncated_run / "model.keras", tmp_path / "hf")
    assert code == 2 and str(truncated_run / "model.keras") in err and "Traceback" not in err
    assert not (tmp_path / "hf").exists() and not leftovers(tmp_path)


@pytest.fixture
def huggingface_directory(tmp_path):
    """A Hugging Face directory whose vocab.txt has two tokens more than the model's embedding table."""
    directory = tmp_path / "hf"
    ke.save_huggingface(tiny_backbone(vocab_size=len(VOCAB)), directory, ke.ElectraTokenizer(VOCAB))
    with open(directory / "vocab.txt", "a", encoding="utf-8") as file:
        file.write("extra\ntokens\n")
    return directory


def test_a_vocabulary_larger_than_the_checkpoints_table_is_refused(
    huggingface_directory, tmp_path, capsys
):
    vocab, config = huggingface_directory / "vocab.txt", huggingface_directory / "config.json"
    code, _, err = run_cli(
        capsys, "convert", huggingface_directory, tmp_path / "out" / "backbone.keras"
    )
    assert code == 2 and "Traceback" not in err
    assert (
        f"{vocab}: 15 tokens, more than the 13 rows of the word-embedding table of {config}" in err
    )
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def with_a_larger_vocabulary(folder, model_name):
    """A 13-row backbone saved as `model_name` in `folder`, with a 14-token vocab.txt beside it."""
    save_model_atomic(tiny_backbone(vocab_size=len(VOCAB)), folder / model_name)
    ke.ElectraTokenizer(VOCAB + ["extra"]).save(folder)
    return folder / model_name


def test_a_keras_file_with_a_larger_vocabulary_beside_it_is_not_exported(tmp_path, capsys):
    with_a_larger_vocabulary(tmp_path, "backbone.keras")
    code, _, err = run_cli(capsys, "convert", tmp_path / "backbone.keras", tmp_path / "hf")
    assert code == 2 and "Traceback" not in err
    assert f"{tmp_path / 'vocab.txt'}: 14 tokens, more than the 13 rows" in err
    assert not (tmp_path / "hf").exists() and not leftovers(tmp_path)


def test_finetuning_a_model_whose_vocabulary_is_larger_than_its_table_is_refused(tmp_path, capsys):
    # On JAX the extra ids would index past the table and train on NaN without a word.
    with_a_larger_vocabulary(tmp_path, "discriminator.keras")
    code, _, err = run_cli(
        capsys,
        "finetune",
        "--task",
        "sst2",
        "--model",
        tmp_path,
        "--data",
        sst2(tmp_path),
        "--out",
        tmp_path / "ft",
    )
    assert code == 2 and "Traceback" not in err and "14 tokens, more than the 13 rows" in err
    assert not (tmp_path / "ft").exists()


def test_finetuning_a_truncated_model_names_it(truncated_run, tmp_path, capsys):
    (tmp_path / "discriminator.keras").write_bytes((truncated_run / "model.keras").read_bytes())
    code, _, err = run_cli(
        capsys,
        "finetune",
        "--task",
        "sst2",
        "--model",
        tmp_path,
        "--data",
        sst2(tmp_path),
        "--out",
        tmp_path / "out",
    )
    assert code == 2 and "not a complete .keras file" in err and not (tmp_path / "out").exists()


def sst2(folder):
    for split in ("train", "dev"):
        (folder / f"{split}.tsv").write_text("sentence\tlabel\na fine film\t1\na dull one\t0\n")
    return folder


# --- task data -------------------------------------------------------------------------------------


@pytest.mark.parametrize("score", ["5.2", "-0.5"])
def test_an_stsb_score_outside_0_to_5_names_the_line(tmp_path, score):
    header = (
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    )
    rows = ["0\tg\tf\ty\ti\ts\ts\ta\tb\t3.8", f"1\tg\tf\ty\ti\ts\ts\ta\tb\t{score}"]
    (tmp_path / "train.tsv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=re.escape(f"train.tsv, line 3: score '{score}' is outside [0, 5]")
    ):
        read_glue("stsb", tmp_path, "train")


@pytest.mark.parametrize(
    "data, location, reason",
    [
        (
            squad_json([V1_QAS[0], {"id": "q3", "question": "Who?"}]),
            "data[0].paragraphs[0].qas[1]",
            "KeyError: 'answers'",
        ),
        (
            squad_json(
                [
                    V1_QAS[0],
                    {
                        "id": "q3",
                        "question": "Who?",
                        "answers": [{"text": "B", "answer_start": "4"}],
                    },
                ]
            ),
            "data[0].paragraphs[0].qas[1]",
            "TypeError",
        ),
        (
            squad_json([V1_QAS[0], {"question": "Who?", "answers": []}]),
            "data[0].paragraphs[0].qas[1]",
            "KeyError: 'id'",
        ),
        (
            {"version": "1.1", "data": [{"paragraphs": [{"qas": V1_QAS}]}]},
            "data[0].paragraphs[0]",
            "KeyError: 'context'",
        ),
    ],
    ids=["no answers", "start is a string", "no id", "no context"],
)
def test_a_malformed_squad_question_names_its_place(tmp_path, data, location, reason):
    path = write_json(tmp_path / "dev.json", data)
    with pytest.raises(
        ValueError, match=re.escape(f"dev.json: not in SQuAD's layout at {location} ({reason}")
    ):
        read_squad(path)
