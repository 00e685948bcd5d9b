"""The model options beside --size that `pretrain` and `compare` share: departures from the paper's
architecture and initialisation, each off by default (docs/electra.md, "Local mixing")."""

from keras_electra.cli import arguments


def add_model_arguments(parser):
    """The architecture and initialisation options beside --size (docs/electra.md, "Local mixing")."""
    parser.add_argument(
        "--local-mixing",
        type=int,
        choices=(0, 3, 5, 7),
        default=0,
        metavar="W",
        help="0 (the paper's encoder) or a window of 3, 5 or 7 tokens mixed before the discriminator",
    )
    parser.add_argument(
        "--discriminator-bias",
        choices=("zero", "prior"),
        default="zero",
        help="initial bias of the replaced-token logit: 0 (the paper's) or the base rate's logit",
    )
    parser.add_argument(
        "--dropout", type=arguments.dropout_rate, default=None, help="default: 0.1 (the paper's)"
    )


def model_options(args):
    """`ElectraPretrainer` arguments of `add_model_arguments`' flags."""
    # Imported here: the parsers import this module for its flags, and parsing imports no Keras.
    from keras_electra.models.presets import pretrainer_config
    from keras_electra.pretraining.masking import MASK_PROB, replaced_token_prior_logit

    mask_prob = pretrainer_config(args.size).get("mask_prob", MASK_PROB)
    bias = replaced_token_prior_logit(mask_prob) if args.discriminator_bias == "prior" else 0.0
    options = {"local_mixing_window": args.local_mixing, "discriminator_output_bias": bias}
    return options if args.dropout is None else {**options, "dropout": args.dropout}


def architecture(pretrainer):
    """What departs from the paper's model and initialisation, for the run's description."""
    options = (
        [f"local mixing over {pretrainer.local_mixing_window} tokens"]
        if pretrainer.local_mixing_window
        else []
    )
    if pretrainer.discriminator_output_bias:
        options.append(f"replaced-token bias {pretrainer.discriminator_output_bias:.2f}")
    return "".join(f", {option}" for option in options) + f", dropout {pretrainer.dropout:g}"
