"""`keras-electra fill-mask` and `keras-electra detect`: the pretrained generator and discriminator at work."""

from pathlib import Path

import keras

from keras_electra.data.atomic import check_keras_file
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.pretraining.fill_mask import fill_mask, masked_language_model
from keras_electra.pretraining.replaced_tokens import replaced_probabilities


def load_run(run_dir):
    run_dir = Path(run_dir)
    model_file = run_dir / "pretrainer.keras"
    if not model_file.is_file():
        raise FileNotFoundError(
            f"--model {run_dir}: {model_file} not found (a `keras-electra pretrain` run?)"
        )
    check_keras_file(model_file)
    return keras.saving.load_model(model_file, compile=False), ElectraTokenizer.from_directory(
        run_dir
    )


def run_fill_mask(args):
    pretrainer, tokenizer = load_run(args.model)
    model = masked_language_model(pretrainer)
    for text in args.text:
        print(text)
        for number, guesses in enumerate(fill_mask(model, tokenizer, text, args.top_k), 1):
            print(f"  [MASK] {number}: " + ", ".join(f"{token} {p:.3f}" for token, p in guesses))


def run_detect(args):
    pretrainer, tokenizer = load_run(args.model)
    if pretrainer.discriminator_head is None:
        raise ValueError(
            f"--model {args.model}: its objective ({pretrainer.objective}) trains no replaced-token "
            "detection head; `detect` needs electra, electra-15 or all-tokens-mlm"
        )
    for text in args.text:
        print(text)
        print(
            "  "
            + " ".join(
                f"{token}:{p:.2f}"
                for token, p in replaced_probabilities(pretrainer, tokenizer, text)
            )
        )
