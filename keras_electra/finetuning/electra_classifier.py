import keras

from keras_electra.finetuning.electra_task import ElectraTask
from keras_electra.finetuning.electra_text_preprocessor import ElectraTextPreprocessor
from keras_electra.models.seeds import sub_seed, truncated_normal

HEADS = ("electra", "huggingface")


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraClassifier(ElectraTask):
    """Sequence classification or regression on the [CLS] state (docs/electra.md, "Fine-tuning").

    `head="electra"` is the authors' head: dropout, then one Dense. Hugging
    Face's `ElectraForSequenceClassification` uses dropout, Dense(H), GELU,
    dropout, Dense: `head="huggingface"`, which its checkpoints need.
    `num_classes=1` makes a regressor (STS-B): one output, squared error.

    Args:
        backbone: an `ElectraBackbone`, usually the pretrained discriminator.
        num_classes: number of classes, or 1 for regression.
        preprocessor: an `ElectraTextPreprocessor`, so that `fit`, `evaluate`
            and `predict` take raw sentences or `(first, second)` pairs.
        dropout: dropout rate in the head.
        head: "electra" or "huggingface".

    Example:

    ```python
    tokenizer = keras_electra.ElectraTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"])
    backbone = keras_electra.ElectraBackbone(
        vocab_size=tokenizer.vocab_size, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32
    )
    classifier = keras_electra.ElectraClassifier(
        backbone, num_classes=2, preprocessor=keras_electra.ElectraTextPreprocessor(tokenizer, 16)
    )
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    classifier.fit(["the cat sat", "sat the cat"], np.array([1, 0]), epochs=1)
    ```
    """

    # What `from_preset` wraps a preset's tokenizer in.
    preprocessor_cls = ElectraTextPreprocessor

    def __init__(
        self,
        backbone,
        num_classes,
        preprocessor=None,
        dropout=0.1,
        head="electra",
        seed=None,
        **kwargs,
    ):
        if head not in HEADS:
            raise ValueError(f"head={head!r}: expected one of {HEADS}")
        if num_classes < 1:
            raise ValueError(f"num_classes={num_classes}: needs at least 1 (1 means regression)")
        inputs = backbone.input
        x = backbone(inputs)["cls_output"]
        policy = backbone.dtype_policy  # the logits stay float32, for the loss
        x = keras.layers.Dropout(
            dropout, seed=sub_seed(seed, "dropout"), dtype=policy, name="dropout"
        )(x)
        if head == "huggingface":
            x = keras.layers.Dense(
                backbone.hidden_dim,
                activation="gelu",
                kernel_initializer=truncated_normal(seed, "dense"),
                dtype=policy,
                name="dense",
            )(x)
            x = keras.layers.Dropout(
                dropout, seed=sub_seed(seed, "dropout_2"), dtype=policy, name="dropout_2"
            )(x)
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
        self.head = head
        self.seed = seed

    def default_loss(self):
        if self.num_classes == 1:
            return keras.losses.MeanSquaredError()
        return super().default_loss()

    def default_metrics(self):
        return [] if self.num_classes == 1 else super().default_metrics()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "dropout": self.dropout,
                "head": self.head,
                "seed": self.seed,
            }
        )
        return config
