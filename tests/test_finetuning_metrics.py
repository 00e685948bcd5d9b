"""Task metrics against examples worked out by hand."""

import math

import numpy as np
import pytest
from conftest import backend_independent

from keras_electra.data.glue import GLUE_TASKS
from keras_electra.finetuning import metrics
from keras_electra.finetuning.metrics import (
    accuracy,
    entity_f1,
    f1,
    glue_score,
    matthews_corrcoef,
    normalize_answer,
    pearson,
    spearman,
    squad_exact_match,
    squad_f1,
    task_metrics,
)

pytestmark = backend_independent

# Binary example: TP = 2 (positions 0, 3), FP = 1 (1), FN = 1 (2), TN = 1 (4).
PREDICTIONS = [1, 1, 0, 1, 0]
LABELS = [1, 0, 1, 1, 0]


def test_accuracy():
    # 3 of 5 equal (positions 0, 3, 4).
    assert accuracy(PREDICTIONS, LABELS) == pytest.approx(3 / 5)
    assert isinstance(accuracy(np.array(PREDICTIONS), np.array(LABELS)), float)


def test_f1_of_the_positive_class():
    # precision = 2 / (2 + 1), recall = 2 / (2 + 1), F1 = 2PR / (P + R) = 2/3.
    assert f1(PREDICTIONS, LABELS) == pytest.approx(2 / 3)
    # Class 0 is not scored: the same errors with the classes swapped give TP = 1, FP = FN = 1: 1/2.
    assert f1([1 - p for p in PREDICTIONS], [1 - y for y in LABELS]) == pytest.approx(1 / 2)
    assert f1([0, 0], [0, 0]) == 0.0  # no positives at all: 0, not an error


def test_matthews_corrcoef():
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2*1 - 1*1) / sqrt(3*3*2*2) = 1/6.
    assert matthews_corrcoef(PREDICTIONS, LABELS) == pytest.approx(1 / 6)
    assert matthews_corrcoef([1, 1, 1, 1], [1, 1, 1, 0]) == 0.0  # majority guessing earns nothing


def test_pearson_and_spearman():
    predictions, labels = [0.0, 1.0, 2.0, 10.0], [0.0, 1.0, 3.0, 2.0]
    # Pearson: means 3.25 and 1.5; deviations (-3.25, -2.25, -1.25, 6.75) and (-1.5, -0.5, 1.5, 0.5);
    # sum of products 4.875 + 1.125 - 1.875 + 3.375 = 7.5; sums of squares 62.75 and 5;
    # r = 7.5 / sqrt(62.75 * 5).
    assert pearson(predictions, labels) == pytest.approx(7.5 / math.sqrt(62.75 * 5))
    # Spearman: ranks (1, 2, 3, 4) and (1, 2, 4, 3), d = (0, 0, -1, 1);
    # rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert spearman(predictions, labels) == pytest.approx(0.8)


def test_entity_f1_counts_a_boundary_error_as_a_false_positive_and_a_false_negative():
    labels = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predictions = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]]
    # Gold: PER[0:2], LOC[3], ORG[0]. Predicted: PER[0:1], LOC[3], ORG[0].
    # TP = 2 (LOC, ORG); the short PER is FP = 1 and the missed long PER is FN = 1, although 5 of the
    # 6 tokens are tagged right. P = 2 / (2 + 1), R = 2 / (2 + 1), F1 = 2/3.
    assert entity_f1(predictions, labels) == pytest.approx(2 / 3)
    # A type error likewise: TP = 0, FP = 1, FN = 1, F1 = 0.
    assert entity_f1([["B-MISC"]], [["B-ORG"]]) == 0.0


def test_entity_f1_is_conlleval_style():
    # conlleval starts an entity at an I- tag after O, so this prediction is right: F1 = 1.
    assert entity_f1([["O", "I-PER", "I-PER"]], [["O", "B-PER", "I-PER"]]) == 1.0


@pytest.mark.parametrize(
    "text, normalized",
    [
        ("The  Denver Broncos!", "denver broncos"),
        ("an apple, a pear and THE plum", "apple pear and plum"),
        ("theatre anthem", "theatre anthem"),  # articles only as whole words
        ("A.B.C.", "abc"),  # punctuation goes before articles are looked for
        ("rock 'n' roll", "rock n roll"),
        (
            "Broncos\u2019 win",
            "broncos\u2019 win",
        ),  # only ASCII punctuation, as in the official script
        ("  the  ", ""),
    ],
)
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


def test_squad_exact_match():
    predictions = ["the Denver Broncos", "Carolina"]
    gold = [["Denver Broncos", "Broncos"], ["Panthers", "Carolina Panthers"]]
    # 1 (equal after normalisation) and 0: mean 1/2.
    assert squad_exact_match(predictions, gold) == pytest.approx(1 / 2)


def test_squad_f1_takes_the_best_gold_answer():
    predictions = ["Denver Broncos won", "Carolina Panthers", "the the cat cat"]
    gold = [["Broncos", "the Denver Broncos"], ["Panthers"], ["a cat"]]
    # 1: against "broncos": overlap 1, P = 1/3, R = 1, F1 = 1/2; against "denver broncos": overlap 2,
    #    P = 2/3, R = 1, F1 = 2 * (2/3) / (5/3) = 4/5; the best is 4/5.
    # 2: overlap 1, P = 1/2, R = 1, F1 = 2/3.
    # 3: "cat cat" against "cat": overlap min(2, 1) = 1, P = 1/2, R = 1, F1 = 2/3.
    assert squad_f1(predictions, gold) == pytest.approx((4 / 5 + 2 / 3 + 2 / 3) / 3)
    # "santa clara" against "in santa clara california": overlap 2, P = 1, R = 1/2, F1 = 2/3.
    assert squad_f1(["Santa Clara"], [["in Santa Clara, California"]]) == pytest.approx(2 / 3)


def test_unanswerable_questions_score_only_an_empty_prediction():
    # "the" normalises to nothing, so it counts as an empty answer: scores 1, 1, 0.
    assert squad_exact_match(["", "the", "Broncos"], [[], [], []]) == pytest.approx(2 / 3)
    assert squad_f1(["", "the", "Broncos"], [[], [], []]) == pytest.approx(2 / 3)


def test_squad_scores_refuse_mismatched_inputs():
    with pytest.raises(ValueError, match="1 predictions and 2 lists"):
        squad_f1(["a"], [["a"], ["b"]])
    with pytest.raises(ValueError, match="0 predictions"):
        squad_exact_match([], [])
    with pytest.raises(TypeError, match="question 0: gold answers must be a list of strings"):
        squad_f1(["Broncos"], ["Broncos"])


def test_task_metrics_of_one_metric_tasks():
    assert task_metrics("cola", PREDICTIONS, LABELS) == pytest.approx(
        {"matthews_corrcoef": 1 / 6, "score": 1 / 6}
    )
    assert task_metrics("rte", PREDICTIONS, LABELS) == pytest.approx(
        {"accuracy": 3 / 5, "score": 3 / 5}
    )


def test_task_metrics_average_two_metrics_for_the_headline():
    # MRPC: accuracy 3/5 and F1 2/3, score (3/5 + 2/3) / 2 = 19/30.
    assert task_metrics("mrpc", PREDICTIONS, LABELS) == pytest.approx(
        {"accuracy": 3 / 5, "f1": 2 / 3, "score": 19 / 30}
    )
    assert glue_score("qqp", PREDICTIONS, LABELS) == pytest.approx(19 / 30)
    # STS-B: the Pearson and Spearman of test_pearson_and_spearman.
    r = 7.5 / math.sqrt(62.75 * 5)
    assert task_metrics("stsb", [0.0, 1.0, 2.0, 10.0], [0.0, 1.0, 3.0, 2.0]) == pytest.approx(
        {"pearson": r, "spearman": 0.8, "score": (r + 0.8) / 2}
    )


def test_every_glue_metric_has_a_function():
    for name, task in GLUE_TASKS.items():
        labels = [0.5, 1.5, 4.0, 2.0] if task.labels is None else [0, 1, 1, 0]
        scores = task_metrics(name, labels, labels)
        assert set(scores) == set(task.metrics) | {"score"}
        assert all(getattr(metrics, metric) for metric in task.metrics)
        assert scores["score"] == pytest.approx(1.0)


def test_task_metrics_refuse_logits_mismatched_lengths_and_unknown_tasks():
    with pytest.raises(ValueError, match=r"sst2: .*shapes \(2, 2\) and \(2,\).*not logits"):
        task_metrics("sst2", [[0.1, 0.9], [0.8, 0.2]], [1, 0])
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(2,\)"):
        task_metrics("sst2", [1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match=r"shapes \(0,\) and \(0,\)"):
        task_metrics("sst2", [], [])
    with pytest.raises(ValueError, match="unknown GLUE task 'squad'"):
        task_metrics("squad", [1], [1])
