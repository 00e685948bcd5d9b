"""`compare`'s fine-tuning stage: the encoder of each pretraining run at each of its points, fine-tuned
on the task with every seed; each fine-tuning keeps its scores.json, so a resumed comparison skips it."""

import json
import shutil
import time

import keras

from keras_electra.callbacks import checkpoints
from keras_electra.cli.finetune import finetune, take
from keras_electra.data.shards import write_json_atomic
from keras_electra.finetuning import tasks
from keras_electra.finetuning.training import with_dtype_policy
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.presets import finetuning_learning_rate


def finetuning_data(args):
    """((train x, y), (dev x, y)) of --task."""
    train = take(*tasks.load_split(args.task, args.task_data, "train"), args.max_train_examples)
    return train, take(*tasks.load_split(args.task, args.task_data, "dev"), args.max_dev_examples)


def encoder_at(run_dir, step):
    """The encoder of a `pretrain` run at `step`: 0 is its initial weights (the saved config carries the
    seed, so `from_config` rebuilds them), the last step is discriminator.keras, others a checkpoint."""
    final = keras.saving.load_model(run_dir / "discriminator.keras", compile=False)
    if step == 0:
        return ElectraBackbone.from_config(final.get_config())
    found = {s: path for path, s in checkpoints(run_dir / "checkpoints")}
    if step in found:
        return keras.saving.load_model(found[step], compile=False).discriminator
    if step == json.loads((run_dir / "metrics.json").read_text())["steps"]:
        return final
    raise FileNotFoundError(
        f"{run_dir / 'checkpoints'}: no intact checkpoint of step {step} to fine-tune"
    )


def finetune_all(args, out, runs, tokenizer, split, stages):
    """Fine-tunes the initial weights (every objective's encoder starts from the same ones: same size
    and seed), then each run's later points, with each seed; adds each run's "points" (step, FLOPs,
    per-seed dev scores)."""
    first = out / next(iter(runs.values()))["run"]
    initial = finetune_seeds(
        args, out / "initial", "the initial weights", first, 0, tokenizer, split, stages
    )
    for run in runs.values():
        run["points"] = [{"step": 0, "flops": 0, "scores": initial}]
        for step in run["point_steps"][1:]:
            flops = step * run["flops_per_step"]
            scores = finetune_seeds(
                args,
                out / run["objective"] / "finetune" / f"step-{step:07d}",
                f"{run['objective']} at step {step:,} ({flops:.3g} FLOPs)",
                out / run["run"],
                step,
                tokenizer,
                split,
                stages,
            )
            run["points"].append({"step": step, "flops": flops, "scores": scores})


def finetune_seeds(args, out_dir, what, run_dir, step, tokenizer, split, stages):
    """The dev scores of the encoder of `run_dir` at `step`, fine-tuned with each seed in `out_dir`/seed-S."""
    scores = []
    for seed in range(args.seeds):
        stages.start(f"finetune {what}, seed {seed}")
        result = finetune_once(
            args, out_dir / f"seed-{seed}", run_dir, step, tokenizer, split, seed
        )
        scores.append(result["dev"]["score"])
    return scores


def finetune_once(args, out_dir, run_dir, step, tokenizer, split, seed):
    """scores.json of one fine-tuning (read back when a resumed comparison has it already)."""
    if (out_dir / "scores.json").exists():
        result = json.loads((out_dir / "scores.json").read_text())
        print(f"  done before: dev score {result['dev']['score']:.4f}")
        return result
    backbone = with_dtype_policy(encoder_at(run_dir, step), args.mixed_precision)
    start = time.time()
    scores = finetune(
        args.task,
        backbone,
        tokenizer,
        *split,
        out_dir,
        epochs=args.finetune_epochs or tasks.EPOCHS.get(args.task, 3),
        learning_rate=args.finetune_learning_rate or finetuning_learning_rate(backbone.hidden_dim),
        seed=seed,
        verbose=0,
    )
    result = {"dev": scores, "seconds": time.time() - start}
    write_json_atomic(out_dir / "scores.json", result)
    # The comparison keeps scores, not models (the encoders are in the pretrain runs): frees the disk.
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    (out_dir / "model.keras").unlink(missing_ok=True)
    print(
        "  dev "
        + ", ".join(f"{name} {value:.4f}" for name, value in scores.items())
        + f" ({result['seconds']:.0f} s)"
    )
    return result
