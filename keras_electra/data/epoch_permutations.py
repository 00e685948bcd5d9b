"""The seeded order of the examples in every epoch, which `PretrainingDataset` and `ShuffledBatches` share."""

import numpy as np


class EpochPermutations:
    """Epoch `e`'s order of `num_examples` examples: the permutation numpy draws from `(seed, e)`.

    A function of the seed and the epoch alone, so a run resumed at any batch draws the orders the
    uninterrupted run drew. The last order drawn is kept: consecutive batches mostly share an epoch.

    Args:
        num_examples: int. The examples each permutation orders.
        seed: int. The permutations' seed.

    Example:

    ```python
    orders = EpochPermutations(10, seed=0)
    orders(3)  # the fourth epoch's order: a permutation of np.arange(10)
    ```
    """

    def __init__(self, num_examples, seed):
        self.num_examples = num_examples
        self.seed = seed
        self._last = (None, None)

    def __call__(self, epoch):
        if self._last[0] != epoch:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)
            self._last = (epoch, order)
        return self._last[1]
