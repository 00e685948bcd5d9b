"""The fine-tuning tasks by name: their data, model, predictions and score.

One table for the command line and the main job, so that reading a task's
files, building its model and scoring it are decided in one place.
"""

import json
from pathlib import Path

import keras
import numpy as np

from keras_electra.data.atomic import check_keras_file
from keras_electra.data.conll import CONLL2003_TAGS, read_conll2003
from keras_electra.data.electra_tokenizer import ElectraTokenizer, check_vocabulary_fits
from keras_electra.data.glue import GLUE_TASKS, read_glue
from keras_electra.data.squad import read_squad
from keras_electra.data.stdlib_corpus import DOCSTRING_KINDS, docstring_kind_task
from keras_electra.finetuning import metrics
from keras_electra.finetuning.electra_classifier import ElectraClassifier
from keras_electra.finetuning.electra_question_answerer import ElectraQuestionAnswerer
from keras_electra.finetuning.electra_question_answerer_preprocessor import (
    ElectraQuestionAnswererPreprocessor,
)
from keras_electra.finetuning.electra_text_preprocessor import ElectraTextPreprocessor
from keras_electra.finetuning.electra_token_classifier import ElectraTokenClassifier
from keras_electra.finetuning.electra_token_classifier_preprocessor import (
    ElectraTokenClassifierPreprocessor,
)

# docstring-kind: is a standard-library docstring's first sentence a class's or a function's? Every
# Python carries its data (`docstring_kind_task`), so it needs no --data: the main job's demo task.
DOCSTRING_KIND = "docstring-kind"
TASKS = (*GLUE_TASKS, "conll2003", "squad", DOCSTRING_KIND)
# docs/electra.md, "Fine-tuning": 3 epochs, 10 for RTE and STS-B, 2 for SQuAD.
EPOCHS = {"rte": 10, "stsb": 10, "squad": 2}
CONLL_FILES = {"train": "eng.train", "dev": "eng.testa", "test": "eng.testb"}


def check_task(task):
    if task not in TASKS:
        raise ValueError(f"--task {task!r}: expected one of {', '.join(TASKS)}")
    return task


def default_sequence_length(task):
    return {"squad": 384, DOCSTRING_KIND: 64}.get(task, 128)


def needs_data(task):
    """Whether the task's examples come from files (--data); docstring-kind's come from this Python."""
    return check_task(task) != DOCSTRING_KIND


def check_data(task, data_dir, flag):
    """An error naming `flag` when a task that reads files has no data folder."""
    if needs_data(task) and data_dir is None:
        raise ValueError(f"{flag}: required for --task {task} (its folder, e.g. glue/SST-2)")


def label_names(task):
    """The class names of a classification task (None for STS-B's scores)."""
    return DOCSTRING_KINDS if task == DOCSTRING_KIND else GLUE_TASKS[task].labels


def is_paired(task):
    """Whether the task's inputs are pairs of texts."""
    return task == "squad" or (task in GLUE_TASKS and GLUE_TASKS[task].text_b is not None)


def load_split(task, data_dir, split):
    """`(x, y)` of one split in raw form: what the task model's `fit` takes.

    GLUE: texts or `(first, second)` pairs and label indices (scores for
    STS-B); CoNLL-2003: word lists and IOB2 tag lists; SQuAD:
    `(questions, contexts)` and, per question, its list of answers;
    docstring-kind: texts and label indices (`data_dir` is not read).
    """
    if not needs_data(task):
        splits = dict(zip(("train", "dev"), docstring_kind_task()))
        if split not in splits:
            raise ValueError(f"{DOCSTRING_KIND}: split {split!r}; expected one of {sorted(splits)}")
        # The task lists one kind after the other: shuffled, the first N (--max-train-examples) hold both.
        texts, labels = splits[split]
        order = np.random.default_rng(0).permutation(len(labels))
        return [texts[i] for i in order], labels[order]
    data_dir = Path(data_dir)
    if task in GLUE_TASKS:
        examples = read_glue(task, data_dir, split)
        x = examples.text_a if examples.text_b is None else (examples.text_a, examples.text_b)
        return x, None if examples.labels is None else np.asarray(examples.labels)
    if task == "conll2003":
        if split not in CONLL_FILES:
            raise ValueError(f"conll2003: split {split!r}; expected one of {sorted(CONLL_FILES)}")
        sentences = read_conll2003(data_dir / CONLL_FILES[split])
        return [s.words for s in sentences], [s.tags for s in sentences]
    examples = read_squad(_squad_file(data_dir, split))
    return ([e.question for e in examples], [e.context for e in examples]), [
        e.answers for e in examples
    ]


def _squad_file(data_dir, split):
    if data_dir.is_file():
        return data_dir
    found = sorted(data_dir.glob(f"{split}-v*.json")) + sorted(
        data_dir.glob(f"{split}-v*.json.zip")
    )
    if not found:
        raise FileNotFoundError(
            f"{data_dir}: no {split}-v*.json or {split}-v*.json.zip (SQuAD's file names)"
        )
    return found[0]


def num_classes(task):
    if task == "conll2003":
        return len(CONLL2003_TAGS)
    labels = label_names(task)
    return 1 if labels is None else len(labels)


def build_model(task, backbone, tokenizer, sequence_length=None, head="electra", seed=None):
    """The task model over `backbone`, with its preprocessor."""
    check_task(task)
    sequence_length = sequence_length or default_sequence_length(task)
    if sequence_length > backbone.max_sequence_length:
        # Past the position table, JAX would clamp the positions silently and TensorFlow fail mid-fit.
        raise ValueError(
            f"sequence length {sequence_length}: longer than the {backbone.max_sequence_length} positions "
            "of the model (its max_sequence_length); use a shorter --max-length"
        )
    if task == "squad":
        preprocessor = ElectraQuestionAnswererPreprocessor(tokenizer, sequence_length)
        return ElectraQuestionAnswerer(backbone, preprocessor, seed=seed)
    if task == "conll2003":
        preprocessor = ElectraTokenClassifierPreprocessor(
            tokenizer, sequence_length, label_names=CONLL2003_TAGS
        )
        return ElectraTokenClassifier(backbone, num_classes(task), preprocessor, seed=seed)
    preprocessor = ElectraTextPreprocessor(tokenizer, sequence_length)
    return ElectraClassifier(backbone, num_classes(task), preprocessor, head=head, seed=seed)


def training_targets(task, y):
    """SQuAD trains on each question's first answer (as BERT does); the rest train on `y`."""
    return [answers[0] for answers in y] if task == "squad" else y


def predict(task, model, x, batch_size=32):
    """Class indices, scores (STS-B), tag lists (CoNLL) or answer texts (SQuAD)."""
    if task == "squad":
        questions, contexts = x
        return [
            result["text"] for result in model.answer(questions, contexts, batch_size=batch_size)
        ]
    if task == "conll2003":
        return model.predict_tags(x, batch_size=batch_size)
    outputs = model.predict(x, batch_size=batch_size, verbose=0)
    return outputs[:, 0] if num_classes(task) == 1 else np.argmax(outputs, axis=-1)


def score(task, predictions, y):
    """The task's metrics and its headline "score" (docs/electra.md, "Fine-tuning")."""
    if task == "squad":
        gold = [[answer["text"] for answer in answers] for answers in y]
        exact, f1 = (
            metrics.squad_exact_match(predictions, gold),
            metrics.squad_f1(predictions, gold),
        )
        return {"exact_match": exact, "f1": f1, "score": (exact + f1) / 2}
    if task == "conll2003":
        # Words cut by the sequence length count as "O", so they cost recall.
        predictions = [[tag or "O" for tag in tags] for tags in predictions]
        f1 = metrics.entity_f1(predictions, y)
        return {"entity_f1": f1, "score": f1}
    if task == DOCSTRING_KIND:
        correct = metrics.accuracy(predictions, y)
        return {"accuracy": correct, "score": correct}
    return metrics.task_metrics(task, predictions, y)


def baseline(task, train_y, dev_y):
    """The score of always predicting the training set's majority class (mean, for STS-B)."""
    if task in ("squad", "conll2003"):
        return None
    train_y = np.asarray(train_y)
    if num_classes(task) == 1:
        constant = float(np.mean(train_y))
        # Correlations of a constant are undefined; a constant carries no signal, score 0.
        return {"mean_score": constant, "score": 0.0}
    majority = int(np.bincount(train_y.astype(int)).argmax())
    return {"majority_class": majority, **score(task, np.full(len(dev_y), majority), dev_y)}


def load_pretrained(path):
    """`(backbone, tokenizer)` from a pretraining run directory or a `.keras` file.

    A run directory holds `discriminator.keras`, `vocab.txt` and
    `tokenizer_config.json`; a file may be a saved discriminator backbone or
    a whole pretrainer, with `vocab.txt` beside it.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "discriminator.keras"
    if not path.is_file():
        raise FileNotFoundError(
            f"--model {path}: not found (expected a run directory or a .keras file)"
        )
    check_keras_file(path)
    model = keras.saving.load_model(path, compile=False)
    backbone = getattr(model, "discriminator", model)
    if not hasattr(backbone, "encoder_layers"):
        raise ValueError(
            f"--model {path}: holds a {type(model).__name__}, not an ELECTRA discriminator or pretrainer"
        )
    tokenizer = ElectraTokenizer.from_directory(path.parent)
    check_vocabulary_fits(tokenizer, backbone.vocab_size, f"--model {path}")
    return backbone, tokenizer


def load_finetuned(path):
    """`(task, model)` from a `finetune` output directory (or its `model.keras`)."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    model_file = directory / "model.keras" if path.is_dir() else path
    task_file = directory / "task.json"
    for required in (model_file, task_file):
        if not required.is_file():
            raise FileNotFoundError(
                f"--model {path}: {required} not found (a `keras-electra finetune` output?)"
            )
    task = check_task(json.loads(task_file.read_text("utf-8"))["task"])
    return task, keras.saving.load_model(model_file)
