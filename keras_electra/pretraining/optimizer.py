"""The pretraining optimiser of the reference (§7)."""

from keras_electra.optimization import ElectraAdamW, WarmupLinearDecay


def pretraining_optimizer(
    learning_rate=5e-4,
    warmup_steps=10_000,
    total_steps=1_000_000,
    weight_decay=0.01,
    global_clipnorm=1.0,
):
    """AdamW(0.9, 0.999, eps 1e-6) with decay 0.01 except on LayerNorm and
    biases, global-norm clipping at 1.0 and `WarmupLinearDecay`.

    Defaults are ELECTRA-Small's; `presets.TRAINING` has the other sizes'.
    Keras' AdamW corrects Adam's bias, which the authors' optimiser does not;
    under a 10,000-step warmup the two differ only while the learning rate is
    still near zero.
    """
    return ElectraAdamW(
        learning_rate=WarmupLinearDecay(learning_rate, warmup_steps, total_steps),
        weight_decay=weight_decay,
        global_clipnorm=global_clipnorm,
    )
