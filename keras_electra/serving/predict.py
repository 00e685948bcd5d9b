"""`keras-electra predict --model EXPORT`: an export on raw text, printing what `predict` prints for the
`.keras` model, in a process that imports no Keras, TensorFlow, JAX or torch (for ONNX exports)."""

from pathlib import Path

import numpy as np

from keras_electra.finetuning.question_answering import decode_answers, squad_windows
from keras_electra.finetuning.text_inputs import text_features
from keras_electra.finetuning.token_labels import align_word_labels_batch, word_tags
from keras_electra.serving.layout import INPUTS, TOKENIZER_FILE, read_serving
from keras_electra.serving.predict_lines import (
    class_outputs,
    input_lines,
    parse_lines,
    print_outputs,
    score_outputs,
    tag_outputs,
)
from keras_electra.serving.runtimes import load_runtime
from keras_electra.serving.tokenizer_json import read_tokenizer_json


def outputs(serving, model, tokenizer, x):
    """The output line of each input of `x`, as `parse_lines` gives them."""
    head, max_length = serving["head"], serving["max_length"]
    if head == "question_answerer":
        qa = serving["question_answering"]
        windows = squad_windows(tokenizer, *x, max_length, qa["doc_stride"], qa["max_query_length"])
        rows = [window for example in windows for window in example]
        logits = model({name: np.stack([row[name] for row in rows]) for name in INPUTS})[0]
        return [result["text"] for result in decode_answers(logits, windows, x[1])]
    if head == "token_classifier":
        batch = align_word_labels_batch(tokenizer, x, max_length=max_length)
        logits = model(batch)[0]
        return tag_outputs(x, word_tags(logits, batch["word_index"], x, serving["label_names"]))
    logits = model(text_features(tokenizer, x, max_length))[0]
    if head == "regression":
        return score_outputs(logits[:, 0])
    return class_outputs(logits, serving["label_names"])


def run(args):
    directory = Path(args.model)
    serving = read_serving(directory)
    if serving["head"] == "encoder":
        raise ValueError(
            f"--model {directory}: an encoder's export (no task head): its outputs are vectors, "
            "not predictions; run it as docs/serving.md shows"
        )
    tokenizer = read_tokenizer_json(directory / TOKENIZER_FILE)
    model = load_runtime(directory, serving)
    lines = input_lines(args.texts)
    words = serving["head"] == "token_classifier"
    x = parse_lines(lines, words=words, paired=serving["paired"])
    print_outputs(lines, outputs(serving, model, tokenizer, x))
