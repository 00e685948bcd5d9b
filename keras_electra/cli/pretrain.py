"""`keras-electra pretrain`: joint generator/discriminator training on a data directory."""

import importlib.util
import inspect
import os
import time
from pathlib import Path

import keras
import numpy as np

from keras_electra.callbacks import NonFiniteLossGuard, PeriodicCheckpoint, StopOnInterrupt, fit_in_chunks
from keras_electra.cli.finetune import add_precision_arguments
from keras_electra.cli.plotting import plot_history
from keras_electra.cli.runs import (
    RESUMABLE_CHANGES, RUN_FILE, check_out_directory, read_history, report_non_finite_loss, resume_point,
    run_settings, save_interrupted,
)
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
from keras_electra.models.presets import SIZES, TRAINING, finetuning_learning_rate, pretrainer_config
from keras_electra.pretraining import distribution as distribution_lib
from keras_electra.pretraining.electra_pretrainer import ElectraPretrainer
from keras_electra.pretraining.optimizer import pretraining_optimizer
from keras_electra.pretraining.fill_mask import fill_mask

# --finetune-epochs only changes the demo that follows the run.
PRETRAIN_RESUMABLE_CHANGES = (*RESUMABLE_CHANGES, "finetune_epochs")
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
    parser.add_argument("--keep-checkpoints", type=int, default=3, metavar="K", help="checkpoints kept (the last K)")
    parser.add_argument(
        "--resume", action="store_true",
        help="continue the run in --out from its last good checkpoint (weights, optimizer, schedule, random "
        "state, data position): run the interrupted command again with --resume added",
    )
    parser.add_argument(
        "--on-non-finite", choices=("stop", "skip"), default="stop",
        help="a NaN or infinite loss: stop, naming the step (the last checkpoint stays the last good state), "
        "or skip that batch's update and count it",
    )
    parser.add_argument("--log-every", type=int, default=50, metavar="N", help="steps per point of the curves")
    parser.add_argument("--vocab-size", type=int, default=8192, help="vocabulary of the default corpus")
    parser.add_argument(
        "--distribution", choices=distribution_lib.KINDS, default="none",
        help="JAX backend only. data: replicate the model on every device (of every host) and split each "
        "global batch (--batch-size) over them; model: also shard the encoders' kernels and the embedding "
        "tables over --model-parallel devices. Multi-host: run the same command on every host with "
        "KERAS_DISTRIBUTION_JOB_ADDRESSES (the coordinator's host:port), KERAS_DISTRIBUTION_NUM_PROCESSES "
        "and KERAS_DISTRIBUTION_PROCESS_ID set (process K > 0 writes its copy of RUN to RUN-processK)",
    )
    parser.add_argument(
        "--model-parallel", type=int, default=None, metavar="N",
        help="with --distribution model: devices per model replica, at most one host's (default: the largest "
        "such degree that keeps every attention head on one device)",
    )
    parser.add_argument(
        "--finetune-epochs", type=int, default=3, metavar="N",
        help="default corpus only: epochs of the fine-tuning demo that follows pretraining (0 skips it)",
    )
    add_precision_arguments(
        parser, ", as do --steps, --warmup-steps, --save-every and --log-every (checkpoint names count batches)"
    )
    parser.set_defaults(run=run)


def default_data(run_dir, args):
    """Builds the default corpus's data inside the run directory."""
    print("No --data: building the default corpus from this Python's standard-library documentation.")
    corpus = write_stdlib_corpus(run_dir / "corpus" / "stdlib_docs.txt")
    build_pretraining_data(corpus, run_dir / "data", max_length=128, vocab_size=args.vocab_size, seed=args.seed)
    return run_dir / "data"


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


def set_up_distribution(args):
    """--distribution and the multi-host environment: the `keras.distribution` object, or None."""
    if args.distribution != "none" and keras.backend.backend() != "jax":
        raise ValueError(
            f"--distribution {args.distribution} needs the JAX backend (keras.distribution runs on JAX only "
            f"in Keras {keras.__version__}); KERAS_BACKEND is {keras.backend.backend()!r}"
        )
    if args.model_parallel is not None and args.distribution != "model":
        raise ValueError("--model-parallel needs --distribution model")
    if any(name in os.environ for name in distribution_lib.ENVIRONMENT):
        if args.distribution == "none":
            raise ValueError("KERAS_DISTRIBUTION_* is set (a multi-host run): choose --distribution data or model")
        if not args.data:
            raise ValueError("a multi-host run needs --data: a data directory that every host can read")
        distribution_lib.initialize_from_environment()
    if args.model_parallel is not None and args.model_parallel > distribution_lib.local_device_count():
        raise ValueError(
            f"--model-parallel {args.model_parallel}: at most the {distribution_lib.local_device_count()} devices "
            "of one host (each process must hold a whole model replica to save checkpoints)"
        )
    distribution = distribution_lib.distribution_for(
        args.distribution, config=pretrainer_config(args.size), model_parallel=args.model_parallel
    )
    if distribution_lib.process_index() > 0:
        # Every process saves (a save takes them all); process k > 0 writes its copy to RUN-processK,
        # which also keeps a shared filesystem free of clashes and gives --resume its own checkpoints.
        out = args.out or time.strftime("runs/pretrain-%Y%m%d-%H%M%S")
        args.out = f"{out.rstrip('/')}-process{distribution_lib.process_index()}"
    return distribution


def run(args):
    """`pretrain` under --distribution; the global distribution is restored afterwards."""
    distribution = set_up_distribution(args)
    previous = keras.distribution.distribution() if distribution else None
    if distribution:
        keras.distribution.set_distribution(distribution)
    try:
        return pretrain(args, distribution)
    finally:
        if distribution:
            keras.distribution.set_distribution(previous)


def check_length(data_dir, manifest, size):
    default = inspect.signature(ElectraPretrainer).parameters["max_sequence_length"].default
    positions = pretrainer_config(size).get("max_sequence_length", default)
    if manifest["max_length"] > positions:
        raise ValueError(f"{data_dir}: max_length {manifest['max_length']} exceeds the {positions} positions "
                         f"of the {size} model")


def pretrain(args, distribution=None):
    if not args.resume:
        args.out = args.out or time.strftime("runs/pretrain-%Y%m%d-%H%M%S")
    run_dir, resuming = check_out_directory(args)
    if resuming and not args.data and (run_dir / "data" / "manifest.json").exists():
        data_dir = run_dir / "data"  # the default corpus, built by the interrupted run
        manifest = read_manifest(data_dir)
    elif args.data:
        data_dir = Path(args.data)
        manifest = read_manifest(data_dir)  # before the run directory exists: bad data leaves nothing
        check_length(data_dir, manifest, args.size)
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

    checkpoint, start_step, record = (
        resume_point(args, run_dir, PRETRAIN_RESUMABLE_CHANGES) if resuming else (None, 0, None)
    )
    # --steps counts optimizer updates (the schedule's steps); fit runs `accumulate` batches per update.
    accumulate = args.gradient_accumulation_steps
    if checkpoint:
        # Weights, optimizer state (with the schedule's position) and every seed's state.
        pretrainer = keras.models.load_model(checkpoint)
        print(f"resuming from {checkpoint}: batch {start_step} of {args.steps * accumulate}")
    else:
        pretrainer = ElectraPretrainer.from_size(
            args.size, vocab_size=manifest["vocab_size"], seed=args.seed, dtype=args.mixed_precision,
            **special_token_arguments(manifest),
        )
        pretrainer.compile(optimizer=pretraining_optimizer(
            learning_rate, warmup, args.steps, gradient_accumulation_steps=accumulate,
            skip_non_finite=args.on_non_finite == "skip",
        ))
    # Each process reads its own slice of every global batch; Keras splits it over the process's devices.
    distribution_lib.check_batch_size(batch_size, distribution)
    num_shards, shard_index = distribution_lib.process_shard(distribution)
    shards = dict(num_shards=num_shards, shard_index=shard_index)

    def batches(first, count):
        return PretrainingDataset(data_dir, batch_size, num_batches=count, seed=args.seed,
                                  start_example=first * batch_size, **shards)

    train = batches(start_step, args.steps * accumulate - start_step)
    heldout = PretrainingDataset(
        data_dir, batch_size, split="heldout", shuffle=False, drop_remainder=distribution is not None, **shards
    )
    if distribution is not None:
        print(f"{distribution!r}; this process reads data shard {shard_index + 1} of {num_shards}: "
              f"{batch_size // num_shards} examples of every global batch of {batch_size}")
    print(f"{keras.backend.backend()} backend, {args.size} model "
          f"({pretrainer.discriminator.count_params() + pretrainer.discriminator_head.count_params():,} "
          f"discriminator parameters), {train.num_examples:,} training / {heldout.num_examples:,} held-out "
          f"examples of {manifest['max_length']} tokens, {args.steps} steps of {batch_size}"
          + (f" x {accumulate} accumulated batches" if accumulate > 1 else "") + f", {args.mixed_precision}")

    log_every = min(args.log_every, args.steps) * accumulate
    if resuming:
        read_history(run_dir / "history.csv", before=start_step // log_every)
    if checkpoint:
        before = record["before"]
    else:
        before = pretrainer.evaluate(heldout, verbose=0, return_dict=True)
        settings = run_settings(args, PRETRAIN_RESUMABLE_CHANGES)
        write_json_atomic(run_dir / RUN_FILE, {"settings": settings, "before": before})
    saver = PeriodicCheckpoint(run_dir / "checkpoints", every=args.save_every * accumulate,
                               keep=args.keep_checkpoints, initial_step=start_step)
    guard, interrupt = NonFiniteLossGuard(initial_step=start_step), StopOnInterrupt(initial_step=start_step)
    callbacks = [
        # append: fit_in_chunks calls fit once per epoch.
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        interrupt, saver,
    ] + ([guard] if args.on_non_finite == "stop" else [])
    if importlib.util.find_spec("tensorflow") and importlib.util.find_spec("tensorboard"):
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")))
    else:
        print("TensorBoard logs need tensorflow and tensorboard, not both installed; history.csv has the numbers.")
    start = time.time()
    fit_in_chunks(pretrainer, batches, args.steps * accumulate, log_every, callbacks, start=start_step,
                  validation_data=heldout)
    seconds = time.time() - start
    if guard.stopped_at is not None:
        return report_non_finite_loss("pretrain", guard, run_dir / "checkpoints", "--resume would replay the same "
                                      "batches from it: start a new run with a lower --learning-rate, or with "
                                      "--on-non-finite skip")
    if interrupt.interrupted_at is not None:
        return save_interrupted("pretrain", pretrainer, run_dir / "checkpoints", interrupt.interrupted_at,
                                args.keep_checkpoints)
    history = read_history(run_dir / "history.csv")
    after = pretrainer.evaluate(heldout, verbose=0, return_dict=True)

    save_model_atomic(pretrainer, run_dir / "pretrainer.keras")
    save_model_atomic(pretrainer.discriminator, run_dir / "discriminator.keras")
    tokenizer.save(run_dir)
    steps_axis = np.minimum(np.arange(1, len(history["loss"]) + 1) * log_every // accumulate, args.steps)
    plot_history(history, steps_axis, run_dir / "curves.png", [
        ("losses", ("loss", "mlm_loss", "disc_loss")),
        ("discriminator", ("disc_accuracy", "disc_auc", "disc_precision", "disc_recall")),
        ("held-out", ("val_disc_accuracy", "val_disc_auc", "val_mlm_accuracy")),
    ])
    baseline = 1.0 - after["replaced_fraction"]
    metrics = {
        "backend": keras.backend.backend(), "size": args.size, "steps": args.steps, "batch_size": batch_size,
        "train_seconds": seconds, "heldout_examples": heldout.num_examples,
        "mixed_precision": args.mixed_precision, "gradient_accumulation_steps": accumulate,
        "before": before, "after": after, "all_original_accuracy": baseline,
    }
    if args.on_non_finite == "skip":
        # Under mixed_float16 the loss-scale optimizer skips such steps itself, and ours sees none.
        optimizer = getattr(pretrainer.optimizer, "inner_optimizer", pretrainer.optimizer)
        metrics["skipped_batches"] = int(keras.ops.convert_to_numpy(optimizer.skipped_steps))
        print(f"{metrics['skipped_batches']} batches with a NaN or infinite gradient were skipped")
    write_json_atomic(run_dir / "metrics.json", metrics)

    print(f"\nheld-out metrics, before -> after {args.steps} steps ({seconds:.0f} s):")
    for name in REPORTED:
        print(f"  {name:15s} {before[name]:8.4f} -> {after[name]:8.4f}")
    print(f"  (labelling every token original would score disc_accuracy {baseline:.4f})")
    print("fill-mask on held-out text:")
    # The same examples in every process: the generator's computation spans them all.
    questions = heldout if num_shards == 1 else PretrainingDataset(data_dir, batch_size, split="heldout", shuffle=False)
    print("\n".join(fill_mask_examples(pretrainer, tokenizer, questions)))
    if not args.data and args.finetune_epochs and distribution is not None:
        print("\nThe fine-tuning demo runs on one device: skipped under --distribution "
              f"(`keras-electra finetune --model {run_dir}` fine-tunes the discriminator).")
    elif not args.data and args.finetune_epochs:
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
