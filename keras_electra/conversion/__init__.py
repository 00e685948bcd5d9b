"""Checkpoints in and out: Hugging Face ELECTRA (docs/electra.md, "Checkpoint layout"), the
authors' TF1 checkpoints, and keras-hub's ElectraBackbone. TensorFlow, keras-hub, torch and
safetensors are imported only by the functions that read or write their formats."""

from keras_electra.conversion.huggingface import (
    load_huggingface,
    load_huggingface_pretrainer,
    load_huggingface_tokenizer,
    save_huggingface,
)
from keras_electra.conversion.keras_hub_weights import load_keras_hub
from keras_electra.conversion.tf1_checkpoint import load_tf1_checkpoint
