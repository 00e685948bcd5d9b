import keras
from keras import ops

from keras_electra.finetuning.electra_question_answerer_preprocessor import (
    ElectraQuestionAnswererPreprocessor,
)
from keras_electra.finetuning.electra_task import ElectraTask
from keras_electra.finetuning.question_answering import decode_answers
from keras_electra.models.seeds import truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
def span_loss(y_true, y_pred):
    """Mean of the start and end cross-entropies; `y_true` is `[B, 2]` token positions."""
    positions = ops.cast(y_true, "int32")
    start = keras.losses.sparse_categorical_crossentropy(
        positions[:, 0], y_pred[..., 0], from_logits=True
    )
    end = keras.losses.sparse_categorical_crossentropy(
        positions[:, 1], y_pred[..., 1], from_logits=True
    )
    return (start + end) / 2.0


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraQuestionAnswerer(ElectraTask):
    """Extractive QA: a start and an end logit per token, `[B, N, 2]` (docs/electra.md, "Fine-tuning").

    The authors used XLNet's beam head; this is the common start/end linear
    head (Hugging Face's `ElectraForQuestionAnswering`). With an
    `ElectraQuestionAnswererPreprocessor`, `fit` takes `(questions,
    contexts)` and SQuAD answers, and `answer` returns answer texts.

    Args:
        backbone: `ElectraBackbone`. Usually the pretrained discriminator.
        preprocessor: `ElectraQuestionAnswererPreprocessor` or None. Lets `fit` and `answer` take raw text.
        seed: int or None. Seeds the head's initializers.

    Example:

    ```python
    tokenizer = keras_electra.ElectraTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"])
    backbone = keras_electra.ElectraBackbone(
        vocab_size=tokenizer.vocab_size, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32
    )
    answerer = keras_electra.ElectraQuestionAnswerer(
        backbone, keras_electra.ElectraQuestionAnswererPreprocessor(tokenizer, sequence_length=16, doc_stride=4)
    )
    answerer.answer(["the cat"], ["the cat sat"])  # one answer text per question
    ```
    """

    # What `from_preset` wraps a preset's tokenizer in.
    preprocessor_cls = ElectraQuestionAnswererPreprocessor

    def __init__(self, backbone, preprocessor=None, seed=None, **kwargs):
        inputs = backbone.input
        logits = keras.layers.Dense(
            2,
            kernel_initializer=truncated_normal(seed, "span_logits"),
            dtype="float32",
            name="span_logits",
        )(backbone(inputs)["sequence_output"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._attach(backbone, preprocessor)
        self.seed = seed

    def default_loss(self):
        return span_loss

    def default_metrics(self):
        return []

    def answer(self, questions, contexts, n_best=20, max_answer_length=30, batch_size=32):
        """The best span of each context for its question, decoded across its windows."""
        windows = self.preprocessor.windows(questions, contexts)
        logits = self.predict((questions, contexts), batch_size=batch_size, verbose=0)
        return decode_answers(logits, windows, contexts, n_best, max_answer_length)

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config
