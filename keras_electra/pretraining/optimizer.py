"""The pretraining optimiser of docs/electra.md, "Pretraining optimisation"."""

from keras_electra.optimization import ElectraAdamW, WarmupLinearDecay
from keras_electra.optimization.electra_adamw import check_accumulation_steps


def pretraining_optimizer(
    learning_rate=5e-4,
    warmup_steps=10_000,
    total_steps=1_000_000,
    weight_decay=0.01,
    global_clipnorm=1.0,
    gradient_accumulation_steps=None,
    skip_non_finite=False,
):
    """AdamW(0.9, 0.999, eps 1e-6) with decay 0.01 except on LayerNorm and
    biases, global-norm clipping at 1.0 and `WarmupLinearDecay`.

    Defaults are ELECTRA-Small's; docs/electra.md, "Pretraining optimisation", has the other sizes'.
    Keras' AdamW corrects Adam's bias, which the authors' optimiser does not;
    under a 10,000-step warmup the two differ only while the learning rate is
    still near zero.

    `gradient_accumulation_steps=k` (None or 1: off) updates the weights once
    every k batches with the mean of their gradients (clipped after
    averaging): k batches of b examples make one update of the reference's
    batch k * b. `warmup_steps` and `total_steps` count updates, not batches
    (`ElectraAdamW` feeds the schedule the update count), so `fit` must run
    `total_steps * k` batches. Each batch is masked afresh, so the k batches
    of an update see different masks, as k slices of one big batch would.

    `skip_non_finite=True` undoes any step whose gradients hold a NaN or an
    infinity and counts it (`ElectraAdamW.skipped_steps`).
    """
    return ElectraAdamW(
        learning_rate=WarmupLinearDecay(learning_rate, warmup_steps, total_steps),
        weight_decay=weight_decay,
        global_clipnorm=global_clipnorm,
        gradient_accumulation_steps=check_accumulation_steps(gradient_accumulation_steps),
        skip_non_finite=skip_non_finite,
    )
