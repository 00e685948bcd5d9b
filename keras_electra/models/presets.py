"""Model sizes and their pretraining settings (docs/electra.md, "Models and sizes", "Pretraining optimisation")."""

import math
from typing import NamedTuple

# Discriminator sizes; the generator's are derived from them (see
# `pretrainer_config`). `tiny` is ours, for tests and demos: it keeps
# E != H so the embedding projection is exercised.
SIZES = {
    "tiny": dict(num_layers=2, hidden_dim=128, embedding_dim=64, generator_hidden_fraction=1 / 4),
    "small": dict(
        num_layers=12, hidden_dim=256, embedding_dim=128, generator_hidden_fraction=1 / 4
    ),
    "base": dict(num_layers=12, hidden_dim=768, embedding_dim=768, generator_hidden_fraction=1 / 3),
    "large": dict(
        num_layers=24,
        hidden_dim=1024,
        embedding_dim=1024,
        generator_hidden_fraction=1 / 4,
        mask_prob=0.25,
    ),
}

# The learning rate and batch `pretrain` and `compare` use when not given (docs/electra.md, "Pretraining
# optimisation", which also has each size's sequence length and steps; tiny: ours, for a demo that learns
# within minutes on a CPU).
TRAINING = {
    "tiny": dict(learning_rate=1e-3, batch_size=32),
    "small": dict(learning_rate=5e-4, batch_size=128),
    "base": dict(learning_rate=2e-4, batch_size=256),
    "large": dict(learning_rate=2e-4, batch_size=2048),
}


# docs/electra.md, "Fine-tuning" (tiny: ours, a short demo on a CPU).
FINETUNING_LEARNING_RATES = {"tiny": 1e-3, "small": 3e-4, "base": 1e-4, "large": 5e-5}

# Only the authors' sizes stand in for a width that matches none: their settings were tuned on real
# runs, tiny's only for a demo.
AUTHORS_SIZES = ("small", "base", "large")
SIZE_NAMES = {
    "tiny": "our tiny size",
    "small": "ELECTRA-Small",
    "base": "ELECTRA-Base",
    "large": "ELECTRA-Large",
}


class NearestSize(NamedTuple):
    size: str
    reason: str


def nearest_size(hidden_dim):
    """`NearestSize(size, reason)`: the size whose settings an encoder `hidden_dim` wide takes.

    A width of a size (tiny's 128 included) gives that size. Any other gives the authors' size
    (small 256, base 768, large 1024) nearest on a log scale, |log(hidden_dim / H)|, because the
    paper's rates fall roughly geometrically with width (docs/fine-tuning.md). A tie would go to the
    narrower size; whole widths never tie, as the midpoints 443.4 and 886.8 are not whole.
    """
    if hidden_dim <= 0:
        raise ValueError(f"hidden_dim={hidden_dim}: expected a positive width.")
    for size, config in SIZES.items():
        if config["hidden_dim"] == hidden_dim:
            return NearestSize(size, f"hidden size {hidden_dim} is {SIZE_NAMES[size]}'s")
    widths = [SIZES[size]["hidden_dim"] for size in AUTHORS_SIZES]
    # min keeps the first of equals: the narrower size.
    size = min(AUTHORS_SIZES, key=lambda s: abs(math.log(hidden_dim / SIZES[s]["hidden_dim"])))
    return NearestSize(
        size,
        f"hidden size {hidden_dim} matches no preset; {SIZE_NAMES[size]}'s "
        f"{SIZES[size]['hidden_dim']} is the nearest (log scale) of the authors' "
        + "/".join(map(str, widths)),
    )


def finetuning_learning_rate_choice(hidden_dim):
    """(rate, reason): the fine-tuning learning rate of `nearest_size(hidden_dim)`, and why."""
    size, reason = nearest_size(hidden_dim)
    return FINETUNING_LEARNING_RATES[size], f"{SIZE_NAMES[size]}'s fine-tuning rate ({reason})"


def finetuning_learning_rate(hidden_dim):
    """The fine-tuning learning rate of `nearest_size(hidden_dim)`."""
    return finetuning_learning_rate_choice(hidden_dim)[0]


def num_heads_for(hidden_dim):
    """heads = max(1, H // 64): head_dim 64 everywhere (docs/electra.md, "Models and sizes")."""
    return max(1, hidden_dim // 64)


def pretrainer_config(size, **overrides):
    """The `ElectraPretrainer` arguments of a size, with `overrides` applied.

    Heads, FFN width and the generator are derived after the overrides, so
    overriding `hidden_dim` alone gives a consistent model.
    """
    if size not in SIZES:
        raise ValueError(f"size={size!r}: expected one of {sorted(SIZES)}.")
    config = {**SIZES[size], **overrides}
    fraction = config.pop("generator_hidden_fraction")
    hidden_dim = config["hidden_dim"]
    config.setdefault("num_heads", num_heads_for(hidden_dim))
    config.setdefault("intermediate_dim", 4 * hidden_dim)
    config.setdefault("generator_hidden_dim", int(round(hidden_dim * fraction)))
    return config


def checked_special_token_ids(vocab_size, **token_ids):
    """The special tokens' ids by name (`pad_token_id=0, ...`), each checked to lie inside the vocabulary."""
    for name, token_id in token_ids.items():
        if not 0 <= token_id < vocab_size:
            raise ValueError(
                f"{name}={token_id} is outside the vocabulary (vocab_size={vocab_size})."
            )
    return token_ids
