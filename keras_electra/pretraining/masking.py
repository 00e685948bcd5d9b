"""Dynamic masking for replaced token detection (docs/electra.md, "Masking").

Pure functions of tensors and a seed, written with `keras.ops` so the same
code runs inside a jit-compiled training step on every backend.
"""

import math

from keras import ops, random

# Share of each sequence's tokens chosen for masking: the paper's 15% (large sets 25% in its preset).
MASK_PROB = 0.15


def max_predictions(sequence_length, mask_prob):
    """N = int((mask_prob + 0.005) * max_seq_length): 19 at length 128."""
    return int((mask_prob + 0.005) * sequence_length)


def replaced_token_prior_logit(mask_prob):
    """log(p / (1 - p)) at p = mask_prob: the logit of the share of tokens the generator replaces while
    its samples rarely match the original (at initialisation nearly every chosen token), about -1.73 at
    15%. As the discriminator head's initial bias it starts at the base rate (docs/electra.md, "Local mixing")."""
    return float(math.log(mask_prob / (1 - mask_prob)))


def candidate_mask(token_ids, padding_mask, excluded_ids):
    """Positions that may be masked: real tokens that are not special."""
    candidates = ops.cast(padding_mask, "bool")
    for token_id in excluded_ids:
        candidates = ops.logical_and(candidates, ops.not_equal(token_ids, token_id))
    return candidates


def choose_positions(token_ids, padding_mask, *, mask_prob, num_predictions, excluded_ids, seed):
    """Chooses distinct positions to mask, uniformly among the candidates.

    n = max(1, min(N, round(num_tokens * mask_prob))) per sequence, with
    num_tokens the non-padding tokens, computed in float32 as the authors do.
    Taking the top N of uniform noise over the candidates is a uniformly
    random ordering of them, so its first n are a uniform subset without
    repeats (the authors sample with replacement; distinct is the intent).

    Returns:
        positions: `[B, N]` int32, 0 where unused.
        weights: `[B, N]` float32, 1 for the chosen positions. Fewer than n
            are chosen when a sequence has fewer than n candidates.
    """
    candidates = candidate_mask(token_ids, padding_mask, excluded_ids)
    num_tokens = ops.sum(ops.cast(padding_mask, "float32"), axis=-1)
    count = ops.cast(ops.round(num_tokens * mask_prob), "int32")
    count = ops.clip(count, 1, num_predictions)
    noise = random.uniform(ops.shape(candidates), seed=seed)
    noise = ops.where(candidates, noise, -1.0)
    _, positions = ops.top_k(noise, k=num_predictions)
    positions = ops.cast(positions, "int32")
    is_candidate = ops.take_along_axis(candidates, positions, axis=1)
    rank = ops.arange(num_predictions, dtype="int32")[None, :]
    chosen = ops.logical_and(rank < count[:, None], is_candidate)
    positions = ops.where(chosen, positions, 0)
    return positions, ops.cast(chosen, "float32")


def replace_at(token_ids, positions, weights, values):
    """`token_ids` with `values[b, p]` written at `positions[b, p]` where weighted.

    A one-hot product rather than a scatter: it is the same on every backend
    and cheap at N x P per sequence. Positions must be distinct where weighted.
    """
    length = ops.shape(token_ids)[1]
    hits = ops.one_hot(positions, length, dtype="int32") * ops.cast(weights, "int32")[:, :, None]
    written = ops.sum(hits * ops.cast(values, "int32")[:, :, None], axis=1)
    return ops.where(ops.sum(hits, axis=1) > 0, written, token_ids)


def chosen_token_mask(positions, weights, length):
    """`[B, length]` float32: 1 at the chosen positions, the loss weights of ELECTRA 15%."""
    hits = (
        ops.one_hot(positions, length, dtype="float32") * ops.cast(weights, "float32")[:, :, None]
    )
    return ops.minimum(ops.sum(hits, axis=1), 1.0)


def mask_tokens(
    token_ids,
    padding_mask,
    *,
    mask_token_id,
    excluded_ids,
    mask_prob=MASK_PROB,
    num_predictions,
    mask_token_rate=0.85,
    random_token_rate=0.0,
    vocab_size=None,
    seed,
):
    """The generator's input: chosen positions, 85% [MASK], 15% unchanged.

    ELECTRA gives no position a random token (the authors' 0%); BERT's
    objective (`mask_token_rate=0.8, random_token_rate=0.1`) gives 10% of
    them a token drawn uniformly from all `vocab_size` ids, as BERT's data
    code does. The model predicts the original token at every chosen position.

    Returns a dict with `token_ids` (the masked sequence), `positions`,
    `weights` and `labels` (the original ids at `positions`), each `[B, N]`
    but the first.
    """
    if random_token_rate > 0.0 and not vocab_size:
        raise ValueError("mask_tokens: random_token_rate > 0 needs the vocab_size to draw from.")
    positions, weights = choose_positions(
        token_ids,
        padding_mask,
        mask_prob=mask_prob,
        num_predictions=num_predictions,
        excluded_ids=excluded_ids,
        seed=seed,
    )
    draw = random.uniform(ops.shape(weights), seed=seed)
    values = ops.full(ops.shape(positions), mask_token_id, dtype="int32")
    replaced = draw < mask_token_rate
    if random_token_rate > 0.0:  # drawn only then, so that ELECTRA's masks stay those of its seed
        use_random = ops.logical_and(
            draw >= mask_token_rate, draw < mask_token_rate + random_token_rate
        )
        random_ids = random.randint(ops.shape(positions), 0, vocab_size, seed=seed, dtype="int32")
        values = ops.where(use_random, random_ids, values)
        replaced = ops.logical_or(replaced, use_random)
    masked = replace_at(token_ids, positions, weights * ops.cast(replaced, "float32"), values)
    labels = ops.take_along_axis(token_ids, positions, axis=1)
    return {"token_ids": masked, "positions": positions, "weights": weights, "labels": labels}
