"""Filling `[MASK]`s with the generator: the pretrained MLM, made visible."""

import numpy as np
from keras import ops

MASK_TEXT = "[MASK]"


def masked_language_model(pretrainer):
    """What fills masks in a pretrainer: its generator or, for objectives without one (BERT's), its
    encoder with the encoder's MLM head; a callable of the generator's inputs."""
    if pretrainer.generator is not None:
        return pretrainer.generator

    def encoder_mlm(inputs, training=False):
        parts = {key: inputs[key] for key in ("token_ids", "segment_ids", "padding_mask")}
        sequence = pretrainer.discriminator(parts, training=training)["sequence_output"]
        return pretrainer.encoder_mlm_head(sequence, inputs["mask_positions"])

    return encoder_mlm


def fill_mask(generator, tokenizer, text, top_k=5):
    """The generator's top-k tokens and probabilities for each "[MASK]" in `text`.

    The tokenizer never turns the literal text "[MASK]" into the mask id (so
    corpus text cannot inject one); the pieces around each "[MASK]" are
    encoded separately and the id is put between them.

    Returns one list of `(token, probability)` per "[MASK]", in order.
    """
    pieces = text.split(MASK_TEXT)
    if len(pieces) < 2:
        raise ValueError(f"fill_mask: the text has no {MASK_TEXT}: {text!r}")
    ids = [tokenizer.cls_token_id]
    positions = []
    for i, piece in enumerate(pieces):
        ids.extend(tokenizer.encode(piece))
        if i < len(pieces) - 1:
            positions.append(len(ids))
            ids.append(tokenizer.mask_token_id)
    ids.append(tokenizer.sep_token_id)
    token_ids = np.array([ids], "int32")
    logits = generator(
        {
            "token_ids": token_ids,
            "segment_ids": np.zeros_like(token_ids),
            "padding_mask": np.ones_like(token_ids),
            "mask_positions": np.array([positions], "int32"),
        },
        training=False,
    )
    probs = ops.convert_to_numpy(ops.softmax(ops.cast(logits, "float32"), axis=-1))[0]
    return [
        [(tokenizer.id_to_token(t), float(row[t])) for t in np.argsort(-row)[:top_k]]
        for row in probs
    ]
