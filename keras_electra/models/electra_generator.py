import keras

from keras_electra.models.electra_masked_lm_head import ElectraMaskedLMHead
from keras_electra.models.seeds import sub_seed


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraGenerator(keras.Model):
    """The generator: an `ElectraBackbone` plus the MLM head tied to its table.

    Inputs are the backbone's plus `mask_positions` `[B, P]`; the output is
    the logits over the vocabulary at those positions, `[B, P, V]`.

    Args:
        backbone: `ElectraBackbone`. The generator's encoder; the head is tied to its word table.
        seed: int or None. Seeds the head's initializers.

    Example:

    ```python
    tokenizer = keras_electra.ElectraTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"])
    backbone = keras_electra.ElectraBackbone(
        vocab_size=tokenizer.vocab_size, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32
    )
    generator = keras_electra.ElectraGenerator(backbone)
    ids = np.array([[2, 5, 4, 7, 3]])
    logits = generator({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": 1 + 0 * ids,
                        "mask_positions": np.array([[2]])})  # (1, 1, vocab_size)
    ```
    """

    def __init__(self, backbone, seed=None, **kwargs):
        mlm_head = ElectraMaskedLMHead(
            backbone.embedding.token_embedding,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            seed=sub_seed(seed, "mlm_head"),
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "segment_ids", "padding_mask", "mask_positions")
        }
        sequence = backbone({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")})[
            "sequence_output"
        ]
        logits = mlm_head(sequence, inputs["mask_positions"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        # A functional model ignores `dtype=`: take the backbone's policy.
        self.dtype_policy = backbone.dtype_policy
        # Assigned after the graph exists: torch refuses modules before init.
        self.backbone = backbone
        self.mlm_head = mlm_head
        self.seed = seed

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
