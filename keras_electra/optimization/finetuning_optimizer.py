"""The fine-tuning optimiser of the reference (§9)."""

import math

from keras_electra.optimization.electra_adamw import ElectraAdamW, check_accumulation_steps
from keras_electra.optimization.layer_decay import check_decay, layer_decay_multipliers
from keras_electra.optimization.learning_rate_schedule import WarmupLinearDecay


def finetuning_optimizer(
    backbone,
    learning_rate,
    total_steps,
    warmup_fraction=0.1,
    layer_decay=None,
    authors_layer_decay=False,
    weight_decay=0.0,
    clipnorm=1.0,
    gradient_accumulation_steps=None,
):
    """AdamW(0.9, 0.999, eps 1e-6) for fine-tuning, reference §9.

    The learning rate warms up linearly over the first `warmup_fraction` of
    `total_steps` (10%, truncated to whole steps as the authors do) and decays
    linearly to 0 at `total_steps` (`WarmupLinearDecay`). Gradients are clipped
    to a global norm of `clipnorm` (1.0, as the authors do; None turns it
    off). Weight decay (0 in the reference) spares LayerNorm parameters and
    biases.

    With `layer_decay` (reference: 0.8, 0.9 for large), the task head keeps
    the full learning rate, encoder layer i of L gets `layer_decay ** (L + 1 - i)`
    of it and the embeddings `layer_decay ** (L + 1)`;
    `authors_layer_decay=True` adds the extra factor of the authors' code
    (see `layer_decay_multipliers`). Each multiplier scales its variable's
    weight decay too.

    Reference learning rates: 3e-4 (small), 1e-4 (base), 5e-5 (large); batch
    32; 3 epochs (10 for RTE and STS-B, 2 for SQuAD). Keras' AdamW corrects
    Adam's bias, which the authors' optimiser does not.

    Args:
        backbone: the `ElectraBackbone` being fine-tuned (or a model with one
            as its `backbone` attribute); only read when `layer_decay` is set,
            and may be None otherwise.
        learning_rate: the peak learning rate (the task head's).
        total_steps: the number of optimizer updates (training steps). With
            gradient accumulation over k batches that is the number of
            batches // k; see `gradient_accumulation_steps`.
        warmup_fraction: the fraction of `total_steps` spent warming up.
        layer_decay: None (no layer-wise decay) or a factor in (0, 1].
        authors_layer_decay: use the authors' form of layer-wise decay.
        weight_decay: decoupled weight decay rate.
        clipnorm: the global gradient norm to clip to, or None.
        gradient_accumulation_steps: None (or 1), or k >= 2: Keras'
            gradient accumulation. The optimizer then updates the weights
            once every k calls (batches), with the mean of their k gradients,
            clipped to `clipnorm` after averaging; an update on k batches of b
            examples equals one on a batch of k * b when the loss is a mean
            over equally sized batches. The schedule counts updates (see
            `ElectraAdamW`), so `total_steps` is the number of updates.
    """
    if isinstance(warmup_fraction, bool) or not (
        isinstance(warmup_fraction, (int, float)) and 0 <= warmup_fraction <= 1
    ):
        raise ValueError(f"warmup_fraction must be in [0, 1]; got warmup_fraction={warmup_fraction!r}.")
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
        raise ValueError(f"total_steps must be a positive integer; got total_steps={total_steps!r}.")
    if isinstance(learning_rate, bool) or not (
        isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0
    ):
        raise ValueError(f"learning_rate must be a positive number; got learning_rate={learning_rate!r}.")
    multipliers = None
    if layer_decay is not None:
        layer_decay = check_decay(layer_decay, "layer_decay")
        multipliers = layer_decay_multipliers(backbone, layer_decay, authors_form=authors_layer_decay)
    elif authors_layer_decay:
        raise ValueError("authors_layer_decay=True needs layer_decay (e.g. 0.8).")
    gradient_accumulation_steps = check_accumulation_steps(gradient_accumulation_steps)
    warmup_steps = int(total_steps * warmup_fraction)
    return ElectraAdamW(
        learning_rate=WarmupLinearDecay(learning_rate, warmup_steps, total_steps),
        weight_decay=weight_decay,
        global_clipnorm=clipnorm,
        learning_rate_multipliers=multipliers,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )
