"""Dropout, with a cheaper mask on the torch backend."""

import keras
from keras import ops


def dropout(x, rate, seed):
    """`keras.random.dropout(x, rate, seed=seed)`, drawn faster on torch.

    Keras' seeded torch dropout draws a Bernoulli variate per element from a
    tensor of probabilities and then selects with `where`; one uniform draw
    turned into a scaled 0/1 mask in place, and one product, cost about half
    as much forward and backward (`benchmarks/results/pretrain_step_cpu.md`).
    The mask is as random: P(keep) is `1 - rate` to float32 precision.
    """
    if keras.backend.backend() != "torch" or not isinstance(seed, keras.random.SeedGenerator):
        return keras.random.dropout(x, rate, seed=seed)
    import torch

    if x.device.type == "meta":  # Keras' shape inference: no generator on that device
        return x
    generator = torch.Generator(device=x.device)
    generator.manual_seed(int(ops.sum(seed.next())) & 0xFFFFFFFF)
    keep = 1.0 - rate
    mask = torch.rand(x.shape, generator=generator, device=x.device).lt_(keep).div_(keep)
    return x * mask.to(x.dtype)


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` through `dropout` (no `noise_shape`)."""

    def __init__(self, rate, seed=None, **kwargs):
        if kwargs.get("noise_shape") is not None:
            raise ValueError("ElectraDropout takes no noise_shape.")
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return dropout(inputs, self.rate, self.seed_generator)
        return inputs
