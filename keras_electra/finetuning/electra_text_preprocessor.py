import os

import keras
import numpy as np

from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.finetuning.text_inputs import text_features


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTextPreprocessor(keras.layers.Layer):
    """Raw sentences or sentence pairs -> `[CLS] A [SEP] B [SEP]` model inputs.

    It runs in Python over the Rust WordPiece encoder rather than in the
    graph, so it needs no TensorFlow and works unchanged on every backend.
    It is a layer only so that a task model saves it (config + vocabulary
    asset) and `load_model` brings it back: `model.predict(["raw text"])`
    keeps working after a reload.

    Call it on a list of strings, or on a tuple `(first, second)` of two
    equally long lists for pairs. Pairs longer than `sequence_length` are cut
    from the longer side first, one token at a time (BERT's rule).

    Args:
        tokenizer: an `ElectraTokenizer`.
        sequence_length: the padded length of every example.
        lowercase: bool. Kept for configs saved before the tokenizer carried it; True.

    Example:

    ```python
    tokenizer = keras_electra.ElectraTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"])
    preprocessor = keras_electra.ElectraTextPreprocessor(tokenizer, sequence_length=8)
    features = preprocessor((["the cat"], ["sat"]))  # token_ids [[2, 5, 6, 3, 7, 3, 0, 0]], segment_ids, padding_mask
    ```
    """

    def __init__(self, tokenizer=None, sequence_length=128, lowercase=True, **kwargs):
        super().__init__(**kwargs)
        if sequence_length < 3:
            raise ValueError(
                f"sequence_length={sequence_length}: needs room for [CLS] and two [SEP]s"
            )
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.lowercase = tokenizer.lowercase if tokenizer is not None else lowercase
        self.built = True

    def __call__(self, x, y=None, sample_weight=None):
        features = text_features(self.tokenizer, x, self.sequence_length)
        if y is None and sample_weight is None:
            return features
        return keras.utils.pack_x_y_sample_weight(features, _as_array(y), sample_weight)

    def save_assets(self, dir_path):
        self.tokenizer.save_vocabulary(os.path.join(dir_path, "vocab.txt"))

    def load_assets(self, dir_path):
        self.tokenizer = ElectraTokenizer.from_vocab_file(
            os.path.join(dir_path, "vocab.txt"), self.lowercase
        )

    def get_config(self):
        config = super().get_config()
        config.update({"sequence_length": self.sequence_length, "lowercase": self.lowercase})
        return config


def _as_array(y):
    return None if y is None else np.asarray(y)
