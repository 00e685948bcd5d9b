"""`pretrain --distribution`: the set-up of one or many hosts (the flags are parsers/pretrain.py's)."""

import os
import time

import keras

from keras_electra.cli.runs import DEFAULT_OUT
from keras_electra.models.presets import pretrainer_config
from keras_electra.pretraining import distribution as distribution_lib


def set_up_distribution(args):
    """--distribution and the multi-host environment: the `keras.distribution` object, or None."""
    if args.distribution != "none" and keras.backend.backend() != "jax":
        raise ValueError(
            f"--distribution {args.distribution} needs the JAX backend (keras.distribution runs on JAX only "
            f"in Keras {keras.__version__}); KERAS_BACKEND is {keras.backend.backend()!r}"
        )
    if args.model_parallel is not None and args.distribution != "model":
        raise ValueError("--model-parallel needs --distribution model")
    if any(name in os.environ for name in distribution_lib.ENVIRONMENT):
        if args.distribution == "none":
            raise ValueError(
                "KERAS_DISTRIBUTION_* is set (a multi-host run): choose --distribution data or model"
            )
        if not args.data:
            raise ValueError(
                "a multi-host run needs --data: a data directory that every host can read"
            )
        distribution_lib.initialize_from_environment()
    if (
        args.model_parallel is not None
        and args.model_parallel > distribution_lib.local_device_count()
    ):
        raise ValueError(
            f"--model-parallel {args.model_parallel}: at most the {distribution_lib.local_device_count()} devices "
            "of one host (each process must hold a whole model replica to save checkpoints)"
        )
    distribution = distribution_lib.distribution_for(
        args.distribution, config=pretrainer_config(args.size), model_parallel=args.model_parallel
    )
    if distribution_lib.process_index() > 0:
        # Every process saves (a save takes them all); process k > 0 writes its copy to RUN-processK,
        # which also keeps a shared filesystem free of clashes and gives --resume its own checkpoints.
        out = args.out or time.strftime(DEFAULT_OUT)
        args.out = f"{out.rstrip('/')}-process{distribution_lib.process_index()}"
    return distribution
