"""Fine-tuning a task model with the reference's optimiser: one function for every caller."""

import functools

import keras

from keras_electra.callbacks import PeriodicCheckpoint, fit_in_chunks, latest_checkpoint
from keras_electra.data.shuffled_batches import ShuffledBatches
from keras_electra.optimization import finetuning_optimizer
from keras_electra.optimization.electra_adamw import check_accumulation_steps


def with_dtype_policy(backbone, dtype):
    """`backbone` computing under the dtype policy `dtype` (e.g. "mixed_bfloat16"), same weights.

    A saved backbone reloads under the policy it was saved with (its config names it; the global
    policy does not override it), so fine-tuning a float32 file in mixed precision, or a mixed
    precision one in float32, needs a copy: rebuilt from its config under `dtype`, with the weights
    copied (they are float32 under every mixed policy). Returns `backbone` itself when it already
    uses `dtype`.
    """
    policy = keras.dtype_policies.get(dtype)
    if backbone.dtype_policy.name == policy.name:
        return backbone
    config = backbone.get_config()
    config["dtype"] = keras.saving.serialize_keras_object(policy)
    copy = type(backbone).from_config(config)
    copy.set_weights(backbone.get_weights())
    return copy


def fine_tune(
    model,
    x,
    y=None,
    *,
    epochs,
    learning_rate,
    batch_size=32,
    layer_decay=0.8,
    authors_layer_decay=False,
    gradient_accumulation_steps=None,
    seed=0,
    checkpoint_dir=None,
    save_every=None,
    keep_checkpoints=3,
    sample_weight=None,
    callbacks=(),
    verbose=0,
):
    """Compiles `model` with `finetuning_optimizer` sized to the run and fits it on `x`, `y`: raw
    examples (preprocessed by the model's preprocessor) or model inputs. Returns the `History` of
    the epochs this call trains.

    The schedule counts steps after preprocessing (a SQuAD context may give several windows);
    `layer_decay=1` (or None) turns layer-wise decay off. Each epoch visits the examples in an
    order drawn from `(seed, epoch)` (`ShuffledBatches`). `batch_size` is the batch of a forward
    pass; `gradient_accumulation_steps=k` makes each update average k batches' gradients
    (`compile_for_updates`). The model computes in its backbone's dtype policy (see
    `with_dtype_policy`); under "mixed_float16" `compile` adds Keras' loss scaling. `verbose` is
    `fit_in_chunks`': Keras' 0, 1 or 2, or "lines" (one plain line per epoch, for a log file).

    With `checkpoint_dir`, a checkpoint is written every `save_every` updates (default: at each
    epoch's end) and the last `keep_checkpoints` are kept (`PeriodicCheckpoint`). When the
    directory already holds a good one, the same call continues from the newest: weights,
    optimizer state (the schedule's position), seed states (dropout) and the position in the
    data, so that it ends with the weights of the uninterrupted run (bit for bit on the same
    backend and machine).
    """
    k = check_accumulation_steps(gradient_accumulation_steps) or 1
    x, y, weights = model.preprocess(x, y, sample_weight)
    data = ShuffledBatches(x, y, weights, batch_size=batch_size, seed=seed)
    batches = epochs * data.batches_per_epoch
    compile_for_updates(model, learning_rate, batches, k, layer_decay, authors_layer_decay)
    callbacks, start = list(callbacks), 0
    if checkpoint_dir is not None:
        start = restore_latest_checkpoint(model, checkpoint_dir, batches, verbose)
        every = save_every * k if save_every else data.batches_per_epoch
        callbacks.append(
            PeriodicCheckpoint(checkpoint_dir, every, keep=keep_checkpoints, initial_step=start)
        )
    slices = functools.partial(slice_of_the_run, x, y, weights, batch_size, seed)
    return fit_in_chunks(
        model,
        slices,
        batches,
        data.batches_per_epoch,
        callbacks,
        start=start,
        verbose=verbose,
    )


def slice_of_the_run(x, y, weights, batch_size, seed, first, count):
    """Batches `first` to `first + count - 1` of the run's order (`fit_in_chunks`' `batches`)."""
    return ShuffledBatches(
        x, y, weights, batch_size=batch_size, seed=seed, first_batch=first, num_batches=count
    )


def compile_for_updates(model, learning_rate, batches, k, layer_decay, authors_layer_decay):
    """Compiles `model` with `finetuning_optimizer` for the `batches // k` updates of a run of `batches`
    batches: each update averages the gradients of k batches (k * batch_size examples).
    Accumulation runs across epoch ends; batches left over after the last full group of k make no
    update."""
    updates = batches // k
    if updates < 1:
        raise ValueError(
            f"gradient_accumulation_steps={k}: more than the {batches} batches of the run make no update; "
            "lower it or the batch size"
        )
    model.compile(
        optimizer=finetuning_optimizer(
            model.backbone,
            learning_rate,
            updates,
            layer_decay=None if layer_decay in (None, 1) else layer_decay,
            authors_layer_decay=authors_layer_decay,
            gradient_accumulation_steps=k,
        )
    )


def restore_latest_checkpoint(model, checkpoint_dir, batches, verbose):
    """Loads the newest good checkpoint in `checkpoint_dir` into `model` and returns its batch, or 0
    without one. The optimizer's and the seeds' states come with the weights."""
    found = latest_checkpoint(checkpoint_dir)
    if not found:
        return 0
    model.load_weights(found[0])
    if verbose:
        print(f"resuming from {found[0]}: batch {found[1]} of {batches}")
    return found[1]
