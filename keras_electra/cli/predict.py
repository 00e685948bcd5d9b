"""`keras-electra predict`: a fine-tuned model on raw text from the arguments or stdin."""

import sys

from keras_electra.cli.evaluate import load_finetuned
from keras_electra.finetuning import metrics, tasks


def parse(task, lines):
    """Raw model input from text lines, as the task's `fit` takes it."""
    if task == "conll2003":
        return [line.split() for line in lines]
    if not tasks.is_paired(task):
        return list(lines)
    pairs = [line.split("\t") for line in lines]
    for number, pair in enumerate(pairs, 1):
        if len(pair) != 2:
            raise ValueError(f"input {number}: expected two tab-separated texts, got {len(pair)}")
    return tuple(list(side) for side in zip(*pairs))


def run(args):
    task, model = load_finetuned(args.model)
    lines = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not lines:
        raise ValueError("no input: give texts as arguments or on stdin")
    x = parse(task, lines)
    if task == "squad":
        outputs = [result["text"] for result in model.answer(*x)]
    elif task == "conll2003":
        outputs = [
            " ".join(f"{w}/{t}" for w, t in zip(words, tags))
            for words, tags in zip(x, model.predict_tags(x))
        ]
    elif tasks.num_classes(task) == 1:
        outputs = [f"{score:.3f}" for score in model.predict(x, verbose=0)[:, 0]]
    else:
        probs = metrics.softmax(model.predict(x, verbose=0))
        names = tasks.label_names(task)
        outputs = [f"{names[i]} ({p[i]:.3f})" for i, p in zip(probs.argmax(-1), probs)]
    for line, output in zip(lines, outputs):
        print(f"{output}\t{line}")
