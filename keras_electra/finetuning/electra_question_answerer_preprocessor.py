import keras
import numpy as np

from keras_electra.finetuning.electra_text_preprocessor import ElectraTextPreprocessor
from keras_electra.finetuning.question_answering import squad_windows

FEATURES = ("token_ids", "segment_ids", "padding_mask")


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraQuestionAnswererPreprocessor(ElectraTextPreprocessor):
    """`(questions, contexts)` -> windows of `[CLS] question [SEP] context [SEP]`.

    A context longer than a window is covered by windows `doc_stride` tokens
    apart, so one example may give several rows. For training, `y` holds
    each question's answer (`{"text", "answer_start"}`, as SQuAD gives it)
    and becomes the `[start, end]` token positions of each window ([CLS],
    0, for a window that does not hold the answer).

    Args:
        tokenizer: `ElectraTokenizer`.
        sequence_length: int. Tokens a window, [CLS] and both [SEP] included; 384.
        doc_stride: int. Tokens between the starts of consecutive windows (BERT's meaning); 128.
        max_query_length: int. The question is cut to this many tokens; 64.

    Example:

    ```python
    tokenizer = keras_electra.ElectraTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"])
    preprocessor = keras_electra.ElectraQuestionAnswererPreprocessor(tokenizer, sequence_length=16, doc_stride=4)
    features = preprocessor((["the cat"], ["the cat sat"]))  # a dict of [windows, 16] arrays
    ```
    """

    def __init__(
        self, tokenizer=None, sequence_length=384, doc_stride=128, max_query_length=64, **kwargs
    ):
        super().__init__(tokenizer, sequence_length, **kwargs)
        self.doc_stride = doc_stride
        self.max_query_length = max_query_length

    def windows(self, questions, contexts, answers=None):
        """The windows of each example (a list per example), with their offsets for decoding."""
        return squad_windows(
            self.tokenizer,
            questions,
            contexts,
            self.sequence_length,
            self.doc_stride,
            self.max_query_length,
            answers,
        )

    def __call__(self, x, y=None, sample_weight=None):
        questions, contexts = x
        rows = [window for windows in self.windows(questions, contexts, y) for window in windows]
        features = {name: np.stack([row[name] for row in rows]) for name in FEATURES}
        if y is None:
            return features
        positions = np.array(
            [[row["start_position"], row["end_position"]] for row in rows], "int32"
        )
        return features, positions

    def get_config(self):
        config = super().get_config()
        config.update({"doc_stride": self.doc_stride, "max_query_length": self.max_query_length})
        return config
