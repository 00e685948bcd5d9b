"""The fine-tuning optimiser of docs/electra.md, "Fine-tuning"."""

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
    """AdamW(0.9, 0.999, eps 1e-6) for fine-tuning (docs/electra.md, "Fine-tuning").

    The learning rate warms up linearly over the first `warmup_fraction` of `total_steps` (truncated
    to whole steps, as the authors do) and decays linearly to 0 at `total_steps`. With `layer_decay`
    (reference: 0.8, 0.9 for large) the task head keeps the full rate, encoder layer i of L gets
    `layer_decay ** (L + 1 - i)` of it and the embeddings `layer_decay ** (L + 1)`; each multiplier
    scales its variable's weight decay too. Keras' AdamW corrects Adam's bias, which the authors'
    optimiser does not.

    Args:
        backbone: `ElectraBackbone` or a model with one as `backbone`; read only for `layer_decay`.
        learning_rate: float. The peak learning rate (the task head's).
        total_steps: int. Optimizer updates: batches // k under gradient accumulation over k.
        warmup_fraction: float in [0, 1]. The share of `total_steps` spent warming up; 0.1.
        layer_decay: None or float in (0, 1]. Layer-wise decay of the learning rate; None.
        authors_layer_decay: bool. The authors' off-by-one form (`layer_decay_multipliers`); False.
        weight_decay: float. Decoupled weight decay, sparing LayerNorm and biases; 0 as in the reference.
        clipnorm: float or None. The global gradient norm to clip to (after averaging); 1.0.
        gradient_accumulation_steps: None or int k >= 2. Update once every k batches with the mean of
            their gradients: k batches of b examples equal one batch of k * b.

    Example:

    ```python
    optimizer = keras_electra.finetuning_optimizer(backbone, 3e-4, total_steps=1000, layer_decay=0.8)
    ```
    """
    _check_schedule(learning_rate, total_steps, warmup_fraction)
    multipliers = None
    if layer_decay is not None:
        layer_decay = check_decay(layer_decay, "layer_decay")
        multipliers = layer_decay_multipliers(
            backbone, layer_decay, authors_form=authors_layer_decay
        )
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


def _check_schedule(learning_rate, total_steps, warmup_fraction):
    if isinstance(warmup_fraction, bool) or not (
        isinstance(warmup_fraction, (int, float)) and 0 <= warmup_fraction <= 1
    ):
        raise ValueError(
            f"warmup_fraction must be in [0, 1]; got warmup_fraction={warmup_fraction!r}."
        )
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
        raise ValueError(
            f"total_steps must be a positive integer; got total_steps={total_steps!r}."
        )
    if isinstance(learning_rate, bool) or not (
        isinstance(learning_rate, (int, float))
        and math.isfinite(learning_rate)
        and learning_rate > 0
    ):
        raise ValueError(
            f"learning_rate must be a positive number; got learning_rate={learning_rate!r}."
        )
