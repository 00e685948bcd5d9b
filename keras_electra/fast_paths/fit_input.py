"""What `fit` reads a `PyDataset` from: the dataset itself, and on TensorFlow a tf.data pipeline
without autotuning.

Measured (docs/performance.md, "The main job"): Keras feeds a `PyDataset` to TensorFlow as
`from_generator(...).prefetch(AUTOTUNE)`; deleting that iterator at the end of a `fit` waits for
tf.data's autotuning thread, 2.4-4.9 s each time on a 2-core machine. `fit_in_chunks` runs one
`fit` per logging interval, so the 600-step main job lost 60-80 s of its 200 s that way (and as
much again for the held-out set's iterator). `tensorflow_fit_input` gives the same batches, in
the same order, through a fixed prefetch of 2 with autotuning off: 0.0-0.2 s.
"""

import keras

from keras_electra.fast_paths import enabled_on

PREFETCH = 2  # batches read ahead: one in the step, one waiting


def plain_fit_input(dataset):
    """`dataset` as it is: Keras' own adapter reads it."""
    return dataset


def tensorflow_fit_input(dataset):
    """A `keras.utils.PyDataset` of NumPy batches, all of one shape but perhaps a shorter last one, as a
    tf.data pipeline of its batches, in order, prefetching `PREFETCH` with autotuning off."""
    import tensorflow as tf

    # Static shapes where the first and last batches agree, as Keras' adapter would trace them
    # (our datasets' batches share one size but for a shorter last one).
    first, last = dataset[0], dataset[len(dataset) - 1]
    signature = keras.tree.map_structure(
        lambda a, b: tf.TensorSpec(
            a.shape if a.shape == b.shape else (None, *a.shape[1:]), a.dtype
        ),
        first,
        last,
    )
    batches = tf.data.Dataset.from_generator(
        lambda: (dataset[index] for index in range(len(dataset))), output_signature=signature
    )
    options = tf.data.Options()
    options.autotune.enabled = False
    batches = batches.apply(tf.data.experimental.assert_cardinality(len(dataset)))
    return batches.prefetch(PREFETCH).with_options(options)


def select_fit_input(dataset):
    """How `fit` should take `dataset`: `tensorflow_fit_input` for a `PyDataset` read on the calling
    thread (Keras' workers already turn autotuning off) on TensorFlow with fast paths on, else
    `plain_fit_input`."""
    own_thread = isinstance(dataset, keras.utils.PyDataset) and not (
        dataset.workers > 1 or dataset.use_multiprocessing or len(dataset) == 0
    )
    return tensorflow_fit_input if own_thread and enabled_on("tensorflow") else plain_fit_input
