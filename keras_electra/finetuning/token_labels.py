"""Word labels <-> WordPiece tokens, for token classification (NER, chunking, POS tagging).

A sentence arrives as words with one label each; the model sees `[CLS] tokens [SEP] [PAD]...`,
where a word may be several sub-tokens. As in BERT and ELECTRA, a word's label goes on its FIRST
sub-token; every other position ([CLS], [SEP], [PAD], continuation pieces) gets `ignore_index`, so
the loss skips it. Predictions come back one per word from the same first sub-token.

Words that normalise to nothing (only control characters, zero-width or other whitespace, or,
for an uncased vocabulary, only combining accents) would give no token and silently shift every
later label. Here such a word is encoded as one [UNK] token by default (`empty_words="unk"`), so
every word keeps a position and a prediction; `empty_words="raise"` raises ValueError instead.

Truncation is at word boundaries: a word whose sub-tokens do not all fit before the final [SEP]
is dropped with every word after it, and the number of dropped words is reported.
"""

import numpy as np

EMPTY_WORD_POLICIES = ("unk", "raise")


def _check_arguments(max_length, empty_words):
    if int(max_length) < 3:
        raise ValueError(
            f"max_length must be at least 3 ([CLS], one token, [SEP]), got {max_length}"
        )
    if empty_words not in EMPTY_WORD_POLICIES:
        raise ValueError(f"empty_words must be one of {EMPTY_WORD_POLICIES}, got {empty_words!r}")


def _fill_empty_words(tokenizer, words, ids, word_ids, empty_words):
    """Token ids and word indices with one [UNK] inserted for each word that gave no token."""
    present = set(word_ids)
    empty = [index for index in range(len(words)) if index not in present]
    if not empty:
        return list(ids), list(word_ids)
    if empty_words == "raise":
        shown = ", ".join(f"{index} ({words[index]!r})" for index in empty[:5])
        raise ValueError(
            f"{len(empty)} word(s) tokenize to nothing (e.g. only control characters or whitespace): "
            f"{shown}; drop them or pass empty_words='unk' to encode each as [UNK]"
        )
    # Tokens come in word order, so each [UNK] goes before the first token of a later word.
    out_ids, out_words = [], []
    position = 0
    for word in range(len(words)):
        if word not in present:
            out_ids.append(tokenizer.unk_token_id)
            out_words.append(word)
            continue
        while position < len(word_ids) and word_ids[position] == word:
            out_ids.append(ids[position])
            out_words.append(word)
            position += 1
    return out_ids, out_words


def _pack(tokenizer, words, labels, ids, word_ids, max_length, ignore_index, empty_words):
    """One aligned example from the encoding of `words`."""
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(words):
            raise ValueError(f"{len(words)} words but {len(labels)} labels")
        for index, label in enumerate(labels):
            if not isinstance(label, (int, np.integer)) or isinstance(label, bool):
                raise TypeError(
                    f"label {index} is {label!r}: labels must be integer ids (map tag names to ids first)"
                )
            if label == ignore_index:
                raise ValueError(f"label {index} equals ignore_index ({ignore_index})")
    ids, word_ids = _fill_empty_words(tokenizer, words, ids, word_ids, empty_words)

    # Keep whole words only: cut before the first word that does not end within the budget.
    budget = max_length - 2
    kept = len(ids)
    num_words = len(words)
    if kept > budget:
        kept = budget
        while kept > 0 and word_ids[kept] == word_ids[kept - 1]:
            kept -= 1
        num_words = word_ids[kept]
    truncated = len(words) - num_words

    token_ids = np.full(max_length, tokenizer.pad_token_id, "int32")
    padding_mask = np.zeros(max_length, "int32")
    word_index = np.full(max_length, -1, "int32")
    token_ids[0] = tokenizer.cls_token_id
    token_ids[1 : kept + 1] = ids[:kept]
    token_ids[kept + 1] = tokenizer.sep_token_id
    padding_mask[: kept + 2] = 1
    word_index[1 : kept + 1] = word_ids[:kept]
    features = {
        "token_ids": token_ids,
        "segment_ids": np.zeros(max_length, "int32"),
        "padding_mask": padding_mask,
        "word_index": word_index,
        "num_truncated_words": truncated,
    }
    if labels is not None:
        label_ids = np.full(max_length, ignore_index, "int32")
        first = _first_positions(word_index)
        for word, position in first.items():
            label_ids[position] = labels[word]
        features["labels"] = label_ids
    return features


def _first_positions(word_index):
    """{word: position of its first sub-token} for a 1-D word-index array (-1 = no word)."""
    words, positions = np.unique(word_index, return_index=True)
    return {int(w): int(p) for w, p in zip(words, positions) if w >= 0}


def align_word_labels(tokenizer, words, labels, max_length, ignore_index=-100, empty_words="unk"):
    """Encode one sentence of pre-split `words` as `[CLS] tokens [SEP]` with per-token labels.

    Args:
        tokenizer: an `ElectraTokenizer`.
        words: list of str, one per word.
        labels: list of integer label ids, one per word; None at inference time.
        max_length: sequence length, [CLS] and [SEP] included; shorter sequences are padded with
            [PAD], longer ones truncated at a word boundary.
        ignore_index: the label of every position that is not a word's first sub-token.
        empty_words: "unk" encodes a word that gives no token as [UNK]; "raise" raises ValueError.

    Returns:
        dict of int32 numpy arrays of shape (max_length,): `token_ids`, `segment_ids` (all 0),
        `padding_mask` (1 on [CLS] tokens [SEP]), `word_index` (the word of each token, -1 on
        [CLS]/[SEP]/[PAD]) and, with labels, `labels`; plus `num_truncated_words` (int), the
        number of words lost to truncation (they have no label and no prediction).
    """
    _check_arguments(max_length, empty_words)
    ids, word_ids = tokenizer.encode_words(words)
    return _pack(
        tokenizer, words, labels, ids, word_ids, int(max_length), ignore_index, empty_words
    )


def align_word_labels_batch(
    tokenizer, sentences, labels=None, max_length=128, ignore_index=-100, empty_words="unk"
):
    """`align_word_labels` for a list of sentences, tokenized in parallel and stacked.

    Args:
        sentences: list of lists of words.
        labels: list of lists of integer label ids (one per word), or None.

    Returns:
        dict of int32 arrays of shape (len(sentences), max_length) (`token_ids`, `segment_ids`,
        `padding_mask`, `word_index`, and `labels` when given), plus `num_truncated_words` of
        shape (len(sentences),).
    """
    _check_arguments(max_length, empty_words)
    sentences = list(sentences)
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(sentences):
            raise ValueError(f"{len(sentences)} sentences but {len(labels)} label lists")
    encodings = tokenizer.encode_words_batch(sentences)
    examples = []
    for index, (words, (ids, word_ids)) in enumerate(zip(sentences, encodings)):
        try:
            examples.append(
                _pack(
                    tokenizer,
                    words,
                    None if labels is None else labels[index],
                    ids,
                    word_ids,
                    int(max_length),
                    ignore_index,
                    empty_words,
                )
            )
        except (ValueError, TypeError) as error:
            raise type(error)(f"sentence {index}: {error}") from None
    keys = ["token_ids", "segment_ids", "padding_mask", "word_index"]
    if labels is not None:
        keys.append("labels")
    batch = {
        key: np.stack([example[key] for example in examples])
        if examples
        else np.zeros((0, int(max_length)), "int32")
        for key in keys
    }
    batch["num_truncated_words"] = np.array(
        [example["num_truncated_words"] for example in examples], "int32"
    )
    return batch


def word_predictions(token_logits_or_ids, word_index, num_words=None, fill_value=-1):
    """One prediction per word, read from each word's first sub-token.

    Args:
        token_logits_or_ids: per-token label ids, shape (length,), or logits/probabilities, shape
            (length, num_labels) (arg-maxed over the last axis).
        word_index: the `word_index` array of `align_word_labels` (shape (length,), -1 = no word).
        num_words: the sentence's number of words; words without a token (lost to truncation) get
            `fill_value`. Default: one more than the largest word index present.
        fill_value: the prediction of a word that has no token.

    Returns:
        int numpy array of shape (num_words,).
    """
    word_index = np.asarray(word_index)
    values = np.asarray(token_logits_or_ids)
    if word_index.ndim != 1:
        raise ValueError(
            f"word_index must be 1-D, got shape {word_index.shape}; use batch_word_predictions"
        )
    if values.ndim == 2:
        values = values.argmax(axis=-1)
    elif values.ndim != 1:
        raise ValueError(
            f"expected token ids (length,) or logits (length, num_labels), got shape {values.shape}"
        )
    if values.shape[0] != word_index.shape[0]:
        raise ValueError(
            f"{values.shape[0]} token predictions but {word_index.shape[0]} word indices"
        )
    first = _first_positions(word_index)
    if num_words is None:
        num_words = max(first) + 1 if first else 0
    predictions = np.full(int(num_words), fill_value, dtype=np.int64)
    for word, position in first.items():
        if word < num_words:
            predictions[word] = values[position]
    return predictions


def batch_word_predictions(token_logits_or_ids, word_index, num_words=None, fill_value=-1):
    """`word_predictions` for a batch: shapes (batch, length[, num_labels]) and (batch, length).

    `num_words` is None or a sequence with each sentence's number of words. Returns a list of arrays.
    """
    word_index = np.asarray(word_index)
    values = np.asarray(token_logits_or_ids)
    if word_index.ndim != 2 or values.shape[0] != word_index.shape[0]:
        raise ValueError(
            f"expected batched arrays, got shapes {values.shape} and {word_index.shape}"
        )
    if num_words is None:
        num_words = [None] * len(word_index)
    return [
        word_predictions(values[row], word_index[row], num_words[row], fill_value)
        for row in range(len(word_index))
    ]


def word_tags(token_logits, word_index, sentences, label_names=None):
    """One tag per word of each sentence (a list of words), from its first sub-token's logits: its name
    in `label_names` (its index without them), or None for a word cut by the sequence length."""
    ids = batch_word_predictions(token_logits, word_index, [len(words) for words in sentences])
    return [
        [None if i < 0 else (label_names[i] if label_names else int(i)) for i in row] for row in ids
    ]
