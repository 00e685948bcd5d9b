"""The `keras-electra pretrain` job in a dozen lines of the Python API.

KERAS_BACKEND=jax python examples/pretrain_python_api.py CORPUS_DIR_OR_FILE [OUT_DIR]
"""

import sys
from pathlib import Path

import keras_electra as ke
from keras_electra.data import build_pretraining_data
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.data.shards import read_manifest, special_token_arguments

if __name__ == "__main__":  # the corpus builder starts worker processes
    corpus, out = sys.argv[1], Path(sys.argv[2] if len(sys.argv) > 2 else "runs/python-api")
    build_pretraining_data(
        corpus, out / "data", vocab_size=8192, max_length=128, strip_gutenberg=True
    )
    manifest = read_manifest(out / "data")
    pre = ke.ElectraPretrainer.from_size(
        "tiny",
        vocab_size=manifest["vocab_size"],
        seed=0,
        **special_token_arguments(manifest),
    )
    pre.compile(learning_rate=1e-3, warmup_steps=50, total_steps=500)
    pre.fit(
        PretrainingDataset(out / "data", 32, num_batches=500),
        epochs=10,
        steps_per_epoch=50,
        validation_data=PretrainingDataset(out / "data", 32, split="heldout", shuffle=False),
    )
    pre.discriminator.save(out / "discriminator.keras")
