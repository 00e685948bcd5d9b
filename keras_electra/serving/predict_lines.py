"""What `keras-electra predict` reads and prints, for a `.keras` model (cli/predict.py) and for an
export (serving/predict.py) alike: one input a line, one output line each."""

import sys

from keras_electra.finetuning.metrics import softmax


def input_lines(texts):
    """The inputs: `texts` (the command's arguments), else stdin's non-blank lines."""
    lines = texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not lines:
        raise ValueError("no input: give texts as arguments or on stdin")
    return lines


def parse_lines(lines, words=False, paired=False):
    """The task's raw input, as its model's `fit` takes it: word lists (split on whitespace), a
    `(first, second)` tuple of lists (tab-separated pairs), or the lines themselves."""
    if words:
        return [line.split() for line in lines]
    if not paired:
        return list(lines)
    pairs = [line.split("\t") for line in lines]
    for number, pair in enumerate(pairs, 1):
        if len(pair) != 2:
            raise ValueError(f"input {number}: expected two tab-separated texts, got {len(pair)}")
    return tuple(list(side) for side in zip(*pairs))


def class_outputs(logits, names=None):
    """`name (probability)` of each row's most probable class (its index without `names`)."""
    probabilities = softmax(logits)
    best = probabilities.argmax(-1)
    return [f"{names[i] if names else i} ({row[i]:.3f})" for i, row in zip(best, probabilities)]


def score_outputs(scores):
    return [f"{score:.3f}" for score in scores]


def tag_outputs(sentences, tags):
    """`word/TAG` of each word."""
    return [" ".join(f"{w}/{t}" for w, t in zip(words, row)) for words, row in zip(sentences, tags)]


def print_outputs(lines, outputs):
    for line, output in zip(lines, outputs):
        print(f"{output}\t{line}")
