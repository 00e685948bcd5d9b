"""The names the command line offers, spelled out so that parsing it imports no Keras.

The library's tables that hold them (model sizes, objectives, tasks, ...) live in modules that import
Keras, and Keras imports its backend framework. tests/test_cli_help.py checks each name here against
the table it copies.
"""

from keras_electra.data.glue import GLUE_TASKS

# keras_electra/models/presets.py SIZES, sorted.
SIZES = ("base", "large", "small", "tiny")
# keras_electra/pretraining/objectives.py OBJECTIVES, in its order.
OBJECTIVES = ("electra", "mlm", "electra-15", "replace-mlm", "all-tokens-mlm")
# keras_electra/finetuning/tasks.py TASKS and DOCSTRING_KIND.
DOCSTRING_KIND = "docstring-kind"
TASKS = (*GLUE_TASKS, "conll2003", "squad", DOCSTRING_KIND)
# keras_electra/pretraining/distribution.py KINDS.
DISTRIBUTIONS = ("none", "data", "model")
# `convert --model`: keras_electra/conversion/weight_map.py ARCHITECTURES, and the pretrainer.
MODELS = (
    "backbone",
    "pretraining",
    "generator",
    "classifier",
    "token-classifier",
    "question-answerer",
    "pretrainer",
)
