import keras
from keras import ops

from keras_electra.models.backend_neutral_compile import BackendNeutralCompile
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_discriminator_head import ElectraDiscriminatorHead
from keras_electra.models.electra_generator import ElectraGenerator
from keras_electra.models.electra_masked_lm_head import ElectraMaskedLMHead
from keras_electra.models.presets import checked_special_token_ids, num_heads_for, pretrainer_config
from keras_electra.models.seeds import SavesSeedStates, sub_seed
from keras_electra.pretraining.losses import copy_mlm_loss, discriminator_loss, mlm_loss
from keras_electra.pretraining.masking import (
    MASK_PROB,
    chosen_token_mask,
    mask_tokens,
    max_predictions,
    replace_at,
)
from keras_electra.pretraining.objective_metrics import ObjectiveMetrics
from keras_electra.pretraining.objectives import objective as objective_named
from keras_electra.pretraining.optimizer import pretraining_optimizer
from keras_electra.pretraining.sampling import gumbel_sample, replaced_token_labels


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraPretrainer(SavesSeedStates, BackendNeutralCompile, ObjectiveMetrics, keras.Model):
    """Generator + discriminator trained jointly by replaced token detection, or one of the
    objectives ELECTRA is compared with.

    The two towers share one `ElectraEmbedding` (word, position and segment
    tables and the embedding LayerNorm); each has its own projection and
    encoder. Each training step masks the batch afresh, lets the generator
    fill the masked positions by sampling, and trains the discriminator to
    tell which tokens were replaced: loss = MLM + discriminator_weight * RTD.

    The whole step is `call` + `compute_loss` + `compute_metrics`, so Keras'
    own train step runs it on every backend (gradients, optimizer, jit, loss
    scaling, distribution) rather than three hand-written ones. Randomness
    comes from `self.seed_generator`, a model variable, which keeps `call`
    stateless under JAX's jit and makes a seeded run reproducible.

    `objective` picks what the step computes (docs/electra.md, "Objectives"): "electra" (the
    default), "mlm" (BERT: no generator, an MLM head on the encoder tied to its embeddings),
    "electra-15", "replace-mlm" or "all-tokens-mlm" (the paper's Table 5). Whatever the objective,
    `discriminator` is the encoder kept and fine-tuned.

    Args:
        vocab_size: int. Rows of the shared word-embedding table.
        num_layers, hidden_dim, embedding_dim, num_heads, intermediate_dim: int. The discriminator's
            sizes (`ElectraBackbone`); E is shared by both towers.
        generator_hidden_dim: int. The generator's width (the reference: H/4 small and large, H/3 base).
        generator_num_layers, generator_num_heads, generator_intermediate_dim: int or None. Default
            to the discriminator's depth, `max(1, width // 64)` heads and 4 x its width.
        max_sequence_length: int. Positions; 512.
        num_segments: int. 2.
        dropout: float. 0.1.
        layer_norm_epsilon: float. 1e-12.
        mask_prob: float. Share of each sequence's tokens chosen for masking; 0.15 (0.25 large).
        mask_token_rate: float. Share of the chosen positions given [MASK] (the rest keep their
            token); 0.85. The "mlm" objective uses BERT's 80% [MASK], 10% random, 10% kept.
        discriminator_weight: float. lambda of loss = MLM + lambda RTD; 50.
        temperature: float. Of the generator's sampling; 1.
        pad_token_id, unk_token_id, cls_token_id, sep_token_id, mask_token_id: int. The special
            tokens (BERT's uncased ids by default).
        attention_implementation: str. "auto", "triton" or "standard" (see `attention`).
        seed: int or None. Seeds the weights, dropout, masks and samples.
        objective: str. One of `keras_electra.pretraining.objectives.OBJECTIVES`; "electra".
        local_mixing_window: int. 0 (the paper's), or the odd window of an `ElectraLocalMixing` in the
            discriminator (docs/electra.md, "Local mixing"); the generator never has one.
        discriminator_output_bias: float. Initial bias of the replaced-token logit; 0 (the paper's).
            `replaced_token_prior_logit(mask_prob)` starts the head at the base rate of replacements
            (docs/electra.md, "Local mixing").

    Example:

    ```python
    pretrainer = keras_electra.ElectraPretrainer.from_size("tiny", vocab_size=1000, seed=0)
    pretrainer.compile(learning_rate=1e-3, warmup_steps=10, total_steps=100)
    ids = np.array([[101, 7, 8, 9, 10, 102, 0, 0]] * 4)
    pretrainer.fit({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids > 0}, epochs=1)
    ```
    """

    def __init__(
        self,
        vocab_size,
        num_layers,
        hidden_dim,
        embedding_dim,
        num_heads,
        intermediate_dim,
        generator_hidden_dim,
        generator_num_layers=None,
        generator_num_heads=None,
        generator_intermediate_dim=None,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        mask_prob=MASK_PROB,
        mask_token_rate=0.85,
        discriminator_weight=50.0,
        temperature=1.0,
        pad_token_id=0,
        unk_token_id=100,
        cls_token_id=101,
        sep_token_id=102,
        mask_token_id=103,
        attention_implementation="auto",
        seed=None,
        objective="electra",
        local_mixing_window=0,
        discriminator_output_bias=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        arguments = locals()
        # Each saved argument is the attribute of its name, which get_config reads.
        for name in _CONFIG:
            setattr(self, name, arguments[name])
        self.objective = objective_named(objective).name
        self.generator_num_layers = generator_num_layers or num_layers
        self.generator_num_heads = generator_num_heads or num_heads_for(generator_hidden_dim)
        self.generator_intermediate_dim = generator_intermediate_dim or 4 * generator_hidden_dim
        self.special_token_ids = checked_special_token_ids(
            vocab_size,
            pad_token_id=pad_token_id,
            unk_token_id=unk_token_id,
            cls_token_id=cls_token_id,
            sep_token_id=sep_token_id,
            mask_token_id=mask_token_id,
        )

        self._build_towers()
        self._build_seed_generators()
        self._build_metrics()
        self.built = True

    @property
    def _objective(self):
        """The `Objective` named `objective`, which alone decides what the step builds, computes and reports."""
        return objective_named(self.objective)

    def _build_towers(self):
        """The discriminator, its head and the generator, sharing one embedding (docs/electra.md, "Weight
        sharing"); created in this order, which fixes the variables' paths and the checkpoint layout. An
        objective builds only the towers and heads its step uses (docs/electra.md, "Objectives")."""
        kind = self._objective
        shared = dict(
            vocab_size=self.vocab_size,
            embedding_dim=self.embedding_dim,
            max_sequence_length=self.max_sequence_length,
            num_segments=self.num_segments,
            dropout=self.dropout,
            layer_norm_epsilon=self.layer_norm_epsilon,
            attention_implementation=self.attention_implementation,
            dtype=self.dtype_policy,
        )
        self.discriminator = ElectraBackbone(
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            hidden_dim=self.hidden_dim,
            intermediate_dim=self.intermediate_dim,
            local_mixing_window=self.local_mixing_window,
            seed=sub_seed(self.seed, "discriminator"),
            name="discriminator",
            **shared,
        )
        self.discriminator_head = self.generator = self.encoder_mlm_head = None
        if kind.has_replaced_token_head:
            self.discriminator_head = ElectraDiscriminatorHead(
                self.hidden_dim,
                output_bias=self.discriminator_output_bias,
                seed=sub_seed(self.seed, "discriminator_head"),
                dtype=self.dtype_policy,
                name="discriminator_head",
            )
            self.discriminator_head.build((None, None, self.hidden_dim))
        if kind.generator:
            self.generator = self._build_generator(shared)
        if kind.has_encoder_mlm_head:
            self.encoder_mlm_head = ElectraMaskedLMHead(
                self.discriminator.embedding.token_embedding,
                layer_norm_epsilon=self.layer_norm_epsilon,
                seed=sub_seed(self.seed, "encoder_mlm_head"),
                dtype=self.dtype_policy,
                name="encoder_mlm_head",
            )
            self.encoder_mlm_head.build((None, None, self.hidden_dim))

    def _build_generator(self, shared):
        return ElectraGenerator(
            ElectraBackbone(
                num_layers=self.generator_num_layers,
                num_heads=self.generator_num_heads,
                hidden_dim=self.generator_hidden_dim,
                intermediate_dim=self.generator_intermediate_dim,
                seed=sub_seed(self.seed, "generator"),
                embedding=self.discriminator.embedding,
                name="generator_backbone",
                **shared,
            ),
            seed=sub_seed(self.seed, "generator_head"),
            name="generator",
        )

    def _build_seed_generators(self):
        self.seed_generator = keras.random.SeedGenerator(sub_seed(self.seed, "pretraining"))
        # Evaluation draws its masks and samples from its own generator, restarted by every `evaluate`:
        # held-out metrics compare like with like from one evaluation to the next, and evaluating never
        # shifts the training draws (a run resumed from a checkpoint written just before an evaluation
        # trains exactly as the uninterrupted one).
        self.evaluation_seed_generator = keras.random.SeedGenerator(
            sub_seed(self.seed, "evaluation")
        )
        self._evaluation_seed_start = ops.convert_to_numpy(
            self.evaluation_seed_generator.state.value
        )

    @classmethod
    def from_size(cls, size, vocab_size=30522, seed=None, **overrides):
        """A pretrainer of a reference size ("tiny", "small", "base", "large").

        Any constructor argument can be overridden; `generator_hidden_fraction`
        sets the generator's width relative to the discriminator's.
        """
        return cls(vocab_size=vocab_size, seed=seed, **pretrainer_config(size, **overrides))

    def compile(
        self,
        optimizer=None,
        *,
        learning_rate=5e-4,
        warmup_steps=10_000,
        total_steps=1_000_000,
        jit_compile="auto",
        **kwargs,
    ):
        """`optimizer=None` builds the reference's (`pretraining_optimizer`)."""
        if optimizer is None:
            optimizer = pretraining_optimizer(learning_rate, warmup_steps, total_steps)
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        # Keras skips compile on load for models that override `compile`.
        self.compile(**keras.saving.deserialize_keras_object(config))

    def evaluate(self, *args, **kwargs):
        self.evaluation_seed_generator.state.assign(self._evaluation_seed_start)
        return super().evaluate(*args, **kwargs)

    def call(self, inputs, training=False):
        token_ids = ops.cast(inputs["token_ids"], "int32")
        segment_ids = ops.cast(inputs["segment_ids"], "int32")
        padding_mask = ops.cast(inputs["padding_mask"], "int32")
        if token_ids.shape[1] is None:
            raise ValueError("ElectraPretrainer needs batches of a static sequence length.")
        seed = self.seed_generator if training else self.evaluation_seed_generator
        kind, masked = self._objective, self._mask(token_ids, padding_mask, seed)
        outputs = {
            "token_ids": token_ids,
            "mlm_labels": masked["labels"],
            "mlm_weights": masked["weights"],
            "mlm_positions": masked["positions"],
            "generator_token_ids": masked["token_ids"],
            "corrupted_token_ids": masked["token_ids"],
        }
        if kind.generator:
            mlm_logits = self.generator(
                {
                    "token_ids": masked["token_ids"],
                    "segment_ids": segment_ids,
                    "padding_mask": padding_mask,
                    "mask_positions": masked["positions"],
                },
                training=training,
            )
            outputs["mlm_logits"] = ops.cast(mlm_logits, "float32")
            samples = gumbel_sample(outputs["mlm_logits"], seed, self.temperature)
            outputs["corrupted_token_ids"] = replace_at(
                token_ids, masked["positions"], masked["weights"], samples
            )
        corrupted = outputs["corrupted_token_ids"]
        sequence = self.discriminator(
            {"token_ids": corrupted, "segment_ids": segment_ids, "padding_mask": padding_mask},
            training=training,
        )["sequence_output"]
        # Which tokens differ from the original: the RTD labels, and the replaced fraction of every objective.
        outputs["disc_labels"] = replaced_token_labels(token_ids, corrupted, padding_mask)
        if kind.has_replaced_token_head:
            outputs["disc_logits"] = ops.cast(self.discriminator_head(sequence), "float32")
        if kind.has_encoder_mlm_head:
            positions = masked["positions"]
            if kind.predicts_every_token:
                positions = ops.broadcast_to(
                    ops.arange(token_ids.shape[1], dtype="int32")[None], ops.shape(token_ids)
                )
            outputs["encoder_logits"] = ops.cast(
                self.encoder_mlm_head(sequence, positions), "float32"
            )
        return outputs

    def _mask(self, token_ids, padding_mask, seed):
        """The chosen positions and what the generator (or, for BERT, the encoder) sees there."""
        ids, kind = self.special_token_ids, self._objective
        return mask_tokens(
            token_ids,
            padding_mask,
            mask_token_id=ids["mask_token_id"],
            excluded_ids=(
                ids["pad_token_id"],
                ids["cls_token_id"],
                ids["sep_token_id"],
                ids["mask_token_id"],
            ),
            mask_prob=self.mask_prob,
            num_predictions=max_predictions(token_ids.shape[1], self.mask_prob),
            mask_token_rate=self.mask_token_rate
            if kind.mask_token_rate is None
            else kind.mask_token_rate,
            random_token_rate=kind.random_token_rate,
            vocab_size=self.vocab_size,
            seed=seed,
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The generator's MLM loss (when there is one) + the encoder head's: lambda x RTD, over every
        token or, for ELECTRA 15%, the chosen ones; or 1 x an MLM loss (docs/electra.md, "Objectives")."""
        kind, total = self._objective, 0.0
        if kind.generator:
            mlm = mlm_loss(y_pred["mlm_logits"], y_pred["mlm_labels"], y_pred["mlm_weights"])
            self.mlm_loss_tracker.update_state(mlm)
            total = mlm
        if kind.encoder_head == "rtd":
            weights = x["padding_mask"]
            if kind.rtd_on_chosen_only:
                length = y_pred["token_ids"].shape[1]
                weights = chosen_token_mask(y_pred["mlm_positions"], y_pred["mlm_weights"], length)
            disc = discriminator_loss(y_pred["disc_logits"], y_pred["disc_labels"], weights)
            self.disc_loss_tracker.update_state(disc)
            return total + self.discriminator_weight * disc
        if kind.encoder_head == "mlm":
            encoder = mlm_loss(
                y_pred["encoder_logits"], y_pred["mlm_labels"], y_pred["mlm_weights"]
            )
        else:
            encoder = copy_mlm_loss(
                y_pred["encoder_logits"],
                y_pred["disc_logits"],
                y_pred["token_ids"],
                y_pred["corrupted_token_ids"],
                x["padding_mask"],
            )
        self.encoder_mlm_loss_tracker.update_state(encoder)
        return total + encoder

    def get_config(self):
        return {
            **super().get_config(),
            **{name: getattr(self, name) for name in _CONFIG},
            **self.special_token_ids,
        }


# The constructor's arguments that get_config saves, beside the special tokens' ids.
_CONFIG = (
    "vocab_size",
    "num_layers",
    "hidden_dim",
    "embedding_dim",
    "num_heads",
    "intermediate_dim",
    "generator_hidden_dim",
    "generator_num_layers",
    "generator_num_heads",
    "generator_intermediate_dim",
    "max_sequence_length",
    "num_segments",
    "dropout",
    "layer_norm_epsilon",
    "mask_prob",
    "mask_token_rate",
    "discriminator_weight",
    "temperature",
    "attention_implementation",
    "seed",
    "objective",
    "local_mixing_window",
    "discriminator_output_bias",
)
