import math

import keras
import numpy as np

from keras_electra.data.epoch_permutations import EpochPermutations


class ShuffledBatches(keras.utils.PyDataset):
    """Batches of in-memory arrays in a seeded order drawn afresh for every epoch.

    Epoch `e` visits the examples in the permutation drawn from `(seed, e)`, in
    `ceil(n / batch_size)` batches (the last may be short), and batch `i`
    is batch `first_batch + i` of that endless sequence of epochs: a run
    restarted with `first_batch` = the batches it had trained on sees exactly
    the batches the uninterrupted run saw. `fit(shuffle=True)` cannot give
    that: it shuffles with an unseeded generator and always from an epoch's
    start.

    Args:
        x, y, sample_weight: arrays, or dicts / tuples of arrays (as
            `fit` takes them), with the examples on the first axis.
        batch_size: examples per batch.
        seed: the permutations' seed.
        first_batch: position of the first batch in the sequence of epochs.
        num_batches: batches to yield; default: to the end of `first_batch`'s epoch.

    Example:

    ```python
    batches = keras_electra.ShuffledBatches(x, y, batch_size=32, seed=0)
    model.fit(batches, epochs=3)
    ```
    """

    def __init__(
        self,
        x,
        y=None,
        sample_weight=None,
        *,
        batch_size=32,
        seed=0,
        first_batch=0,
        num_batches=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.parts = [
            None if part is None else keras.tree.map_structure(np.asarray, part)
            for part in (x, y, sample_weight)
        ]
        sizes = {
            len(array)
            for part in self.parts
            if part is not None
            for array in keras.tree.flatten(part)
        }
        if len(sizes) != 1:
            raise ValueError(
                f"ShuffledBatches: x, y and sample_weight hold different numbers of examples: {sizes}"
            )
        self.num_examples = sizes.pop()
        if batch_size < 1 or first_batch < 0 or self.num_examples == 0:
            raise ValueError(
                f"ShuffledBatches: batch_size={batch_size} must be >= 1, first_batch={first_batch} "
                f">= 0, and there must be examples ({self.num_examples})."
            )
        self.batch_size = batch_size
        self.seed = seed
        self.first_batch = first_batch
        self.batches_per_epoch = math.ceil(self.num_examples / batch_size)
        self.length = (
            self.batches_per_epoch - first_batch % self.batches_per_epoch
            if num_batches is None
            else num_batches
        )
        self._orders = EpochPermutations(self.num_examples, seed)

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        if not 0 <= index < self.length:
            raise IndexError(f"batch {index} of {self.length}")
        epoch, position = divmod(self.first_batch + index, self.batches_per_epoch)
        rows = self._orders(epoch)[position * self.batch_size : (position + 1) * self.batch_size]
        return keras.utils.pack_x_y_sample_weight(
            *(
                None if part is None else keras.tree.map_structure(lambda array: array[rows], part)
                for part in self.parts
            )
        )
