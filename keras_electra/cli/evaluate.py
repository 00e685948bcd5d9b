"""`keras-electra evaluate`: a fine-tuned model's score on a task split."""

import time
from pathlib import Path

from keras_electra.data.atomic import check_keras_file
from keras_electra.finetuning import tasks


def load_finetuned(model):
    """`tasks.load_finetuned(model)`, where a truncated model.keras is an error saying so."""
    path = Path(model)
    check_keras_file(path / "model.keras" if path.is_dir() else path)
    return tasks.load_finetuned(model)


def run(args):
    trained_on, model = load_finetuned(args.model)
    if trained_on != args.task:
        raise ValueError(
            f"--model {args.model} was fine-tuned on {trained_on}, not --task {args.task}"
        )
    tasks.check_data(args.task, args.data, "--data")
    x, y = tasks.load_split(args.task, args.data, args.split)
    if y is None:
        raise ValueError(
            f"--data {args.data}: the {args.split} split has no labels to score against"
        )
    start = time.time()
    scores = tasks.score(args.task, tasks.predict(args.task, model, x, args.batch_size), y)
    print(
        f"{args.task} {args.split} ({len(y):,} examples, {time.time() - start:.0f} s): "
        + ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
    )
