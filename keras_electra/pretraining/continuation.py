"""Continued pretraining from a model that holds only an encoder (docs/pretraining.md, "Continue from a
released model").

Released BERT-family encoders and fine-tuned ELECTRA discriminators come without a generator. The
pretrainer around such an encoder takes its weights as the discriminator (and its replaced-token head
when the source has one) and builds the generator fresh, at the paper's width for the nearest size
(docs/electra.md, "Models and sizes": 1/4 of the discriminator's for small and large, 1/3 for base),
tied to the encoder's embeddings as in the authors' pretraining (docs/electra.md, "Weight sharing").
"""

from keras_electra.models.presets import num_heads_for, pretrainer_config
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer

# What a pretrainer takes from the encoder it continues.
ENCODER_SIZES = (
    "vocab_size",
    "num_layers",
    "hidden_dim",
    "embedding_dim",
    "num_heads",
    "intermediate_dim",
    "max_sequence_length",
    "num_segments",
    "layer_norm_epsilon",
    "local_mixing_window",
)
# Continued pretraining warms the fresh optimiser up over this share of the run's steps, as domain-
# adaptive pretraining did (Gururangan et al., 2020; docs/pretraining.md, "Continue from a released model").
CONTINUED_WARMUP_FRACTION = 0.06


def generator_config(encoder, size):
    """The pretrainer arguments of a fresh generator beside `encoder` (an `ElectraBackbone`), at `size`'s
    generator fraction; a ValueError when no whole number of heads divides that width."""
    config = pretrainer_config(size, **{name: getattr(encoder, name) for name in ENCODER_SIZES})
    width = config["generator_hidden_dim"]
    heads = num_heads_for(width)
    if width % heads:
        raise ValueError(
            f"the paper's generator for a {encoder.hidden_dim}-wide encoder ({size}'s fraction) is {width} "
            f"wide, which its {heads} attention heads of 64 do not divide"
        )
    return config


def pretrainer_around(encoder, size, discriminator_head=None, dropout=None, **arguments):
    """An `ElectraPretrainer` whose discriminator has `encoder`'s weights (and `discriminator_head`'s, when
    given; else a fresh head) and whose generator is new (`generator_config`).

    `dropout` defaults to the encoder's; `arguments` are any other `ElectraPretrainer` argument
    (objective, seed, special-token ids, dtype).
    """
    config = generator_config(encoder, size)
    rate = encoder.dropout if dropout is None else dropout
    pretrainer = ElectraPretrainer(**config, dropout=rate, **arguments)
    copy_weights(encoder, pretrainer.discriminator)
    if discriminator_head is not None and pretrainer.discriminator_head is not None:
        copy_weights(discriminator_head, pretrainer.discriminator_head)
    return pretrainer


def copy_weights(source, target):
    """`target`'s weights set to `source`'s, which must have the same layout (the same class and sizes)."""
    values = source.get_weights()
    shapes = [tuple(weight.shape) for weight in target.weights]
    if [value.shape for value in values] != shapes:
        raise ValueError(f"{source.name} and {target.name} hold different weights")
    target.set_weights(values)
