"""The pretraining losses (docs/electra.md, "Loss" and "Objectives")."""

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


def copy_mlm_loss(mlm_logits, copy_logits, input_ids, original_ids, padding_mask):
    """All-Tokens MLM's loss (paper Table 5): mean -log p(original) over all non-padding tokens.

    The paper's copy mechanism: p(x_t) = D_t 1[x_t = input_t] + (1 - D_t) softmax(mlm_logits_t)[x_t],
    with D_t = sigmoid(copy_logits_t) the probability of copying the input token.
    """
    log_softmax = ops.log_softmax(ops.cast(mlm_logits, "float32"), axis=-1)
    predicted = ops.take_along_axis(log_softmax, ops.cast(original_ids, "int32")[..., None], axis=-1)[..., 0]
    copy_logits = ops.cast(copy_logits, "float32")
    log_copy, log_generate = ops.log_sigmoid(copy_logits), ops.log_sigmoid(-copy_logits)
    copied = ops.logaddexp(log_copy, log_generate + predicted)
    log_likelihood = ops.where(ops.equal(input_ids, original_ids), copied, log_generate + predicted)
    return _weighted_mean(-log_likelihood, padding_mask)
