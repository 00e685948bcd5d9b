"""The discriminator's view of a text: how likely each token is to be a replacement."""

import numpy as np
from keras import ops


def replaced_probabilities(pretrainer, tokenizer, text):
    """`(token, probability replaced)` for each token of `text`, from the
    pretrainer's discriminator and its replaced-token-detection head."""
    # A text longer than the position table is cut before [SEP], which must stay last.
    tokens = tokenizer.encode(text)[: pretrainer.max_sequence_length - 2]
    ids = [tokenizer.cls_token_id, *tokens, tokenizer.sep_token_id]
    token_ids = np.array([ids], "int32")
    sequence = pretrainer.discriminator(
        {
            "token_ids": token_ids,
            "segment_ids": np.zeros_like(token_ids),
            "padding_mask": np.ones_like(token_ids),
        },
        training=False,
    )["sequence_output"]
    probs = ops.convert_to_numpy(
        ops.sigmoid(ops.cast(pretrainer.discriminator_head(sequence), "float32"))
    )[0]
    return [(tokenizer.id_to_token(t), float(p)) for t, p in zip(ids[1:-1], probs[1:-1])]
