"""The pretraining losses (docs/electra.md, "Loss" and "Objectives")."""

from keras import ops


def _weighted_mean(values, weights):
    weights = ops.cast(weights, "float32")
    return ops.sum(values * weights) / (ops.sum(weights) + 1e-6)


def mlm_loss(logits, labels, weights):
    """Mean cross-entropy over the chosen positions of the whole batch."""
    losses = ops.sparse_categorical_crossentropy(
        labels, ops.cast(logits, "float32"), from_logits=True
    )
    return _weighted_mean(losses, weights)


def discriminator_loss(logits, labels, weights):
    """Mean sigmoid cross-entropy over the weighted tokens: every non-padding token ([CLS], [SEP] too)
    for ELECTRA, the chosen positions only for ELECTRA 15%."""
    losses = ops.binary_crossentropy(labels, ops.cast(logits, "float32"), from_logits=True)
    return _weighted_mean(losses, weights)


def copy_mlm_loss(logits, replaced_logits, labels, corrupted_ids, weights):
    """All-Tokens MLM with the paper's copy mechanism (section 3.2): the probability of the original
    token is p = D 1[label = corrupted] + (1 - D) softmax(logits)[label], with the copy probability
    D = sigmoid(-replaced_logit) (the head's logit keeps its replaced-token meaning). Mean -log p
    over the weighted tokens; in log space, so that p near 0 or 1 stays finite. `corrupted_ids` are the
    tokens the encoder saw (the generator's samples at the chosen positions), `labels` the original ones.
    """
    log_softmax = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    log_label = ops.take_along_axis(log_softmax, ops.cast(labels, "int32")[..., None], axis=-1)[
        ..., 0
    ]
    replaced_logits = ops.cast(replaced_logits, "float32")
    generated = ops.log_sigmoid(replaced_logits) + log_label  # log((1 - D) softmax)
    copied = ops.log_sigmoid(-replaced_logits)  # log D
    log_p = ops.where(ops.equal(labels, corrupted_ids), ops.logaddexp(copied, generated), generated)
    return _weighted_mean(-log_p, weights)
