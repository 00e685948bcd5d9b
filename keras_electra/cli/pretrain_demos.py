"""`pretrain`'s default corpus, and what the command shows after training: the generator filling in
held-out words and, on the default corpus, a fine-tuning demo of the pretrained discriminator."""

import keras
import numpy as np

from keras_electra.data.corpus_builder import build_pretraining_data
from keras_electra.data.shards import write_json_atomic
from keras_electra.data.stdlib_corpus import docstring_kind_task, write_stdlib_corpus
from keras_electra.finetuning import tasks
from keras_electra.finetuning.metrics import accuracy
from keras_electra.finetuning.training import fine_tune
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.presets import finetuning_learning_rate
from keras_electra.pretraining.fill_mask import fill_mask, masked_language_model


def default_data(run_dir, args):
    """Builds the default corpus's data inside the run directory."""
    print(
        "No --data: building the default corpus from this Python's standard-library documentation."
    )
    corpus = write_stdlib_corpus(run_dir / "corpus" / "stdlib_docs.txt")
    build_pretraining_data(
        corpus, run_dir / "data", max_length=128, vocab_size=args.vocab_size, seed=args.seed
    )
    return run_dir / "data"


def fill_mask_examples(pretrainer, tokenizer, heldout, count=3, seed=0):
    """Hides one whole word of a few held-out examples and asks the generator (BERT's objective: the
    encoder) for it."""
    rng = np.random.default_rng(seed)
    specials = {tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id}
    lines, model = [], masked_language_model(pretrainer)
    who = "generator" if pretrainer.generator is not None else "encoder"
    for row in heldout[0]["token_ids"][:count]:
        tokens = [tokenizer.id_to_token(t) for t in row if t not in specials]
        # Whole words only: alphabetic and not continued by a "##" piece.
        words = [
            i
            for i in range(len(tokens) - 1)
            if tokens[i].isalpha() and not tokens[i + 1].startswith("##")
        ]
        if not words:
            continue
        i = int(rng.choice(words))
        text = " ".join(tokens[max(0, i - 10) : i] + ["[MASK]"] + tokens[i + 1 : i + 8]).replace(
            " ##", ""
        )
        guesses = ", ".join(f"{token} {p:.2f}" for token, p in fill_mask(model, tokenizer, text)[0])
        lines.append(f"  {text}\n    original: {tokens[i]}; {who}: {guesses}")
    return lines


def docstring_kind_demo(backbone, tokenizer, epochs, seed):
    """Fine-tunes the pretrained discriminator, and the same encoder at its initial weights, on a real
    labelled task every Python carries (a docstring's first sentence: class or function?)."""
    (train_x, train_y), (dev_x, dev_y) = docstring_kind_task(seed=seed)
    majority = int(np.bincount(train_y).argmax())
    scores = {
        "examples": {"train": len(train_y), "dev": len(dev_y)},
        "majority_class_accuracy": float(np.mean(dev_y == majority)),
    }
    # The config carries the seed: from_config rebuilds the weights pretraining started from.
    initial = ElectraBackbone.from_config(backbone.get_config())
    for name, encoder in (("pretrained", backbone), ("random_init", initial)):
        keras.utils.set_random_seed(seed)
        model = tasks.build_model(tasks.DOCSTRING_KIND, encoder, tokenizer, seed=seed)
        fine_tune(
            model,
            train_x,
            train_y,
            epochs=epochs,
            learning_rate=finetuning_learning_rate(encoder.hidden_dim),
        )
        scores[f"{name}_accuracy"] = accuracy(
            np.argmax(model.predict(dev_x, verbose=0), axis=-1), dev_y
        )
    return scores


def finetuning_demo(args, run_dir, discriminator, tokenizer, metrics, distributed):
    """On the default corpus: `docstring_kind_demo`, its scores added to metrics.json. It fine-tunes
    `discriminator` in place, so it runs after the models are saved."""
    if args.data or not args.finetune_epochs:
        return
    if distributed:
        print(
            "\nThe fine-tuning demo runs on one device: skipped under --distribution "
            f"(`keras-electra finetune --model {run_dir}` fine-tunes the discriminator)."
        )
        return
    print(
        f"\nfine-tuning demo: class or function docstring? {args.finetune_epochs} epochs from the "
        "pretrained discriminator, and the same from its initial weights"
    )
    demo = metrics["finetuning"] = docstring_kind_demo(
        discriminator, tokenizer, args.finetune_epochs, args.seed
    )
    write_json_atomic(run_dir / "metrics.json", metrics)
    print(
        f"fine-tuning demo, dev accuracy on {demo['examples']['dev']} docstrings (class or function?):"
    )
    print(
        f"  pretrained encoder {demo['pretrained_accuracy']:.4f}, randomly initialised "
        f"{demo['random_init_accuracy']:.4f}, majority class {demo['majority_class_accuracy']:.4f}"
    )
