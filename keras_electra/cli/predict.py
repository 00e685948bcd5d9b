"""`keras-electra predict`: a fine-tuned model on raw text from the arguments or stdin (an export runs
through keras_electra/serving/predict.py instead, without Keras)."""

from keras_electra.cli.evaluate import load_finetuned
from keras_electra.finetuning import tasks
from keras_electra.serving.predict_lines import (
    class_outputs,
    input_lines,
    parse_lines,
    print_outputs,
    score_outputs,
    tag_outputs,
)


def run(args):
    task, model = load_finetuned(args.model)
    lines = input_lines(args.texts)
    x = parse_lines(lines, words=task == "conll2003", paired=tasks.is_paired(task))
    if task == "squad":
        outputs = [result["text"] for result in model.answer(*x)]
    elif task == "conll2003":
        outputs = tag_outputs(x, model.predict_tags(x))
    elif tasks.num_classes(task) == 1:
        outputs = score_outputs(model.predict(x, verbose=0)[:, 0])
    else:
        outputs = class_outputs(model.predict(x, verbose=0), tasks.label_names(task))
    print_outputs(lines, outputs)
