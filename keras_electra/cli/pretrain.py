"""`keras-electra pretrain`: joint generator/discriminator training on a data directory."""

import importlib.util
import time
from pathlib import Path

import keras
import numpy as np

from keras_electra.callbacks import PeriodicCheckpoint
from keras_electra.cli.plotting import plot_history
from keras_electra.data.atomic import save_model_atomic
from keras_electra.data.corpus_builder import build_pretraining_data
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.data.shards import read_manifest, special_token_arguments, write_json_atomic
from keras_electra.data.stdlib_corpus import DOCSTRING_KINDS, docstring_kind_task, write_stdlib_corpus
from keras_electra.finetuning.electra_classifier import ElectraClassifier
from keras_electra.finetuning.electra_text_preprocessor import ElectraTextPreprocessor
from keras_electra.finetuning.metrics import accuracy
from keras_electra.finetuning.training import fine_tune
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.presets import SIZES, TRAINING, finetuning_learning_rate
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer
from keras_electra.pretraining.fill_mask import fill_mask

REPORTED = ("loss", "mlm_accuracy", "disc_accuracy", "disc_auc", "disc_precision", "disc_recall")


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="pretrain an ELECTRA generator + discriminator",
        description="Pretrain on --data (a `build-data` directory); without --data, on the default corpus: "
        "the docstrings and pydoc topics of this Python's standard library. The backend comes from "
        "KERAS_BACKEND. RUN receives pretrainer.keras, discriminator.keras, vocab.txt, history.csv, "
        "curves.png, metrics.json (held-out metrics before and after), checkpoints/ and TensorBoard logs/.",
    )
    parser.add_argument("--data", metavar="DIR", help="a data directory from `keras-electra build-data`")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--steps", type=int, default=1000, metavar="N")
    parser.add_argument("--batch-size", type=int, default=None, metavar="B", help="default: the size's")
    parser.add_argument("--out", metavar="RUN", help="new directory for the run (default: runs/pretrain-<time>)")
    parser.add_argument("--learning-rate", type=float, default=None, help="peak; default: the size's")
    parser.add_argument("--warmup-steps", type=int, default=None, help="default: min(10%% of steps, 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-every", type=int, default=1000, metavar="N", help="checkpoint interval (steps)")
    parser.add_argument("--log-every", type=int, default=50, metavar="N", help="steps per point of the curves")
    parser.add_argument("--vocab-size", type=int, default=8192, help="vocabulary of the default corpus")
    parser.add_argument(
        "--finetune-epochs", type=int, default=3, metavar="N",
        help="default corpus only: epochs of the fine-tuning demo that follows pretraining (0 skips it)",
    )
    parser.set_defaults(run=run)


def default_data(run_dir, args):
    """Builds the default corpus's data inside the run directory."""
    print("No --data: building the default corpus from this Python's standard-library documentation.")
    corpus = write_stdlib_corpus(run_dir / "corpus" / "stdlib_docs.txt")
    build_pretraining_data(corpus, run_dir / "data", max_length=128, vocab_size=args.vocab_size, seed=args.seed)
    return run_dir / "data"


def fit_in_chunks(pretrainer, dataset, heldout, steps, log_every, callbacks):
    """`fit` with one epoch per `log_every` steps (a point of the curves, with held-out metrics),
    and a shorter last epoch, so exactly `steps` in all."""
    history, epoch = {}, 0
    full, rest = divmod(steps, log_every)
    for epochs, steps_per_epoch in ((full, log_every), (int(rest > 0), rest)):
        if not epochs:
            continue
        result = pretrainer.fit(
            dataset, initial_epoch=epoch, epochs=epoch + epochs, steps_per_epoch=steps_per_epoch,
            validation_data=heldout, callbacks=callbacks, verbose=1,
        )
        for name, values in result.history.items():
            history.setdefault(name, []).extend(float(v) for v in values)
        epoch += epochs
    return history


def fill_mask_examples(pretrainer, tokenizer, heldout, count=3, seed=0):
    """Hides one whole word of a few held-out examples and asks the generator for it."""
    rng = np.random.default_rng(seed)
    specials = {tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id}
    lines = []
    for row in heldout[0]["token_ids"][:count]:
        tokens = [tokenizer.id_to_token(t) for t in row if t not in specials]
        # Whole words only: alphabetic and not continued by a "##" piece.
        words = [i for i in range(len(tokens) - 1) if tokens[i].isalpha() and not tokens[i + 1].startswith("##")]
        if not words:
            continue
        i = int(rng.choice(words))
        text = " ".join(tokens[max(0, i - 10) : i] + ["[MASK]"] + tokens[i + 1 : i + 8]).replace(" ##", "")
        guesses = ", ".join(f"{token} {p:.2f}" for token, p in fill_mask(pretrainer.generator, tokenizer, text)[0])
        lines.append(f"  {text}\n    original: {tokens[i]}; generator: {guesses}")
    return lines


def docstring_kind_demo(backbone, tokenizer, epochs, seed):
    """Fine-tunes the pretrained discriminator, and the same encoder at its initial weights, on a real
    labelled task every Python carries (a docstring's first sentence: class or function?)."""
    (train_x, train_y), (dev_x, dev_y) = docstring_kind_task(seed=seed)
    majority = int(np.bincount(train_y).argmax())
    scores = {"examples": {"train": len(train_y), "dev": len(dev_y)},
              "majority_class_accuracy": float(np.mean(dev_y == majority))}
    # The config carries the seed: from_config rebuilds the weights pretraining started from.
    for name, encoder in (("pretrained", backbone), ("random_init", ElectraBackbone.from_config(backbone.get_config()))):
        keras.utils.set_random_seed(seed)
        model = ElectraClassifier(encoder, len(DOCSTRING_KINDS), ElectraTextPreprocessor(tokenizer, 64), seed=seed)
        fine_tune(model, train_x, train_y, epochs=epochs, learning_rate=finetuning_learning_rate(encoder.hidden_dim))
        scores[f"{name}_accuracy"] = accuracy(np.argmax(model.predict(dev_x, verbose=0), axis=-1), dev_y)
    return scores


def run(args):
    run_dir = Path(args.out or time.strftime("runs/pretrain-%Y%m%d-%H%M%S"))
    if run_dir.exists() and any(run_dir.iterdir()):
        raise FileExistsError(f"--out {run_dir}: exists and is not empty; choose a new run directory")
    if args.data:
        data_dir = Path(args.data)
        manifest = read_manifest(data_dir)  # before the run directory exists: bad data leaves nothing
        run_dir.mkdir(parents=True, exist_ok=True)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        data_dir = default_data(run_dir, args)
        manifest = read_manifest(data_dir)
    tokenizer = ElectraTokenizer.from_vocab_file(data_dir / manifest["vocab_file"], lowercase=manifest["lowercase"])
    training = TRAINING[args.size]
    batch_size = args.batch_size or training["batch_size"]
    learning_rate = args.learning_rate or training["learning_rate"]
    warmup = args.warmup_steps if args.warmup_steps is not None else min(args.steps // 10, 10_000)
    if manifest["max_length"] > 512:
        raise ValueError(f"{data_dir}: max_length {manifest['max_length']} exceeds the 512 positions of the model")

    pretrainer = ElectraPretrainer.from_size(
        args.size, vocab_size=manifest["vocab_size"], seed=args.seed,
        **special_token_arguments(manifest),
    )
    pretrainer.compile(learning_rate=learning_rate, warmup_steps=warmup, total_steps=args.steps)
    train = PretrainingDataset(data_dir, batch_size, num_batches=args.steps, seed=args.seed)
    heldout = PretrainingDataset(data_dir, batch_size, split="heldout", shuffle=False)
    print(f"{keras.backend.backend()} backend, {args.size} model "
          f"({pretrainer.discriminator.count_params() + pretrainer.discriminator_head.count_params():,} "
          f"discriminator parameters), {train.num_examples:,} training / {heldout.num_examples:,} held-out "
          f"examples of {manifest['max_length']} tokens, {args.steps} steps of {batch_size}")

    before = pretrainer.evaluate(heldout, verbose=0, return_dict=True)
    callbacks = [
        # append: fit_in_chunks calls fit twice, and a fresh CSVLogger file would lose the first chunk.
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        PeriodicCheckpoint(run_dir / "checkpoints", every=args.save_every),
    ]
    if importlib.util.find_spec("tensorflow") and importlib.util.find_spec("tensorboard"):
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")))
    else:
        print("TensorBoard logs need tensorflow and tensorboard, not both installed; history.csv has the numbers.")
    start = time.time()
    log_every = min(args.log_every, args.steps)
    history = fit_in_chunks(pretrainer, train, heldout, args.steps, log_every, callbacks)
    seconds = time.time() - start
    after = pretrainer.evaluate(heldout, verbose=0, return_dict=True)

    save_model_atomic(pretrainer, run_dir / "pretrainer.keras")
    save_model_atomic(pretrainer.discriminator, run_dir / "discriminator.keras")
    tokenizer.save(run_dir)
    steps_axis = np.minimum(np.arange(1, len(history["loss"]) + 1) * log_every, args.steps)
    plot_history(history, steps_axis, run_dir / "curves.png", [
        ("losses", ("loss", "mlm_loss", "disc_loss")),
        ("discriminator", ("disc_accuracy", "disc_auc", "disc_precision", "disc_recall")),
        ("held-out", ("val_disc_accuracy", "val_disc_auc", "val_mlm_accuracy")),
    ])
    baseline = 1.0 - after["replaced_fraction"]
    metrics = {
        "backend": keras.backend.backend(), "size": args.size, "steps": args.steps, "batch_size": batch_size,
        "train_seconds": seconds, "heldout_examples": heldout.num_examples,
        "before": before, "after": after, "all_original_accuracy": baseline,
    }
    write_json_atomic(run_dir / "metrics.json", metrics)

    print(f"\nheld-out metrics, before -> after {args.steps} steps ({seconds:.0f} s):")
    for name in REPORTED:
        print(f"  {name:15s} {before[name]:8.4f} -> {after[name]:8.4f}")
    print(f"  (labelling every token original would score disc_accuracy {baseline:.4f})")
    print("fill-mask on held-out text:")
    print("\n".join(fill_mask_examples(pretrainer, tokenizer, heldout)))
    if not args.data and args.finetune_epochs:
        print(f"\nfine-tuning demo: class or function docstring? {args.finetune_epochs} epochs from the "
              "pretrained discriminator, and the same from its initial weights")
        # After the models are saved: the demo fine-tunes the discriminator in place.
        demo = metrics["finetuning"] = docstring_kind_demo(
            pretrainer.discriminator, tokenizer, args.finetune_epochs, args.seed
        )
        write_json_atomic(run_dir / "metrics.json", metrics)
        print(f"fine-tuning demo, dev accuracy on {demo['examples']['dev']} docstrings (class or function?):")
        print(f"  pretrained encoder {demo['pretrained_accuracy']:.4f}, randomly initialised "
              f"{demo['random_init_accuracy']:.4f}, majority class {demo['majority_class_accuracy']:.4f}")
    print(f"saved to {run_dir}/: pretrainer.keras, discriminator.keras, vocab.txt, tokenizer_config.json, curves.png, metrics.json")
