import math

import keras
import numpy as np

from keras_electra.data.epoch_permutations import EpochPermutations
from keras_electra.data.shards import open_shards, read_manifest, segment_ids_and_mask


class PretrainingDataset(keras.utils.PyDataset):
    """Batches of a data directory's examples, as `fit` takes them on every backend.

    The examples form an endless sequence of epochs, each a permutation of
    the split drawn from `(seed, epoch)`; batch `i` holds positions
    `start_example + i * batch_size` onwards of that sequence. A run that
    restarts with `start_example` = the examples it had consumed therefore
    sees exactly the batches it would have seen. Shards are memory-mapped,
    so a batch costs a gather of `batch_size` rows and no parsing.

    Args:
        data_dir: a directory written by `build_pretraining_data`.
        batch_size: examples per batch.
        num_batches: batches to yield, wrapping into further epochs as needed;
            default one pass over the split, whose last batch may be short.
        split: "train" or "heldout".
        shuffle: permute each epoch; without it the order is the files'.
        seed: the permutations' seed.
        start_example: position in the example sequence of the first batch.
        num_shards, shard_index: this process's part of every batch, for
            training on several processes (`keras_electra.process_shard()`):
            batch `i` holds rows `shard_index * batch_size // num_shards`
            onwards of global batch `i` (`batch_size` is the global batch
            and must be a multiple of `num_shards`), so the processes together
            see exactly the batches of one process.
        drop_remainder: in one pass (`num_batches=None`), leave out the last
            batch when it is short (a distributed step needs a batch that splits
            evenly over the devices).

    Example:

    ```python
    train = keras_electra.PretrainingDataset("data/", batch_size=32, num_batches=1000, seed=0)
    heldout = keras_electra.PretrainingDataset("data/", batch_size=32, split="heldout", shuffle=False)
    pretrainer.fit(train, validation_data=heldout)
    ```
    """

    def __init__(
        self,
        data_dir,
        batch_size,
        *,
        num_batches=None,
        split="train",
        shuffle=True,
        seed=0,
        start_example=0,
        num_shards=1,
        shard_index=0,
        drop_remainder=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.manifest = read_manifest(data_dir)
        self.shards = open_shards(data_dir, split, self.manifest)
        self.offsets = np.cumsum([0] + [len(shard) for shard in self.shards])
        self.num_examples = int(self.offsets[-1])
        if self.num_examples == 0:
            raise ValueError(f"{data_dir}: the {split!r} split has no examples.")
        if batch_size < 1 or start_example < 0:
            raise ValueError(
                f"batch_size={batch_size} must be >= 1 and start_example={start_example} >= 0."
            )
        if num_shards < 1 or not 0 <= shard_index < num_shards or batch_size % num_shards:
            raise ValueError(
                f"shard_index={shard_index} of num_shards={num_shards}: need 0 <= shard_index < num_shards "
                f"and batch_size={batch_size} a multiple of num_shards."
            )
        self.batch_size = batch_size
        self.num_shards = num_shards
        self.shard_index = shard_index
        self.one_pass = num_batches is None
        if self.one_pass:
            rounding = math.floor if drop_remainder else math.ceil
            self.length = rounding(self.num_examples / batch_size)
            if self.length == 0:
                raise ValueError(
                    f"{data_dir}: the {split!r} split has {self.num_examples} examples, fewer than one "
                    f"batch of {batch_size}."
                )
        else:
            self.length = num_batches
        self.shuffle = shuffle
        self.seed = seed
        self.start_example = start_example
        self._orders = EpochPermutations(self.num_examples, seed) if shuffle else None

    def __len__(self):
        return self.length

    def example_indices(self, index):
        """Indices into the split of the examples in batch `index` (this shard's part)."""
        start = self.start_example + index * self.batch_size
        positions = np.arange(start, start + self.batch_size)
        if self.one_pass:
            positions = positions[positions < self.num_examples]
        if self.num_shards > 1:
            positions = np.array_split(positions, self.num_shards)[self.shard_index]
        epochs, within = np.divmod(positions, self.num_examples)
        if self._orders is None:
            return within
        indices = within.copy()
        for epoch in np.unique(epochs):
            indices[epochs == epoch] = self._orders(int(epoch))[within[epochs == epoch]]
        return indices

    def __getitem__(self, index):
        if not 0 <= index < self.length:
            raise IndexError(f"batch {index} of a dataset of {self.length} batches")
        indices = self.example_indices(index)
        shard_of = np.searchsorted(self.offsets, indices, side="right") - 1
        token_ids = np.empty((len(indices), self.manifest["max_length"]), "int32")
        for shard in np.unique(shard_of):
            rows = shard_of == shard
            local = indices[rows] - self.offsets[shard]
            token_ids[rows] = self.shards[shard][local]
        special = self.manifest["special_token_ids"]
        segment_ids, padding_mask = segment_ids_and_mask(token_ids, special["sep"], special["pad"])
        return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
