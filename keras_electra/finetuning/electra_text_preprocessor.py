import os

import keras
import numpy as np

from keras_electra.data.electra_tokenizer import ElectraTokenizer


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
        first, second = _split_pair(x)
        first_ids = self.tokenizer.encode_batch(first)
        second_ids = self.tokenizer.encode_batch(second) if second is not None else None
        features = pack_sequences(self.tokenizer, first_ids, second_ids, self.sequence_length)
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


def _split_pair(x):
    """A tuple of two text lists is a pair task; a string or list is single sentences."""
    if isinstance(x, str):
        return [x], None
    if isinstance(x, tuple):
        if len(x) != 2:
            raise ValueError(f"sentence pairs are a tuple (first, second); got a tuple of {len(x)}")
        first, second = list(x[0]), list(x[1])
        if len(first) != len(second):
            raise ValueError(
                f"sentence pairs: {len(first)} first sentences but {len(second)} second ones"
            )
        return _strings(first), _strings(second)
    return _strings(list(x)), None


def _strings(texts):
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"text {index} is {type(text).__name__}, not a string: {text!r:.60}")
    return texts


def _as_array(y):
    return None if y is None else np.asarray(y)


def truncate_pair(first, second, max_tokens):
    """Cuts the longer of two token lists first until both fit in `max_tokens`
    (BERT's `_truncate_seq_pair`: on a tie the second loses a token)."""
    first, second = list(first), list(second)
    while len(first) + len(second) > max_tokens:
        (first if len(first) > len(second) else second).pop()
    return first, second


def pack_sequences(tokenizer, first_ids, second_ids, sequence_length):
    """`[CLS] A [SEP] (B [SEP])` rows, padded: the model inputs of a batch of texts."""
    count = len(first_ids)
    token_ids = np.full((count, sequence_length), tokenizer.pad_token_id, "int32")
    segment_ids = np.zeros((count, sequence_length), "int32")
    padding_mask = np.zeros((count, sequence_length), "int32")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    for row in range(count):
        if second_ids is None:
            a, b = first_ids[row][: sequence_length - 2], None
            ids = [cls, *a, sep]
        else:
            a, b = truncate_pair(first_ids[row], second_ids[row], sequence_length - 3)
            ids = [cls, *a, sep, *b, sep]
            segment_ids[row, len(a) + 2 : len(ids)] = 1
        token_ids[row, : len(ids)] = ids
        padding_mask[row, : len(ids)] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
