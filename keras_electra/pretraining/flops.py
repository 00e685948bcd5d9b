"""Floating-point operations of one pretraining step, by objective (docs/electra.md, "Equal compute").

Counted as the matrix products of the step, the operations that dominate it and the ones
`torch.utils.flop_counter` counts: a product of an `n x k` by a `k x m` matrix is `2nkm`, and
training runs each product three times (forward, gradient of its input, gradient of its weights),
so a dense layer costs `6 x tokens x weights` and attention `3 x 4 x tokens x length x hidden` a
layer. Embedding lookups, LayerNorm, activations, softmax and sampling are left out (a few percent
of a step on a GPU, none of them a matrix product). Every product runs over all `batch x length`
slots, padding included, and the generator's head over all `max_predictions` slots of a sequence.
"""

from keras_electra.pretraining.masking import max_predictions
from keras_electra.pretraining.objectives import objective as objective_named

TRAINING_PASSES = 3  # forward, input gradients, weight gradients


def _dense(rows, inputs, outputs):
    return 2 * rows * inputs * outputs


def encoder_flops(
    tokens, length, num_layers, hidden_dim, intermediate_dim, embedding_dim, local_mixing_window=0
):
    """Forward products of an `ElectraBackbone` over `tokens` slots in sequences of `length`; its
    local mixing, a multiply-add a channel per window position, is counted as products are."""
    projection = _dense(tokens, embedding_dim, hidden_dim) if embedding_dim != hidden_dim else 0
    projection += 2 * tokens * embedding_dim * local_mixing_window
    weights = (
        4 * hidden_dim * hidden_dim + 2 * hidden_dim * intermediate_dim
    )  # Q, K, V, output; FFN
    attention = 2 * 2 * tokens * length * hidden_dim  # scores Q K^T, then probabilities times V
    return projection + num_layers * (2 * tokens * weights + attention)


def mlm_head_flops(rows, hidden_dim, embedding_dim, vocab_size):
    """Forward products of `ElectraMaskedLMHead` at `rows` positions: Dense to E, then the tied table."""
    return _dense(rows, hidden_dim, embedding_dim) + _dense(rows, embedding_dim, vocab_size)


def rtd_head_flops(rows, hidden_dim):
    """Forward products of `ElectraDiscriminatorHead`: Dense(H), then one logit."""
    return _dense(rows, hidden_dim, hidden_dim) + _dense(rows, hidden_dim, 1)


def pretraining_step_flops(config, batch_size, sequence_length):
    """Training FLOPs of one step of an `ElectraPretrainer` with this `get_config()`, by part.

    Returns:
        dict: "generator" (encoder and MLM head; 0 without one), "encoder" (the model kept),
        "encoder_head" (its objective's head) and "total".
    """
    kind = objective_named(config.get("objective", "electra"))
    tokens = batch_size * sequence_length
    chosen = batch_size * max_predictions(sequence_length, config["mask_prob"])
    width, embedding, vocab = config["hidden_dim"], config["embedding_dim"], config["vocab_size"]
    parts = {"generator": 0, "encoder": 0, "encoder_head": 0}
    if kind.generator:
        parts["generator"] = encoder_flops(
            tokens,
            sequence_length,
            config["generator_num_layers"],
            config["generator_hidden_dim"],
            config["generator_intermediate_dim"],
            embedding,
        ) + mlm_head_flops(chosen, config["generator_hidden_dim"], embedding, vocab)
    parts["encoder"] = encoder_flops(
        tokens,
        sequence_length,
        config["num_layers"],
        width,
        config["intermediate_dim"],
        embedding,
        config.get("local_mixing_window", 0),
    )
    parts["encoder_head"] = {
        "rtd": rtd_head_flops(tokens, width),
        "mlm": mlm_head_flops(chosen, width, embedding, vocab),
        "copy-mlm": mlm_head_flops(tokens, width, embedding, vocab) + rtd_head_flops(tokens, width),
    }[kind.encoder_head]
    parts = {name: TRAINING_PASSES * flops for name, flops in parts.items()}
    return {**parts, "total": sum(parts.values())}
