"""Reading the GLUE benchmark's TSV files, as packaged by GLUE's download script.

The files are tab-separated with no quoting: a sentence may hold a lone `"`, which a CSV reader would
take as the start of a quoted field and so swallow the following rows. Lines are therefore split on
tabs only, and every row must have exactly as many fields as the header (or, for CoLA's headerless
train and dev files, as CoLA's four columns). Errors name the file and the 1-based line.
"""

import math
from dataclasses import dataclass
from pathlib import Path

from keras_electra.data.text_files import MAX_LINE_CHARS, read_lines


@dataclass(frozen=True)
class GlueTask:
    """How one GLUE task lays out its files, and how it is scored.

    `splits` maps a split name to its file in the task's folder (`directory` in GLUE's layout).
    Columns are found by name in the header; `columns` names them for labelled files that have no
    header (`has_header` False, only CoLA). Test files always have a header, and no label column.
    `labels` lists the classes in class-index order, or is None for regression (STS-B), whose scores
    must lie in `score_range`. `metrics` names functions of `keras_electra.finetuning.metrics`.
    """

    directory: str
    splits: dict
    text_a: str
    text_b: str | None
    label: str
    labels: tuple | None
    has_header: bool
    metrics: tuple
    columns: tuple | None = None
    score_range: tuple | None = None


@dataclass(frozen=True)
class GlueExamples:
    """Columns of one GLUE file: `labels` is None for test files, which carry no labels."""

    text_a: list
    text_b: list | None
    labels: list | None

    def __len__(self):
        return len(self.text_a)


_SPLITS = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}
_BINARY = ("0", "1")
_ENTAILMENT = ("entailment", "not_entailment")

GLUE_TASKS = {
    "cola": GlueTask(
        "CoLA",
        _SPLITS,
        "sentence",
        None,
        "label",
        _BINARY,
        False,
        ("matthews_corrcoef",),
        columns=("source", "label", "original_label", "sentence"),
    ),
    "sst2": GlueTask("SST-2", _SPLITS, "sentence", None, "label", _BINARY, True, ("accuracy",)),
    "mrpc": GlueTask(
        "MRPC", _SPLITS, "#1 String", "#2 String", "Quality", _BINARY, True, ("accuracy", "f1")
    ),
    "stsb": GlueTask(
        "STS-B",
        _SPLITS,
        "sentence1",
        "sentence2",
        "score",
        None,
        True,
        ("pearson", "spearman"),
        score_range=(0.0, 5.0),
    ),
    "qqp": GlueTask(
        "QQP", _SPLITS, "question1", "question2", "is_duplicate", _BINARY, True, ("accuracy", "f1")
    ),
    "mnli": GlueTask(
        "MNLI",
        {
            "train": "train.tsv",
            "dev_matched": "dev_matched.tsv",
            "dev_mismatched": "dev_mismatched.tsv",
            "test_matched": "test_matched.tsv",
            "test_mismatched": "test_mismatched.tsv",
        },
        "sentence1",
        "sentence2",
        "gold_label",
        ("contradiction", "entailment", "neutral"),
        True,
        ("accuracy",),
    ),
    "qnli": GlueTask(
        "QNLI", _SPLITS, "question", "sentence", "label", _ENTAILMENT, True, ("accuracy",)
    ),
    "rte": GlueTask(
        "RTE", _SPLITS, "sentence1", "sentence2", "label", _ENTAILMENT, True, ("accuracy",)
    ),
    "wnli": GlueTask(
        "WNLI", _SPLITS, "sentence1", "sentence2", "label", _BINARY, True, ("accuracy",)
    ),
}

# MNLI has two dev and two test sets; the matched ones are the ones usually reported.
_SPLIT_ALIASES = {"mnli": {"dev": "dev_matched", "test": "test_matched"}}


def read_glue(task, data_dir, split):
    """Reads one split of a GLUE task from its folder (e.g. `glue_data/SST-2`) into columns.

    Class labels become indices into `GLUE_TASKS[task].labels`; STS-B scores become floats.
    """
    spec = glue_task(task)
    split = _SPLIT_ALIASES.get(task, {}).get(split, split)
    if split not in spec.splits:
        raise ValueError(
            f"GLUE task {task!r} has no split {split!r}; choose from {sorted(spec.splits)}"
        )
    path = Path(data_dir) / spec.splits[split]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (GLUE {task} {split} split)")
    lines = enumerate(read_lines(path, MAX_LINE_CHARS), start=1)
    is_test = split.startswith("test")
    if spec.has_header or is_test:
        columns = _read_header(path, lines, spec, is_test)
    else:
        columns = spec.columns
    text_a, text_b, labels = [], [], []
    has_labels = spec.label in columns
    for line_number, line in lines:
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise ValueError(
                f"{path}, line {line_number}: {len(fields)} tab-separated fields, expected "
                f"{len(columns)} ({', '.join(columns)})"
            )
        row = dict(zip(columns, fields))
        text_a.append(row[spec.text_a])
        if spec.text_b is not None:
            text_b.append(row[spec.text_b])
        if has_labels:
            labels.append(_parse_label(row[spec.label], spec, path, line_number))
    return GlueExamples(
        text_a=text_a,
        text_b=text_b if spec.text_b is not None else None,
        labels=labels if has_labels else None,
    )


def glue_task(task):
    """The `GlueTask` for a task name, with an error listing the known names."""
    try:
        return GLUE_TASKS[task]
    except KeyError:
        raise ValueError(f"unknown GLUE task {task!r}; choose from {sorted(GLUE_TASKS)}") from None


def _read_header(path, lines, spec, is_test):
    header = next(lines, None)
    if header is None:
        raise ValueError(f"{path}: empty file, expected a header line")
    line_number, line = header
    columns = tuple(line.split("\t"))
    wanted = [spec.text_a] + ([spec.text_b] if spec.text_b is not None else [])
    if not is_test:
        wanted.append(spec.label)
    missing = [name for name in wanted if name not in columns]
    if missing:
        raise ValueError(
            f"{path}, line {line_number}: header lacks column(s) {', '.join(map(repr, missing))}; "
            f"found {', '.join(map(repr, columns))}"
        )
    return columns


def _parse_label(text, spec, path, line_number):
    if spec.labels is not None:
        if text not in spec.labels:
            raise ValueError(
                f"{path}, line {line_number}: unknown label {text!r}; expected one of {list(spec.labels)}"
            )
        return spec.labels.index(text)
    try:
        score = float(text)
    except ValueError:
        score = math.nan
    if not math.isfinite(score):
        raise ValueError(f"{path}, line {line_number}: score {text!r} is not a finite number")
    low, high = spec.score_range or (-math.inf, math.inf)
    if not low <= score <= high:
        raise ValueError(
            f"{path}, line {line_number}: score {text!r} is outside [{low:g}, {high:g}]"
        )
    return score
