"""Texts and text pairs -> `[CLS] A [SEP] (B [SEP])` model inputs, with NumPy and the tokenizer alone.

`ElectraTextPreprocessor` calls them in Keras; `keras-electra predict` on an export calls them in a
process without Keras (keras_electra/serving/).
"""

import numpy as np


def text_features(tokenizer, x, sequence_length):
    """The padded model inputs of a list of texts, or of a tuple `(first, second)` of two lists (pairs)."""
    first, second = _split_pair(x)
    first_ids = tokenizer.encode_batch(first)
    second_ids = tokenizer.encode_batch(second) if second is not None else None
    return pack_sequences(tokenizer, first_ids, second_ids, sequence_length)


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
