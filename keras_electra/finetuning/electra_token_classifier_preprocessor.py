import keras
import numpy as np

from keras_electra.finetuning.electra_text_preprocessor import ElectraTextPreprocessor
from keras_electra.finetuning.token_labels import align_word_labels_batch


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTokenClassifierPreprocessor(ElectraTextPreprocessor):
    """Sentences of pre-split words (and their tags) -> `[CLS] tokens [SEP]` inputs.

    A word's tag goes on its first sub-token; the other positions get
    sample weight 0, so neither the loss nor the metrics see them
    (docs/electra.md, "Fine-tuning"). Tags may be names from `label_names` or their indices.
    The returned features keep `word_index`, which `word_predictions` needs
    to read one prediction per word back.

    Args:
        tokenizer: `ElectraTokenizer`.
        sequence_length: int. The padded length; 128.
        label_names: list of str or None. The tags' names, in index order.

    Example:

    ```python
    tokenizer = keras_electra.ElectraTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"])
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(tokenizer, 8, label_names=["O", "B-ANIMAL"])
    x, y, weights = preprocessor([["the", "cat"]], [["O", "B-ANIMAL"]])
    ```
    """

    def __init__(self, tokenizer=None, sequence_length=128, label_names=None, **kwargs):
        super().__init__(tokenizer, sequence_length, **kwargs)
        self.label_names = list(label_names) if label_names is not None else None

    def __call__(self, x, y=None, sample_weight=None):
        sentences = [list(words) for words in x]
        labels = None if y is None else [self._label_ids(tags, row) for row, tags in enumerate(y)]
        batch = align_word_labels_batch(
            self.tokenizer, sentences, labels, max_length=self.sequence_length
        )
        features = {name: batch[name] for name in ("token_ids", "segment_ids", "padding_mask")}
        if labels is None:
            return features
        ignored = batch["labels"] < 0
        weights = (~ignored).astype("float32")
        if sample_weight is not None:
            weights *= np.asarray(sample_weight, "float32").reshape(-1, 1)
        return features, np.where(ignored, 0, batch["labels"]), weights

    def word_index(self, x):
        """Per token, the index of its word (-1 on special tokens and padding)."""
        return align_word_labels_batch(
            self.tokenizer, [list(w) for w in x], max_length=self.sequence_length
        )["word_index"]

    def _label_ids(self, tags, row):
        if self.label_names is None or all(not isinstance(tag, str) for tag in tags):
            return [int(tag) for tag in tags]
        unknown = [tag for tag in tags if tag not in self.label_names]
        if unknown:
            raise ValueError(
                f"sentence {row}: tags {unknown[:3]} are not in label_names {self.label_names}"
            )
        return [self.label_names.index(tag) for tag in tags]

    def get_config(self):
        config = super().get_config()
        config["label_names"] = self.label_names
        return config
