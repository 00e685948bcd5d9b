"""Metrics of the fine-tuning tasks: GLUE, CoNLL-2003 NER and SQuAD.

Every function takes the predictions first and the gold labels second, and returns a plain float, so
results can go straight into logs and JSON. Scores are fractions (correlations lie in [-1, 1]), not
the percentages papers print. Scoring is left to scikit-learn, SciPy and seqeval, so that results
match what others compute; only SQuAD's two scores are written here, as no maintained library offers
them offline.
"""

import collections
import re
import string

import numpy as np

from keras_electra.data.glue import glue_task
from keras_electra.extras import require


def _sklearn_metrics():
    return require("sklearn.metrics", "scoring the GLUE tasks")


def _scipy_stats():
    return require("scipy.stats", "scoring STS-B")


def softmax(scores, axis=-1):
    """Probabilities from scores along `axis`, in float64: how predictions are reported."""
    scores = np.asarray(scores, "float64")
    exponentials = np.exp(scores - scores.max(axis, keepdims=True))
    return exponentials / exponentials.sum(axis, keepdims=True)


def accuracy(predictions, labels):
    """Fraction of predicted class indices equal to their labels."""
    return float(_sklearn_metrics().accuracy_score(labels, predictions))


def f1(predictions, labels):
    """F1 of class 1 (the paraphrase/duplicate class of MRPC and QQP); 0 when neither side has a 1,
    rather than a warning, as a model can predict no positives early in fine-tuning."""
    return float(_sklearn_metrics().f1_score(labels, predictions, pos_label=1, zero_division=0.0))


def matthews_corrcoef(predictions, labels):
    """Matthews correlation (CoLA's metric): unlike accuracy, 0 for always guessing the majority class."""
    return float(_sklearn_metrics().matthews_corrcoef(labels, predictions))


def pearson(predictions, labels):
    """Pearson correlation of predicted and gold scores (STS-B); NaN when either side is constant."""
    return float(_scipy_stats().pearsonr(predictions, labels).statistic)


def spearman(predictions, labels):
    """Spearman rank correlation of predicted and gold scores (STS-B); NaN when either is constant."""
    return float(_scipy_stats().spearmanr(predictions, labels).statistic)


def entity_f1(predictions, labels):
    """Entity-level F1 over IOB2 tag sequences, one list of tags per sentence, scored like CoNLL's
    conlleval: an entity counts only with its exact span and type, so a boundary error is both a
    false positive and a false negative, and tagging the other tokens right earns nothing."""
    return float(
        require("seqeval.metrics", "scoring CoNLL-2003").f1_score(
            [list(s) for s in labels], [list(s) for s in predictions]
        )
    )


_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text):
    """SQuAD's answer normalisation, as in the official evaluate-v1.1.py, so that scores compare with
    published ones: lower-case, drop ASCII punctuation, drop the articles a/an/the, collapse spaces."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact_match(predictions, gold_answers):
    """Fraction of questions whose normalised predicted answer equals one of its gold answers.

    `gold_answers` holds one list of answer strings per question; an empty list marks an unanswerable
    SQuAD 2.0 question, which only an empty prediction gets right.
    """
    return _mean_best(_exact_match, predictions, gold_answers)


def squad_f1(predictions, gold_answers):
    """Mean over questions of the best bag-of-tokens F1 of the prediction against its gold answers,
    as in the official evaluate-v1.1.py; `gold_answers` as for `squad_exact_match`."""
    return _mean_best(_token_f1, predictions, gold_answers)


_GLUE_METRICS = {
    "accuracy": accuracy,
    "f1": f1,
    "matthews_corrcoef": matthews_corrcoef,
    "pearson": pearson,
    "spearman": spearman,
}


def task_metrics(task, predictions, labels):
    """The GLUE task's metrics, named as in `GLUE_TASKS[task].metrics`, plus "score", their mean.

    `predictions` holds one class index per example (one score for STS-B), not logits. The mean is
    the GLUE leaderboard's headline for tasks with two metrics (MRPC and QQP: accuracy and F1; STS-B:
    Pearson and Spearman); for the others it is the one metric. The ELECTRA paper instead reports
    Spearman alone for STS-B and accuracy alone for MRPC and QQP; both are in the dict as well.
    """
    spec = glue_task(task)
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.ndim != 1 or predictions.shape != labels.shape or not len(labels):
        raise ValueError(
            f"{task}: expected one prediction per label, as non-empty 1-D sequences; got shapes "
            f"{predictions.shape} and {labels.shape} (predictions are class indices, not logits)"
        )
    scores = {name: _GLUE_METRICS[name](predictions, labels) for name in spec.metrics}
    scores["score"] = float(np.mean(list(scores.values())))
    return scores


def glue_score(task, predictions, labels):
    """The single headline score of a GLUE task; see `task_metrics` for how two metrics are combined."""
    return task_metrics(task, predictions, labels)["score"]


def _exact_match(prediction, gold):
    return float(normalize_answer(prediction) == normalize_answer(gold))


def _token_f1(prediction, gold):
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    overlap = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def _mean_best(score, predictions, gold_answers):
    if len(predictions) != len(gold_answers) or not len(predictions):
        raise ValueError(
            f"expected one prediction per question, both non-empty; got {len(predictions)} "
            f"predictions and {len(gold_answers)} lists of gold answers"
        )
    best = []
    for index, (prediction, golds) in enumerate(zip(predictions, gold_answers)):
        if isinstance(golds, str):
            raise TypeError(
                f"question {index}: gold answers must be a list of strings, got one string"
            )
        if golds:
            best.append(max(score(prediction, gold) for gold in golds))
        else:
            best.append(float(normalize_answer(prediction) == ""))
    return float(np.mean(best))
