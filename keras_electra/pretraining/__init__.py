from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer
from keras_electra.pretraining.losses import copy_mlm_loss, discriminator_loss, mlm_loss
from keras_electra.pretraining.masking import (
    mask_tokens,
    max_predictions,
    replaced_token_prior_logit,
)
from keras_electra.pretraining.objectives import OBJECTIVES
from keras_electra.pretraining.optimizer import pretraining_optimizer
from keras_electra.pretraining.sampling import gumbel_sample
