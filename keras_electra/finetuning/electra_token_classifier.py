import keras

from keras_electra.finetuning.electra_task import ElectraTask
from keras_electra.finetuning.electra_token_classifier_preprocessor import (
    ElectraTokenClassifierPreprocessor,
)
from keras_electra.finetuning.token_labels import word_tags
from keras_electra.models.seeds import sub_seed, truncated_normal


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTokenClassifier(ElectraTask):
    """A tag per token (NER, chunking): dropout then Dense(num_classes) (docs/electra.md, "Fine-tuning").

    With an `ElectraTokenClassifierPreprocessor`, `fit` takes sentences as
    lists of words and their tags; `predict_tags` returns one tag per word.

    Args:
        backbone: `ElectraBackbone`. Usually the pretrained discriminator.
        num_classes: int. Number of tags.
        preprocessor: `ElectraTokenClassifierPreprocessor` or None. Lets `fit` take words and tags.
        dropout: float. Before the Dense; 0.1.
        seed: int or None. Seeds the head's initializers and dropout.

    Example:

    ```python
    tokenizer = keras_electra.ElectraTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"])
    backbone = keras_electra.ElectraBackbone(
        vocab_size=tokenizer.vocab_size, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32
    )
    tagger = keras_electra.ElectraTokenClassifier(
        backbone, 2, keras_electra.ElectraTokenClassifierPreprocessor(tokenizer, 8, label_names=["O", "B-ANIMAL"])
    )
    tagger.predict_tags([["the", "cat", "sat"]])  # one tag per word
    ```
    """

    # What `from_preset` wraps a preset's tokenizer in.
    preprocessor_cls = ElectraTokenClassifierPreprocessor

    def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.1, seed=None, **kwargs):
        inputs = backbone.input
        x = backbone(inputs)["sequence_output"]
        x = keras.layers.Dropout(
            dropout, seed=sub_seed(seed, "dropout"), dtype=backbone.dtype_policy, name="dropout"
        )(x)  # the logits stay float32, for the loss
        logits = keras.layers.Dense(
            num_classes,
            kernel_initializer=truncated_normal(seed, "logits"),
            dtype="float32",
            name="logits",
        )(x)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._attach(backbone, preprocessor)
        self.num_classes = num_classes
        self.dropout = dropout
        self.seed = seed

    def predict_tags(self, sentences, batch_size=32):
        """One tag per word of each sentence (a list of words); words cut by
        the sequence length get None."""
        logits = self.predict(sentences, batch_size=batch_size, verbose=0)
        word_index = self.preprocessor.word_index(sentences)
        return word_tags(logits, word_index, sentences, self.preprocessor.label_names)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout, "seed": self.seed})
        return config
