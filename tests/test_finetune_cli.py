"""`keras-electra finetune`, `evaluate`, `predict`, `fill-mask` and `detect` end to end, on real data.

A small random-weight "pretrained" encoder (its WordPiece vocabulary trained on SST-2 and STS-B
sentences) stands in for a pretraining run: fine-tuning must still beat the trivial baselines on
real dev sets, and every number the commands print must be one the saved model gives again.
"""

import csv
import io
import json
import re
import sys
import zipfile

import keras
import numpy as np
import pytest
from conftest import BACKEND, shared_data, write_corpus

from keras_electra.cli.main import main

# The commands' logic is the same on every backend: tested once, in the fastest pass. Training,
# prediction and saving of the task models run on every backend in test_task_models.py.
pytestmark = pytest.mark.skipif(
    BACKEND != "torch", reason="command-line logic: tested in the torch pass"
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SST2_TRAIN_EXAMPLES = 3000  # 2 epochs of batch 32: 188 steps
STSB_TRAIN_EXAMPLES = 3000  # 3 epochs: 282 steps
STSB_DEV_EXAMPLES = 500


def read_tsv(path):
    """Rows of a GLUE TSV as dicts: split on tabs only (no CSV quoting), BOM dropped."""
    lines = path.read_text("utf-8-sig").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line]


def run_cli(capsys, *argv):
    """`(exit code, stdout, stderr)` of `keras-electra ARGV`, run in this process. A bad argument ends in
    argparse's SystemExit, as on the command line; its status is returned like the others."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A directory as `finetune --model` takes it: discriminator.keras, vocab.txt, tokenizer_config.json.

    The encoder is untrained (random, seed fixed), the vocabulary real: fine-tuning then learns
    the tasks from their own training data only.
    """
    from keras_electra import ElectraBackbone, ElectraTokenizer
    from keras_electra.data.glue import read_glue

    sst2 = read_glue("sst2", shared_data("glue", "SST-2"), "train")
    stsb = read_glue("stsb", shared_data("glue", "STS-B"), "train")
    tokenizer = ElectraTokenizer.train(
        texts=[*sst2.text_a, *stsb.text_a, *stsb.text_b], vocab_size=4000
    )
    backbone = ElectraBackbone(
        vocab_size=tokenizer.vocab_size,
        num_layers=2,
        num_heads=2,
        hidden_dim=64,
        intermediate_dim=256,
        max_sequence_length=128,
        seed=0,
    )
    directory = tmp_path_factory.mktemp("pretrained")
    backbone.save(directory / "discriminator.keras")
    tokenizer.save(directory)
    return directory


@pytest.fixture(scope="module")
def sst2_run(pretrained, tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "sst2"
    code = main(
        [
            "finetune",
            "--task",
            "sst2",
            "--data",
            str(shared_data("glue", "SST-2")),
            "--model",
            str(pretrained),
            "--out",
            str(out),
            "--max-train-examples",
            str(SST2_TRAIN_EXAMPLES),
            "--epochs",
            "2",
            "--learning-rate",
            "1e-3",
            "--layer-decay",
            "1",
            "--max-length",
            "64",
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def stsb_run(pretrained, tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "stsb"
    code = main(
        [
            "finetune",
            "--task",
            "stsb",
            "--data",
            str(shared_data("glue", "STS-B")),
            "--model",
            str(pretrained),
            "--out",
            str(out),
            "--max-train-examples",
            str(STSB_TRAIN_EXAMPLES),
            "--max-dev-examples",
            str(STSB_DEV_EXAMPLES),
            "--epochs",
            "3",
            "--learning-rate",
            "1e-3",
            "--layer-decay",
            "1",
            "--max-length",
            "64",
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def pretrain_run(tmp_path_factory):
    """A few steps of `pretrain --size tiny` on a small synthetic corpus: a run directory."""
    root = tmp_path_factory.mktemp("pretrain")
    corpus = write_corpus(root / "texts", files=2, documents=10)
    data, run = root / "data", root / "run"
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
                "4",
                "--log-every",
                "4",
                "--save-every",
                "1000",
                "--batch-size",
                "4",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    return run


def test_every_sub_command_has_help(capsys):
    """The fine-tuning and inspection commands (tests/test_cli.py covers build-data and pretrain)."""
    options = {
        "finetune": (
            "--task",
            "--data",
            "--model",
            "--out",
            "--layer-decay",
            "--max-train-examples",
        ),
        "evaluate": ("--model", "--task", "--data", "--split"),
        "predict": ("--model", "texts"),
        "fill-mask": ("--model", "--top-k", "text"),
        "detect": ("--model", "text"),
    }
    for command, names in options.items():
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert "usage: keras-electra " + command in out
        assert all(name in out for name in names), (command, out)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in (*options, "build-data", "pretrain"))
    with pytest.raises(SystemExit) as exit_:
        main(["finetune", "--task", "no-such-task", "--data", "d", "--model", "m", "--out", "o"])
    assert exit_.value.code == 2
    assert "no-such-task" in capsys.readouterr().err


def test_finetune_names_the_learning_rate_and_why(capsys):
    from argparse import Namespace

    from keras_electra.cli.finetune import chosen_learning_rate

    rate, reason = chosen_learning_rate(Namespace(learning_rate=None), 384)
    assert rate == 3e-4
    assert capsys.readouterr().out == (
        "learning rate 0.0003: ELECTRA-Small's fine-tuning rate (hidden size 384 matches no preset; "
        "ELECTRA-Small's 256 is the nearest (log scale) of the authors' 256/768/1024); "
        "--learning-rate sets another\n"
    )
    assert chosen_learning_rate(Namespace(learning_rate=None), 768)[0] == 1e-4
    assert "hidden size 768 is ELECTRA-Base's" in capsys.readouterr().out
    assert chosen_learning_rate(Namespace(learning_rate=2e-5), 384) == (
        2e-5,
        "given by --learning-rate",
    )
    assert capsys.readouterr().out == "learning rate 2e-05: given by --learning-rate\n"


@pytest.mark.large
def test_finetune_of_a_width_of_no_size_prints_and_records_its_rate(pretrained, tmp_path, capsys):
    # The encoder is 64 wide, no size's: it takes ELECTRA-Small's rate, the nearest on a log scale.
    def finetune(out, *extra):
        return run_cli(
            capsys,
            "finetune",
            "--task",
            "sst2",
            "--data",
            shared_data("glue", "SST-2"),
            "--model",
            pretrained,
            "--out",
            tmp_path / out,
            "--max-train-examples",
            8,
            "--max-dev-examples",
            8,
            "--epochs",
            1,
            "--batch-size",
            8,
            "--max-length",
            16,
            *extra,
        )

    def rate_line(stdout):
        return next(line for line in stdout.splitlines() if line.startswith("learning rate "))

    code, stdout, _ = finetune("chosen")
    line = rate_line(stdout)
    assert code == 0 and line.startswith("learning rate 0.0003: ELECTRA-Small's fine-tuning rate")
    assert "hidden size 64 matches no preset" in line and "--learning-rate sets another" in line
    metrics = json.loads((tmp_path / "chosen" / "metrics.json").read_text())
    assert metrics["learning_rate"] == 3e-4 and metrics["learning_rate_reason"] in line
    code, stdout, _ = finetune("given", "--learning-rate", "1e-3")
    assert code == 0 and rate_line(stdout) == "learning rate 0.001: given by --learning-rate"
    metrics = json.loads((tmp_path / "given" / "metrics.json").read_text())
    assert (metrics["learning_rate"], metrics["learning_rate_reason"]) == (
        1e-3,
        "given by --learning-rate",
    )


@pytest.mark.large
def test_finetune_refuses_a_used_out_directory_and_a_missing_model(tmp_path, capsys):
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("x")
    code, _, err = run_cli(
        capsys, "finetune", "--task", "sst2", "--data", tmp_path, "--model", tmp_path, "--out", used
    )
    assert code == 2 and "used" in err and "Traceback" not in err
    assert (used / "keep.txt").read_text() == "x"
    sst2 = shared_data("glue", "SST-2")
    missing = tmp_path / "no_model_here"
    code, _, err = run_cli(
        capsys,
        "finetune",
        "--task",
        "sst2",
        "--data",
        sst2,
        "--model",
        missing,
        "--out",
        tmp_path / "ft",
    )
    assert code == 2 and "no_model_here" in err


@pytest.mark.large
def test_finetune_refuses_a_max_length_past_the_position_table(pretrained, tmp_path, capsys):
    # The encoder has 128 positions: JAX would clamp the rest silently, TensorFlow fail mid-fit.
    code, _, err = run_cli(
        capsys,
        "finetune",
        "--task",
        "sst2",
        "--data",
        shared_data("glue", "SST-2"),
        "--model",
        pretrained,
        "--out",
        tmp_path / "ft",
        "--max-train-examples",
        8,
        "--max-length",
        200,
    )
    assert (
        code == 2
        and "200" in err
        and "128" in err
        and "--max-length" in err
        and "Traceback" not in err
    )
    assert not (tmp_path / "ft" / "metrics.json").exists()


@pytest.mark.large
def test_sst2_beats_the_majority_class_and_writes_every_artifact(sst2_run):
    labels = np.array(
        [int(row["label"]) for row in read_tsv(shared_data("glue", "SST-2", "dev.tsv"))]
    )
    majority = max(labels.mean(), 1 - labels.mean())
    metrics = json.loads((sst2_run / "metrics.json").read_text())
    print(f"sst2 dev accuracy {metrics['dev']['accuracy']:.4f}, majority class {majority:.4f}")
    assert metrics["task"] == "sst2" and metrics["dev_examples"] == len(labels) == 872
    assert metrics["train_examples"] == SST2_TRAIN_EXAMPLES
    assert metrics["dev"]["accuracy"] > majority + 0.05
    assert metrics["baseline"]["accuracy"] <= majority
    assert json.loads((sst2_run / "task.json").read_text()) == {"task": "sst2"}
    assert (sst2_run / "curves.png").read_bytes()[:8] == PNG_MAGIC
    with open(sst2_run / "history.csv") as f:
        history = list(csv.DictReader(f))
    assert len(history) == 2 and "loss" in history[0]
    assert float(history[-1]["loss"]) < float(history[0]["loss"])
    assert isinstance(keras.saving.load_model(sst2_run / "model.keras"), keras.Model)


@pytest.mark.large
def test_stsb_correlates_and_its_pearson_is_the_saved_models(stsb_run):
    from scipy.stats import pearsonr

    rows = read_tsv(shared_data("glue", "STS-B", "dev.tsv"))[:STSB_DEV_EXAMPLES]
    first, second = [r["sentence1"] for r in rows], [r["sentence2"] for r in rows]
    gold = np.array([float(r["score"]) for r in rows])
    metrics = json.loads((stsb_run / "metrics.json").read_text())
    print(
        f"stsb dev pearson {metrics['dev']['pearson']:.4f}, spearman {metrics['dev']['spearman']:.4f}"
    )
    assert metrics["dev_examples"] == STSB_DEV_EXAMPLES and metrics["baseline"]["score"] == 0.0
    assert metrics["dev"]["pearson"] > 0.15
    model = keras.saving.load_model(stsb_run / "model.keras")
    predictions = model.predict((first, second), batch_size=32, verbose=0)[:, 0]
    assert predictions.std() > 0  # not the constant (mean) baseline
    assert pearsonr(predictions, gold)[0] == pytest.approx(metrics["dev"]["pearson"], abs=1e-4)


@pytest.mark.large
def test_evaluate_prints_the_finetune_accuracy_and_refuses_another_task(sst2_run, capsys):
    sst2 = shared_data("glue", "SST-2")
    code, out, _ = run_cli(
        capsys, "evaluate", "--model", sst2_run, "--task", "sst2", "--data", sst2
    )
    assert code == 0
    printed = re.search(r"sst2 dev \(872 examples.*accuracy (\d\.\d{4})", out)
    assert printed, out
    metrics = json.loads((sst2_run / "metrics.json").read_text())
    assert float(printed.group(1)) == pytest.approx(metrics["dev"]["accuracy"], abs=6e-5)
    code, out, err = run_cli(
        capsys, "evaluate", "--model", sst2_run, "--task", "cola", "--data", sst2
    )
    assert code == 2 and "cola" in err and "sst2" in err and "Traceback" not in err


@pytest.mark.large
def test_predict_labels_arguments_and_stdin_as_the_model_does(sst2_run, capsys, monkeypatch):
    texts = ["a gripping , beautifully acted film .", "dull , lifeless and far too long ."]
    code, out, _ = run_cli(capsys, "predict", "--model", sst2_run, *texts)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(texts)
    for line, text in zip(lines, texts):
        assert re.fullmatch(r"[01] \((0\.[5-9]\d\d|1\.000)\)\t" + re.escape(text), line), line

    dev = [row["sentence"] for row in read_tsv(shared_data("glue", "SST-2", "dev.tsv"))[:20]]
    monkeypatch.setattr(
        sys, "stdin", io.StringIO("\n".join(dev[:10]) + "\n\n  \n" + "\n".join(dev[10:]) + "\n")
    )
    code, out, _ = run_cli(capsys, "predict", "--model", sst2_run)
    assert code == 0
    lines = out.splitlines()
    assert [line.split("\t", 1)[1] for line in lines] == dev
    model = keras.saving.load_model(sst2_run / "model.keras")
    expected = np.argmax(model.predict(dev, verbose=0), axis=-1)
    assert [int(line[0]) for line in lines] == expected.tolist()


@pytest.mark.large
def test_predict_scores_pairs_and_names_an_input_without_a_tab(stsb_run, capsys):
    pairs = [
        "a man is playing a guitar .\ta man plays the guitar .",
        "a dog runs .\tthe stock market fell .",
    ]
    code, out, _ = run_cli(capsys, "predict", "--model", stsb_run, *pairs)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    for line, pair in zip(lines, pairs):
        score, text = line.split("\t", 1)
        assert re.fullmatch(r"-?\d+\.\d{3}", score) and text == pair
    code, out, err = run_cli(capsys, "predict", "--model", stsb_run, pairs[0], "no tab in this one")
    assert code == 2 and "input 2" in err and "tab" in err and "Traceback" not in err


@pytest.mark.large
def test_fill_mask_prints_sorted_top_k_probabilities(pretrain_run, capsys):
    code, out, _ = run_cli(
        capsys, "fill-mask", "--model", pretrain_run, "--top-k", "5", "the [MASK] sat"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "the [MASK] sat" and len(lines) == 2
    assert lines[1].startswith("  [MASK] 1: ")
    guesses = re.findall(r"(\S+) (\d\.\d{3})(?:, |$)", lines[1][len("  [MASK] 1: ") :])
    assert len(guesses) == 5, lines[1]
    probabilities = [float(p) for _, p in guesses]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0 <= p <= 1 for p in probabilities) and sum(probabilities) <= 1 + 5 * 5e-4
    vocabulary = set((pretrain_run / "vocab.txt").read_text("utf-8").splitlines())
    assert all(token in vocabulary for token, _ in guesses)

    code, out, _ = run_cli(
        capsys, "fill-mask", "--model", pretrain_run, "--top-k", "3", "[MASK] cat [MASK] ."
    )
    assert code == 0 and [line[:11] for line in out.splitlines()[1:]] == [
        "  [MASK] 1:",
        "  [MASK] 2:",
    ]
    code, _, err = run_cli(capsys, "fill-mask", "--model", pretrain_run, "no mask here")
    assert code == 2 and "[MASK]" in err


@pytest.mark.large
def test_detect_prints_one_probability_per_token(pretrain_run, capsys):
    from keras_electra import ElectraTokenizer

    text = "The cat sat on a mat while birds sang loudly."
    code, out, _ = run_cli(capsys, "detect", "--model", pretrain_run, text)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == text and len(lines) == 2
    pairs = [item.rsplit(":", 1) for item in lines[1].split()]
    tokens = ElectraTokenizer.from_directory(pretrain_run).tokenize(text)
    assert [token for token, _ in pairs] == tokens
    assert all(0 <= float(p) <= 1 for _, p in pairs)


@pytest.mark.large
def test_detect_cuts_a_long_text_at_the_position_table(pretrain_run, capsys):
    from keras_electra import ElectraTokenizer
    from keras_electra.pretraining.replaced_tokens import replaced_probabilities

    pretrainer = keras.saving.load_model(pretrain_run / "pretrainer.keras", compile=False)
    tokenizer = ElectraTokenizer.from_directory(pretrain_run)
    positions = pretrainer.max_sequence_length
    text = " ".join(["the cat sat on a mat ."] * (positions // 7 + 10))
    tokens = tokenizer.tokenize(text)
    assert len(tokens) > positions
    kept = " ".join(tokens[: positions - 2])  # what fits between [CLS] and [SEP]
    code, out, _ = run_cli(capsys, "detect", "--model", pretrain_run, text, kept)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 4
    pairs = [item.rsplit(":", 1) for item in lines[1].split()]
    assert [token for token, _ in pairs] == tokens[: positions - 2]
    assert lines[1] == lines[3]
    # The long text is cut before its [SEP], not the [SEP] dropped: the discriminator sees the very same
    # input, so the same numbers (a few steps of pretraining leave the [SEP] only a ~1e-7 effect).
    long_, short = (replaced_probabilities(pretrainer, tokenizer, t) for t in (text, kept))
    assert [t for t, _ in long_] == [t for t, _ in short]
    np.testing.assert_array_equal([p for _, p in long_], [p for _, p in short])


def test_fill_mask_and_detect_name_a_missing_run(tmp_path, capsys):
    missing = tmp_path / "no_such_run"
    for command, text in (("fill-mask", "the [MASK] sat"), ("detect", "the cat sat")):
        code, _, err = run_cli(capsys, command, "--model", missing, text)
        assert code == 2 and str(missing) in err and "Traceback" not in err


@pytest.mark.large
def test_conll2003_smoke(pretrained, tmp_path, capsys):
    out = tmp_path / "conll"
    code, stdout, _ = run_cli(
        capsys,
        "finetune",
        "--task",
        "conll2003",
        "--data",
        shared_data("conll2003"),
        "--model",
        pretrained,
        "--out",
        out,
        "--max-train-examples",
        64,
        "--max-dev-examples",
        32,
        "--epochs",
        1,
        "--batch-size",
        16,
        "--max-length",
        64,
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        metrics["train_examples"] == 64
        and metrics["dev_examples"] == 32
        and metrics["baseline"] is None
    )
    assert 0 <= metrics["dev"]["entity_f1"] <= 1
    assert "entity_f1" in stdout
    code, stdout, _ = run_cli(
        capsys, "predict", "--model", out, "EU rejects German call to boycott British lamb ."
    )
    assert code == 0
    tagged = stdout.splitlines()[0].split("\t")[0].split()
    assert [
        item.rsplit("/", 1)[0] for item in tagged
    ] == "EU rejects German call to boycott British lamb .".split()
    print(
        f"conll2003 smoke: dev entity_f1 {metrics['dev']['entity_f1']:.4f}"
    )  # after the last capsys read


def squad_subset(source, article, questions):
    """SQuAD JSON of the first `questions` questions of one article of `source`."""
    paragraphs, count = [], 0
    for paragraph in source["data"][article]["paragraphs"]:
        qas = paragraph["qas"][: questions - count]
        paragraphs.append({"context": paragraph["context"], "qas": qas})
        count += len(qas)
        if count == questions:
            break
    return {
        "version": "1.1",
        "data": [{"title": source["data"][article]["title"], "paragraphs": paragraphs}],
    }


@pytest.mark.large
def test_squad_smoke(pretrained, tmp_path, capsys):
    with zipfile.ZipFile(shared_data("squad_v1.1", "dev-v1.1.json.zip")) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".json")]
        source = json.loads(archive.read(name))
    data = tmp_path / "squad"
    data.mkdir()
    # Training questions from one article, dev questions from another: the smoke run needs no real train set.
    (data / "train-v1.1.json").write_text(json.dumps(squad_subset(source, 0, 64)), encoding="utf-8")
    (data / "dev-v1.1.json").write_text(json.dumps(squad_subset(source, 1, 32)), encoding="utf-8")
    out = tmp_path / "ft"
    code, stdout, _ = run_cli(
        capsys,
        "finetune",
        "--task",
        "squad",
        "--data",
        data,
        "--model",
        pretrained,
        "--out",
        out,
        "--max-train-examples",
        64,
        "--max-dev-examples",
        32,
        "--epochs",
        1,
        "--batch-size",
        16,
        "--max-length",
        64,
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_examples"] == 64 and metrics["dev_examples"] == 32
    assert 0 <= metrics["dev"]["exact_match"] <= metrics["dev"]["f1"] <= 1
    paragraph = source["data"][1]["paragraphs"][0]
    question, context = paragraph["qas"][0]["question"], paragraph["context"]
    code, stdout, _ = run_cli(capsys, "predict", "--model", out, f"{question}\t{context}")
    assert code == 0
    answer = stdout.splitlines()[0].split("\t")[0]
    assert answer in context
    print(
        f"squad smoke: dev exact_match {metrics['dev']['exact_match']:.4f}, f1 {metrics['dev']['f1']:.4f}"
    )


@pytest.mark.large
def test_docstring_kind_needs_no_data_and_predicts_its_label_names(pretrain_run, tmp_path, capsys):
    from keras_electra.data.stdlib_corpus import DOCSTRING_KINDS, docstring_kind_task
    from keras_electra.finetuning import tasks

    (train_x, _), (dev_x, dev_y) = docstring_kind_task()
    x, y = tasks.load_split("docstring-kind", None, "train")
    assert sorted(x) == sorted(train_x) and set(y[:64]) == {
        0,
        1,
    }  # shuffled: the first 64 hold both kinds
    out = tmp_path / "ft"
    code, _, _ = run_cli(
        capsys,
        "finetune",
        "--task",
        "docstring-kind",
        "--model",
        pretrain_run,
        "--out",
        out,
        "--epochs",
        1,
        "--max-train-examples",
        64,
        "--max-dev-examples",
        50,
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    dev_x, dev_y = tasks.load_split("docstring-kind", None, "dev")
    assert metrics["baseline"]["score"] == np.mean(dev_y[:50] == np.bincount(y[:64]).argmax())
    model = keras.saving.load_model(out / "model.keras")
    assert metrics["dev"]["accuracy"] == np.mean(
        np.argmax(model.predict(dev_x[:50], verbose=0), -1) == dev_y[:50]
    )
    code, printed, _ = run_cli(capsys, "predict", "--model", out, dev_x[0])
    assert code == 0 and printed.split(" (")[0] in DOCSTRING_KINDS
    code, _, err = run_cli(
        capsys, "finetune", "--task", "sst2", "--model", pretrain_run, "--out", tmp_path / "x"
    )
    assert code == 2 and "--data: required for --task sst2" in err and not (tmp_path / "x").exists()
