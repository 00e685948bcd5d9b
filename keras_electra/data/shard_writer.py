"""Writing packed examples, in arrival order, as training shards and a held-out split."""

import numpy as np

from keras_electra.data.shards import write_array_atomic

HELDOUT_FILE = "heldout.npy"


class ShardWriter:
    """Splits examples, in arrival order, into held-out rows and training shards of a fixed size.

    A full shard is written only once a further training example arrives, so the last training example is
    always still at hand when `finish` must move one to the held-out split.
    """

    def __init__(self, directory, examples_per_shard, heldout_every, max_length, dtype):
        self.directory = directory
        self.examples_per_shard = examples_per_shard
        self.heldout_every = heldout_every
        empty = np.empty((0, max_length), dtype)
        self.pending, self.pending_rows = [empty], 0
        self.heldout = [empty]
        self.shards = []
        self.seen = 0

    def add(self, rows):
        index = np.arange(self.seen, self.seen + len(rows))
        is_heldout = (index + 1) % self.heldout_every == 0
        self.heldout.append(rows[is_heldout])
        self.pending.append(rows[~is_heldout])
        self.pending_rows += len(rows) - int(is_heldout.sum())
        self.seen += len(rows)
        # Concatenating only when a shard is due keeps the copying linear in the corpus size.
        if self.pending_rows > self.examples_per_shard:
            pending = np.concatenate(self.pending)
            while len(pending) > self.examples_per_shard:
                self._write(pending[: self.examples_per_shard])
                pending = pending[self.examples_per_shard :]
            self.pending, self.pending_rows = [pending], len(pending)

    def finish(self):
        """Writes the last shard and heldout.npy; returns their manifest entries."""
        heldout, pending = np.concatenate(self.heldout), np.concatenate(self.pending)
        if not len(heldout) and self.seen >= 2:
            heldout, pending = pending[-1:], pending[:-1]
        if len(pending):
            self._write(pending)
        write_array_atomic(self.directory / HELDOUT_FILE, heldout)
        return self.shards, {"file": HELDOUT_FILE, "examples": len(heldout)}

    def _write(self, rows):
        name = f"train-{len(self.shards):05d}.npy"
        write_array_atomic(self.directory / name, rows)
        self.shards.append({"file": name, "examples": len(rows)})
