"""Every sub-command's arguments, walked from the parsers themselves: each bad number (0, a negative,
NaN, an infinity, just past a limit, 10**30) and each missing, empty, truncated or binary file is
refused with exit status 2 and one line on stderr naming the flag or the file, with no traceback and
nothing left in the output's place.

The numbers fail while the command line is parsed, so no case builds a model; a file fails at the
parser (a file where a directory is asked for) or when the command first reads it."""

import argparse
import gzip
import math
import random
import shutil

import keras
import pytest
from conftest import BACKEND, SPECIALS, write_corpus
from test_finetune_cli import run_cli

import keras_electra as ke
from keras_electra.cli import arguments
from keras_electra.cli.main import build_parser, main
from keras_electra.data import build_pretraining_data

pytestmark = pytest.mark.skipif(
    BACKEND != "torch", reason="command-line logic: tested in the torch pass"
)

PATHS = (
    arguments.existing_file,
    arguments.existing_dir,
    arguments.existing_path,
    arguments.existing_checkpoint,
)
# Free text: no value is a bad one at the parser. DST is checked against SRC and --to by `convert` itself.
FREE_TEXT = {
    ("build-data", "--text-field"),
    ("build-data", "--document-marker"),
    ("build-data", "--language"),
    ("evaluate", "--split"),
    ("predict", "texts"),
    ("fill-mask", "text"),
    ("detect", "text"),
    ("convert", "DST"),
}
# A valid file of each file argument that is not a directory, from `inputs`: its bad copies keep its name.
FILE_SAMPLES = {
    ("build-data", "--corpus"): "corpus_gz",
    ("build-data", "--vocab"): "vocab",
    ("pretrain", "--init-from"): "model_keras",
    ("finetune", "--model"): "discriminator_keras",
    ("evaluate", "--model"): "model_keras",
    ("predict", "--model"): "model_keras",
    ("convert", "SRC"): "model_keras",
    ("export", "MODEL"): "model_keras",
}
# The file a directory argument is read for: damaged in place, it must be named too.
PRINCIPAL_FILES = {
    ("pretrain", "--data"): ("data", "manifest.json"),
    ("finetune", "--data"): ("sst2", "train.tsv"),
    ("finetune", "--model"): ("pretrained", "discriminator.keras"),
    ("evaluate", "--model"): ("finetuned", "model.keras"),
    ("predict", "--model"): ("finetuned", "model.keras"),
    ("fill-mask", "--model"): ("pretrain_run", "pretrainer.keras"),
    ("detect", "--model"): ("pretrain_run", "pretrainer.keras"),
    ("convert", "SRC"): ("huggingface", "model.safetensors"),
    ("convert", "--generator"): ("huggingface", "model.safetensors"),
    ("export", "MODEL"): ("finetuned", "model.keras"),
    ("compare", "--data"): ("data", "manifest.json"),
    ("compare", "--task-data"): ("sst2", "train.tsv"),
}
# Each command's arguments, all valid ({name} is a path under the inputs); a case replaces one.
VALID = {
    "build-data": {
        "--corpus": "{texts}",
        "--vocab": "{vocab}",
        "--out": "{out}",
        "--max-length": "16",
        "--workers": "1",
    },
    "pretrain": {
        "--data": "{data}",
        "--size": "tiny",
        "--steps": "1",
        "--batch-size": "2",
        "--out": "{out}",
    },
    "finetune": {"--task": "sst2", "--data": "{sst2}", "--model": "{pretrained}", "--out": "{out}"},
    "evaluate": {"--model": "{finetuned}", "--task": "sst2", "--data": "{sst2}"},
    "predict": {"--model": "{finetuned}", "texts": "a fine film"},
    "fill-mask": {"--model": "{pretrain_run}", "text": "the [MASK] sat"},
    "detect": {"--model": "{pretrain_run}", "text": "the cat sat"},
    # To Hugging Face: the one direction open to every kind of SRC.
    "convert": {"SRC": "{huggingface}", "DST": "{out}", "--to": "huggingface"},
    "export": {"MODEL": "{finetuned}", "OUT": "{out}", "--format": "onnx"},
    "compare": {
        "--data": "{data}",
        "--task": "sst2",
        "--task-data": "{sst2}",
        "--budget-flops": "1e9",
        "--batch-size": "2",
        "--out": "{out}",
    },
}
BINARY = bytes(range(256)) * 8


def sub_parsers():
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices


def name_of(action):
    """The name argparse's errors give an argument: its first option string, else its metavar or dest."""
    return action.option_strings[0] if action.option_strings else action.metavar or action.dest


def walk():
    """(command, name, action) of every argument of every sub-command but --help."""
    return [
        (command, name_of(action), action)
        for command, parser in sub_parsers().items()
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
    ]


def is_flag(action):
    return action.nargs == 0  # store_true


def invalid_numbers(check):
    """Values outside `check`'s bounds, chosen from the bounds, not by asking `check`: NaN, the
    infinities, just past each bound, and 0, -1 and 10**30 where the bounds leave them out."""
    low, high = check.minimum, check.maximum
    values = {"nan", "inf", "-inf"}
    if isinstance(check, arguments.Integer):
        values |= {str(low - 1), str(high + 1), "1.5"}

        def excluded(x):
            return not low <= x <= high
    else:
        values |= {repr(low - 1)} | ({repr(high * 1.5)} if math.isfinite(high) else set())
        values |= set() if check.minimum_included else {repr(low)}

        def excluded(x):
            return x < low or (x == low and not check.minimum_included) or x > high

    return sorted(values | {str(x) for x in (0, -1, 10**30) if excluded(x)})


NUMBER_CASES = [
    (command, name, value)
    for command, name, action in walk()
    if isinstance(action.type, (arguments.Integer, arguments.Real))
    for value in invalid_numbers(action.type)
]
MISSING_AND_FILES = ("missing", "empty", "truncated", "binary")
FILE_CASES = [
    (command, name, kind)
    for command, name, action in walk()
    if action.type in PATHS
    for kind in MISSING_AND_FILES
]
DAMAGED_DIRECTORY_CASES = [
    (command, name, kind)
    for (command, name) in PRINCIPAL_FILES
    for kind in ("empty", "truncated", "binary")
]
OUTPUT_CASES = [
    (command, name) for command, name, action in walk() if action.type is arguments.output_dir
]


def test_every_argument_is_checked_at_the_parser():
    """A new argument must be a choice, a flag, a checked number or path, or named free text here."""
    unchecked = {
        (command, name)
        for command, name, action in walk()
        if not is_flag(action)
        and action.choices is None
        and not isinstance(action.type, (arguments.Integer, arguments.Real))
        and action.type not in (*PATHS, arguments.output_dir)
    }
    assert unchecked == FREE_TEXT
    files = {(command, name) for command, name, action in walk() if action.type in PATHS}
    directories = {
        (command, name) for command, name, action in walk() if action.type is arguments.existing_dir
    }
    assert set(FILE_SAMPLES) == files - directories
    assert set(PRINCIPAL_FILES) <= files
    assert {command for command, _, _ in walk()} == set(VALID)


def test_the_limits_themselves_are_accepted():
    for command, name, action in walk():
        check = action.type
        if isinstance(check, arguments.Integer):
            assert (
                check(str(check.minimum)) == check.minimum
                and check(str(check.maximum)) == check.maximum
            )
            assert check.maximum < 10**30, (command, name)  # every count has a cap
        elif isinstance(check, arguments.Real):
            low = (
                check.minimum if check.minimum_included else math.nextafter(check.minimum, math.inf)
            )
            assert check(repr(low)) == low, (command, name)
            assert check(repr(min(check.maximum, 1e30))) == min(check.maximum, 1e30), (
                command,
                name,
            )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """{name: path} of valid inputs for every command; none of them is written to by a case."""
    root = tmp_path_factory.mktemp("inputs")
    paths = {"texts": write_corpus(root / "texts", files=1, documents=4)}
    words = "the cat sat on a mat dogs ran".split()
    tokenizer = ke.ElectraTokenizer(SPECIALS + words)
    # Special tokens last: a vocabulary cut short lacks them, as a truncated download would.
    (root / "vocab.txt").write_text("\n".join(words + SPECIALS) + "\n", encoding="utf-8")
    paths["vocab"] = root / "vocab.txt"
    rng = random.Random(0)
    (root / "corpus.txt.gz").write_bytes(
        gzip.compress(" ".join(rng.choices(words, k=20_000)).encode())
    )
    paths["corpus_gz"] = root / "corpus.txt.gz"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(root / "any.keras")
    for name in ("model", "discriminator"):
        paths[f"{name}_keras"] = shutil.copy(root / "any.keras", root / f"{name}.keras")
    for folder, model_file in (
        ("pretrained", "discriminator.keras"),
        ("finetuned", "model.keras"),
        ("pretrain_run", "pretrainer.keras"),
    ):
        (root / folder).mkdir()
        shutil.copy(root / "any.keras", root / folder / model_file)
        tokenizer.save(root / folder)
        paths[folder] = root / folder
    (root / "finetuned" / "task.json").write_text('{"task": "sst2"}')
    (root / "sst2").mkdir()
    for split in ("train", "dev"):
        (root / "sst2" / f"{split}.tsv").write_text(
            "sentence\tlabel\na fine film\t1\na dull one\t0\n"
        )
    paths["sst2"] = root / "sst2"
    paths["data"] = root / "data"
    build_pretraining_data(
        paths["texts"],
        paths["data"],
        vocab_file=root / "vocab.txt",
        max_length=16,
        workers=1,
        progress=False,
    )
    backbone = ke.ElectraBackbone(
        vocab_size=len(tokenizer.vocabulary),
        num_layers=1,
        num_heads=1,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
        seed=0,
    )
    paths["huggingface"] = root / "huggingface"
    ke.save_huggingface(backbone, paths["huggingface"], tokenizer)
    return paths


def argv(command, inputs, out, replace, value):
    """VALID[command] as a command line, with argument `replace` given `value` (and its mutually
    exclusive partners left out)."""
    parser = sub_parsers()[command]
    groups = [
        {name_of(action) for action in group._group_actions}
        for group in parser._mutually_exclusive_groups
    ]
    partners = set().union(*(group for group in groups if replace in group)) - {replace}
    named = {**{k: v for k, v in VALID[command].items() if k not in partners}, replace: value}
    paths = {**{k: str(v) for k, v in inputs.items()}, "out": str(out)}
    line = [command]
    for action in parser._actions:  # positionals in their order, options as NAME=VALUE
        name = name_of(action)
        if name in named:
            text = named[name].format(**paths)
            line += [f"{name}={text}"] if action.option_strings else [text]
    return line


def check_refused(code, err, names, out, before, workspace):
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert any(name in err for name in names), (names, err)
    assert not any(out.parent.glob(out.name + "*")), "an output was left behind"
    assert sorted(workspace.iterdir()) == before


@pytest.mark.parametrize(
    "command, name, value", NUMBER_CASES, ids=[f"{c} {n}={v}" for c, n, v in NUMBER_CASES]
)
def test_a_bad_number_is_refused_at_the_parser(command, name, value, inputs, tmp_path, capsys):
    out, before = tmp_path / "out", sorted(tmp_path.iterdir())
    with pytest.raises(
        SystemExit
    ) as exit_:  # at the parser: before any file is read or model built
        main(argv(command, inputs, out, name, value))
    err = capsys.readouterr().err
    check_refused(exit_.value.code, err, [f"argument {name}"], out, before, tmp_path)
    assert repr(value) in err  # the value given, as given


def bad_file(folder, name, kind, valid):
    """`folder/name`: absent, empty, the first half of `valid`'s bytes, or binary."""
    path = folder / name
    if kind != "missing":
        path.write_bytes(
            {"empty": b"", "truncated": valid[: len(valid) // 2], "binary": BINARY}[kind]
        )
    return path


@pytest.mark.parametrize(
    "command, name, kind", FILE_CASES, ids=[f"{c} {n} {k}" for c, n, k in FILE_CASES]
)
def test_a_missing_empty_truncated_or_binary_file_is_named(
    command, name, kind, inputs, tmp_path, capsys
):
    sample = inputs[FILE_SAMPLES.get((command, name), "model_keras")]
    path = bad_file(
        tmp_path,
        sample.name if (command, name) in FILE_SAMPLES else "folder",
        kind,
        sample.read_bytes(),
    )
    out, before = tmp_path / "out", sorted(tmp_path.iterdir())
    code, _, err = run_cli(capsys, *argv(command, inputs, out, name, str(path)))
    check_refused(code, err, [name, str(path)], out, before, tmp_path)


@pytest.mark.parametrize(
    "command, name, kind",
    DAMAGED_DIRECTORY_CASES,
    ids=[f"{c} {n} {k}" for c, n, k in DAMAGED_DIRECTORY_CASES],
)
def test_a_directory_whose_file_is_damaged_names_the_file(
    command, name, kind, inputs, tmp_path, capsys
):
    template, principal = PRINCIPAL_FILES[command, name]
    folder = tmp_path / "folder"
    shutil.copytree(inputs[template], folder)
    damaged = bad_file(folder, principal, kind, (inputs[template] / principal).read_bytes())
    out, before = tmp_path / "out", sorted(tmp_path.iterdir())
    code, _, err = run_cli(capsys, *argv(command, inputs, out, name, str(folder)))
    check_refused(code, err, [str(damaged)], out, before, tmp_path)


@pytest.mark.parametrize("command, name", OUTPUT_CASES, ids=[f"{c} {n}" for c, n in OUTPUT_CASES])
def test_an_output_directory_that_is_a_file_is_refused(command, name, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("keep")
    with pytest.raises(SystemExit) as exit_:
        main(argv(command, inputs, tmp_path / "elsewhere", name, str(out)))
    err = capsys.readouterr().err
    assert (
        exit_.value.code == 2 and f"argument {name}" in err and len(err.strip().splitlines()) == 1
    )
    assert out.read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
