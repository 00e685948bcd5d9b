"""The public names of keras-electra, imported by the package (see `keras_electra/__init__.py`)."""

from keras_electra import config
from keras_electra.callbacks import (
    NonFiniteLossGuard,
    PeriodicCheckpoint,
    StopOnInterrupt,
    latest_checkpoint,
)
from keras_electra.conversion import (
    load_huggingface,
    load_huggingface_pretrainer,
    load_huggingface_tokenizer,
    load_keras_hub,
    load_tf1_checkpoint,
    save_huggingface,
)
from keras_electra.data import ElectraTokenizer, read_conll2003, read_glue, read_squad
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.data.shuffled_batches import ShuffledBatches
from keras_electra.finetuning import (
    ElectraClassifier,
    ElectraQuestionAnswerer,
    ElectraQuestionAnswererPreprocessor,
    ElectraTextPreprocessor,
    ElectraTokenClassifier,
    ElectraTokenClassifierPreprocessor,
    task_metrics,
)
from keras_electra.models import (
    SIZES,
    TRAINING,
    ElectraAttention,
    ElectraBackbone,
    ElectraDiscriminatorHead,
    ElectraDropout,
    ElectraEmbedding,
    ElectraEncoderLayer,
    ElectraGenerator,
    ElectraLayerNorm,
    ElectraLocalMixing,
    ElectraMaskedLMHead,
    attention,
    pretrainer_config,
)
from keras_electra.optimization import (
    ElectraAdamW,
    WarmupLinearDecay,
    finetuning_optimizer,
    layer_decay_multipliers,
)
from keras_electra.pretraining import (
    OBJECTIVES,
    ElectraPretrainer,
    copy_mlm_loss,
    discriminator_loss,
    gumbel_sample,
    mask_tokens,
    max_predictions,
    mlm_loss,
    pretraining_optimizer,
    replaced_token_prior_logit,
)
from keras_electra.pretraining.distribution import (
    device_mesh,
    distribution_for,
    initialize_from_environment,
    layout_map,
    process_shard,
    suggested_model_parallel,
)
from keras_electra.version import __version__
