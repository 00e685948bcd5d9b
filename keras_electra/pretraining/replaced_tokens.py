"""The discriminator's view of a text: how likely each token is to be a replacement."""

import numpy as np
from keras import ops


def replaced_probabilities(pretrainer, tokenizer, text):
    """`(token, probability replaced)` for each token of `text`, from the
    pretrainer's discriminator and its replaced-token-detection head."""
    ids = [tokenizer.cls_token_id, *tokenizer.encode(text), tokenizer.sep_token_id]
    ids = ids[: pretrainer.max_sequence_length]
    token_ids = np.array([ids], "int32")
    sequence = pretrainer.discriminator(
        {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids), "padding_mask": np.ones_like(token_ids)},
        training=False,
    )["sequence_output"]
    probs = ops.convert_to_numpy(ops.sigmoid(ops.cast(pretrainer.discriminator_head(sequence), "float32")))[0]
    vocabulary = tokenizer.vocabulary
    return [(vocabulary[t], float(p)) for t, p in zip(ids[1:-1], probs[1:-1])]
