"""Fine-tuning a task model with the reference's optimiser: one function for every caller."""

import math


from keras_electra.optimization import finetuning_optimizer


def fine_tune(model, x, y, *, epochs, learning_rate, batch_size=32, layer_decay=0.8, authors_layer_decay=False,
              callbacks=(), verbose=0):
    """Compiles `model` with `finetuning_optimizer` sized to the run and fits it on raw `x`, `y`.

    The steps of the schedule are counted after preprocessing, since a SQuAD context may give
    several windows. `layer_decay=1` (or None) turns layer-wise decay off.
    """
    x, y, weights = model.preprocess(x, y)
    steps = epochs * math.ceil(len(next(iter(x.values()))) / batch_size)
    model.compile(
        optimizer=finetuning_optimizer(
            model.backbone, learning_rate, steps, layer_decay=None if layer_decay in (None, 1) else layer_decay,
            authors_layer_decay=authors_layer_decay,
        )
    )
    return model.fit(
        x, y, sample_weight=weights, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose,
        callbacks=list(callbacks),
    )
