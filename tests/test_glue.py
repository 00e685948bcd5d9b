"""GLUE TSV reading: crafted files for each layout and failure, then the real shared files."""

import csv

import pytest
from conftest import backend_independent, shared_data

from keras_electra.data.glue import GLUE_TASKS, read_glue

pytestmark = backend_independent


def write_tsv(folder, name, rows, bom=False, newline="\n"):
    """Writes rows (lists of fields) as a GLUE-style TSV, without any quoting."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join("\t".join(row) + newline for row in rows)
    (folder / name).write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return folder / name


def test_sst2_header_bom_and_a_lone_quote_that_csv_quoting_would_swallow(tmp_path):
    rows = [
        ["sentence", "label"],
        ['" opens a quote', "1"],
        ["a dull film", "0"],
        ['the " bit is fine ', "1"],
    ]
    path = write_tsv(tmp_path, "train.tsv", rows, bom=True)
    with open(path, encoding="utf-8-sig", newline="") as f:
        assert len(list(csv.reader(f, delimiter="\t"))) < len(rows)  # what default quoting does

    data = read_glue("sst2", tmp_path, "train")
    assert data.text_a == ['" opens a quote', "a dull film", 'the " bit is fine ']
    assert data.text_b is None
    assert data.labels == [1, 0, 1]
    assert len(data) == 3


def test_cola_has_no_header_and_four_columns(tmp_path):
    rows = [
        ["gj04", "1", "", "The sailors rode the breeze."],
        ["gj04", "0", "*", "Rope the stretch made."],
    ]
    write_tsv(tmp_path, "dev.tsv", rows)
    data = read_glue("cola", tmp_path, "dev")
    assert data.text_a == ["The sailors rode the breeze.", "Rope the stretch made."]
    assert data.labels == [1, 0]


def test_cola_test_file_has_a_header_and_no_labels(tmp_path):
    write_tsv(tmp_path, "test.tsv", [["index", "sentence"], ["0", "Bill whistled past the house."]])
    data = read_glue("cola", tmp_path, "test")
    assert data.text_a == ["Bill whistled past the house."]
    assert data.labels is None


def test_mrpc_pairs_with_bom_and_quality_label(tmp_path):
    rows = [
        ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
        ["1", "702876", "702977", 'He said "yes".', "He agreed."],
    ]
    write_tsv(tmp_path, "train.tsv", rows, bom=True)
    data = read_glue("mrpc", tmp_path, "train")
    assert (data.text_a, data.text_b, data.labels) == (['He said "yes".'], ["He agreed."], [1])


def test_stsb_scores_are_floats(tmp_path):
    header = ["index", "genre", "filename", "year", "old_index", "source1", "source2"]
    header += ["sentence1", "sentence2", "score"]
    rows = [
        header,
        ["0", "main", "MSRvid", "2012", "0001", "none", "none", "A b.", "A c.", "3.800"],
    ]
    write_tsv(tmp_path, "dev.tsv", rows)
    data = read_glue("stsb", tmp_path, "dev")
    assert data.labels == [3.8]
    assert isinstance(data.labels[0], float)


def test_mnli_dev_means_dev_matched_and_the_label_is_the_last_column(tmp_path):
    header = ["index", "promptID", "pairID", "genre", "s1_bin", "s2_bin", "s1_parse", "s2_parse"]
    header += [
        "sentence1",
        "sentence2",
        "label1",
        "label2",
        "label3",
        "label4",
        "label5",
        "gold_label",
    ]
    row = ["0", "1", "2", "fiction", "(", "(", "(", "(", "P.", "H.", "neutral", "neutral"]
    row += ["entailment", "neutral", "neutral", "neutral"]
    write_tsv(tmp_path, "dev_matched.tsv", [header, row])
    write_tsv(tmp_path, "test_mismatched.tsv", [header[:10], row[:10]])
    data = read_glue("mnli", tmp_path, "dev")
    assert (data.text_a, data.text_b, data.labels) == (["P."], ["H."], [2])
    assert GLUE_TASKS["mnli"].labels[2] == "neutral"
    assert read_glue("mnli", tmp_path, "test_mismatched").labels is None


def test_qqp_train_and_test_layouts(tmp_path):
    header = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    write_tsv(tmp_path, "train.tsv", [header, ["7", "1", "2", "Why?", "How?", "0"]])
    write_tsv(tmp_path, "test.tsv", [["id", "question1", "question2"], ["0", "Who?", "What?"]])
    train = read_glue("qqp", tmp_path, "train")
    assert (train.text_a, train.text_b, train.labels) == (["Why?"], ["How?"], [0])
    test = read_glue("qqp", tmp_path, "test")
    assert (test.text_a, test.text_b, test.labels) == (["Who?"], ["What?"], None)


@pytest.mark.parametrize(
    "task, columns, label, index",
    [
        ("qnli", ["index", "question", "sentence", "label"], "not_entailment", 1),
        ("rte", ["index", "sentence1", "sentence2", "label"], "entailment", 0),
        ("wnli", ["index", "sentence1", "sentence2", "label"], "1", 1),
    ],
)
def test_sentence_pair_tasks_with_an_index_column(tmp_path, task, columns, label, index):
    write_tsv(tmp_path, "train.tsv", [columns, ["0", "first", "second", label]])
    data = read_glue(task, tmp_path, "train")
    assert (data.text_a, data.text_b, data.labels) == (["first"], ["second"], [index])


def test_crlf_line_endings_stay_out_of_the_last_field_and_a_lone_cr_splits_nothing(tmp_path):
    rows = [["sentence", "label"], ["odd\rbreak", "1"], ["fine", "0"]]
    write_tsv(tmp_path, "train.tsv", rows, newline="\r\n")
    data = read_glue("sst2", tmp_path, "train")
    assert data.text_a == ["odd\rbreak", "fine"]
    assert data.labels == [1, 0]


SST2_HEADER = ["sentence", "label"]


@pytest.mark.parametrize(
    "task, rows, message",
    [
        (
            "sst2",
            [SST2_HEADER, ["good", "1"], ["no label here"]],
            r"train\.tsv, line 3: 1 tab-separated",
        ),
        ("sst2", [SST2_HEADER, ["good", "1"], ["bad", "1", "extra"]], r"train\.tsv, line 3: 3 tab"),
        (
            "sst2",
            [SST2_HEADER, ["good", "positive"]],
            r"train\.tsv, line 2: unknown label 'positive'",
        ),
        (
            "rte",
            [["index", "sentence1", "sentence2", "label"], ["0", "a", "b", "maybe"]],
            r"line 2: unknown",
        ),
        (
            "cola",
            [["gj04", "1", "", "Fine."], ["gj04", "1", "No column 3."]],
            r"train\.tsv, line 2: 3 tab",
        ),
        ("sst2", [SST2_HEADER, ["good", "1"], [""]], r"train\.tsv, line 3: 1 tab"),
        (
            "sst2",
            [["text", "label"], ["good", "1"]],
            r"train\.tsv, line 1: header lacks column\(s\) 'sent",
        ),
        ("sst2", [], r"train\.tsv: empty file, expected a header"),
    ],
)
def test_malformed_rows_name_the_file_and_line(tmp_path, task, rows, message):
    write_tsv(tmp_path, "train.tsv", rows)
    with pytest.raises(ValueError, match=message):
        read_glue(task, tmp_path, "train")


@pytest.mark.parametrize("score", ["high", "nan", ""])
def test_stsb_rejects_a_score_that_is_not_a_finite_number(tmp_path, score):
    header = ["index", "genre", "filename", "year", "old_index", "source1", "source2"]
    header += ["sentence1", "sentence2", "score"]
    write_tsv(tmp_path, "train.tsv", [header, ["0", "g", "f", "y", "i", "s", "s", "a", "b", score]])
    with pytest.raises(
        ValueError, match=rf"train\.tsv, line 2: score '{score}' is not a finite number"
    ):
        read_glue("stsb", tmp_path, "train")


def test_invalid_utf8_names_the_line(tmp_path):
    (tmp_path / "train.tsv").write_bytes(b"sentence\tlabel\ngood\t1\nbad \xff\t0\n")
    with pytest.raises(ValueError, match=r"train\.tsv, line 3: not valid UTF-8"):
        read_glue("sst2", tmp_path, "train")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere[/\\]dev\.tsv"):
        read_glue("rte", tmp_path / "nowhere", "dev")


def test_unknown_task_or_split(tmp_path):
    with pytest.raises(ValueError, match="unknown GLUE task 'sst-2'"):
        read_glue("sst-2", tmp_path, "train")
    with pytest.raises(ValueError, match="no split 'dev_matched'"):
        read_glue("sst2", tmp_path, "dev_matched")


def test_glue_tasks_describe_all_nine_tasks():
    assert sorted(GLUE_TASKS) == [
        "cola",
        "mnli",
        "mrpc",
        "qnli",
        "qqp",
        "rte",
        "sst2",
        "stsb",
        "wnli",
    ]
    assert GLUE_TASKS["stsb"].labels is None
    assert GLUE_TASKS["cola"].has_header is False
    assert all(task.has_header for name, task in GLUE_TASKS.items() if name != "cola")
    assert GLUE_TASKS["cola"].metrics == ("matthews_corrcoef",)
    assert GLUE_TASKS["stsb"].metrics == ("pearson", "spearman")
    assert GLUE_TASKS["mrpc"].metrics == GLUE_TASKS["qqp"].metrics == ("accuracy", "f1")


@pytest.mark.large
@pytest.mark.parametrize(
    "task, split, rows",
    [
        ("sst2", "train", 67_349),
        ("sst2", "dev", 872),
        ("sst2", "test", 1_821),
        ("cola", "train", 8_551),
        ("cola", "dev", 1_043),
        ("cola", "test", 1_063),
        ("rte", "train", 2_490),
        ("rte", "dev", 277),
        ("rte", "test", 3_000),
        ("stsb", "train", 5_749),
        ("stsb", "dev", 1_500),
        ("stsb", "test", 1_379),
    ],
)
def test_real_glue_row_counts_match_the_readme(task, split, rows):
    spec = GLUE_TASKS[task]
    data = read_glue(task, shared_data("glue", spec.directory), split)
    assert len(data) == rows
    assert all(isinstance(text, str) and text for text in data.text_a)
    if spec.text_b is not None:
        assert len(data.text_b) == rows
    if split == "test":
        assert data.labels is None
    elif spec.labels is None:
        assert all(0.0 <= score <= 5.0 for score in data.labels)
    else:
        assert set(data.labels) == set(range(len(spec.labels)))


@pytest.mark.large
def test_real_glue_first_rows():
    sst2 = read_glue("sst2", shared_data("glue", "SST-2"), "dev")
    assert (sst2.text_a[0], sst2.labels[0]) == (
        "it 's a charming and often affecting journey . ",
        1,
    )
    rte = read_glue("rte", shared_data("glue", "RTE"), "dev")
    assert rte.text_b[0] == "Christopher Reeve had an accident."
    assert GLUE_TASKS["rte"].labels[rte.labels[0]] == "not_entailment"
    stsb = read_glue("stsb", shared_data("glue", "STS-B"), "dev")
    assert (stsb.text_a[0], stsb.text_b[0], stsb.labels[0]) == (
        "A man with a hard hat is dancing.",
        "A man wearing a hard hat is dancing.",
        5.0,
    )
