"""Model sizes and their pretraining settings (docs/electra.md, "Models and sizes", "Pretraining optimisation")."""

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


def finetuning_learning_rate(hidden_dim):
    """The reference's fine-tuning learning rate of the size with this hidden width (3e-4 otherwise)."""
    for size, config in SIZES.items():
        if config["hidden_dim"] == hidden_dim:
            return FINETUNING_LEARNING_RATES[size]
    return FINETUNING_LEARNING_RATES["small"]


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
