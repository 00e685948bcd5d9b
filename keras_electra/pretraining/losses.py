"""The joint ELECTRA objective (docs/electra.md, "Loss")."""

from keras import ops


def _weighted_mean(values, weights):
    weights = ops.cast(weights, "float32")
    return ops.sum(values * weights) / (ops.sum(weights) + 1e-6)


def mlm_loss(logits, labels, weights):
    """Mean cross-entropy over the chosen positions of the whole batch."""
    losses = ops.sparse_categorical_crossentropy(labels, ops.cast(logits, "float32"), from_logits=True)
    return _weighted_mean(losses, weights)


def discriminator_loss(logits, labels, padding_mask):
    """Mean sigmoid cross-entropy over all non-padding tokens ([CLS], [SEP] too)."""
    losses = ops.binary_crossentropy(labels, ops.cast(logits, "float32"), from_logits=True)
    return _weighted_mean(losses, padding_mask)

