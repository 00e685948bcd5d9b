"""Fine-tuning: the task models and their preprocessors (Keras), and the modules they build on that
import no Keras (packing texts into inputs, aligning word tags, decoding answers, the tasks' metrics).

The public names are imported when first asked for, not with the package: `keras-electra predict` on
an export (keras_electra/serving/) runs the Keras-free modules in a process that never imports Keras.
"""

import importlib

# public name -> its module in this package
_MODULES = {
    "ElectraClassifier": "electra_classifier",
    "ElectraQuestionAnswerer": "electra_question_answerer",
    "ElectraQuestionAnswererPreprocessor": "electra_question_answerer_preprocessor",
    "ElectraTextPreprocessor": "electra_text_preprocessor",
    "ElectraTokenClassifier": "electra_token_classifier",
    "ElectraTokenClassifierPreprocessor": "electra_token_classifier_preprocessor",
    "task_metrics": "metrics",
}


def __getattr__(name):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
