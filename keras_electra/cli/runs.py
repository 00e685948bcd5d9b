"""A run directory's record, for `--resume`, and how a run shows its progress and its stop: what
`pretrain` and `finetune` share."""

import csv
import io
import json
import math
import sys
from pathlib import Path

from keras_electra.callbacks import PeriodicCheckpoint, latest_checkpoint
from keras_electra.callbacks.fit_in_chunks import PLAIN_LINES
from keras_electra.cli.exit_status import FAILED, StoppedEarly, stopped_by
from keras_electra.data.atomic import write_atomic
from keras_electra.data.shards import write_json_atomic

RUN_FILE = "run.json"
# `pretrain`'s --out when none is given: a new directory for each run.
DEFAULT_OUT = "runs/pretrain-%Y%m%d-%H%M%S"
# Arguments that may differ when a run is resumed: they do not change what is trained (the policy
# --mixed-precision auto chose is compared, not why).
RESUMABLE_CHANGES = ("resume", "out", "save_every", "keep_checkpoints", "mixed_precision_reason")


def progress_verbosity():
    """`fit_in_chunks`' verbose: Keras' progress bar on a terminal; elsewhere (stdout redirected to a log
    file: CI, a scheduler, nohup), where the bar would write every step with its escape codes, one
    plain line per log interval."""
    return 1 if sys.stdout.isatty() else PLAIN_LINES


def check_out_directory(args):
    """The run directory of `--out`, and whether it holds a run that `--resume` continues."""
    if args.resume and not args.out:
        raise ValueError("--resume needs --out: the directory of the run to continue")
    run_dir = Path(args.out)
    occupied = run_dir.exists() and any(run_dir.iterdir())
    if occupied and not args.resume:
        raise FileExistsError(
            f"--out {run_dir}: exists and is not empty; choose a new directory "
            "(or add --resume to continue the run there)"
        )
    return run_dir, occupied


def run_settings(args, changeable=RESUMABLE_CHANGES):
    return {k: v for k, v in sorted(vars(args).items()) if k not in changeable and not callable(v)}


def record_run(args, run_dir, changeable=RESUMABLE_CHANGES, **extra):
    """run.json: the settings that `--resume` compares, and `extra` (what a resumed run reads back)."""
    write_json_atomic(run_dir / RUN_FILE, {"settings": run_settings(args, changeable), **extra})


def check_settings(args, run_dir, changeable=RESUMABLE_CHANGES):
    """The record of the run in `run_dir` (None if it stopped before writing one); an error names any
    argument that differs from the run's."""
    record = json.loads((run_dir / RUN_FILE).read_text()) if (run_dir / RUN_FILE).exists() else None
    if record is None:
        return None
    for name, value in run_settings(args, changeable).items():
        if record["settings"].get(name) != value:
            flag = "--" + name.replace("_", "-")
            raise ValueError(
                f"--resume: {flag} is {value!r}, but the run in {run_dir} was started with "
                f"{record['settings'].get(name)!r}; resume with the command that started it"
            )
    return record


def resume_point(args, run_dir, changeable=RESUMABLE_CHANGES):
    """(checkpoint path or None, step, the run's record) for --resume; errors name what differs."""
    record = check_settings(args, run_dir, changeable)
    if record is None:
        return None, 0, None  # stopped before it recorded its settings: start afresh
    found = latest_checkpoint(run_dir / "checkpoints")
    return (*found, record) if found else (None, 0, record)


def read_history(path, before=None, column="epoch"):
    """A CSV log (history.csv) as {column: [floats]}; with `before`, the file is first cut to the rows
    whose `column` is below it (a resumed run redoes the rest)."""
    rows = list(csv.DictReader(path.read_text().splitlines())) if path.exists() else []
    if before is not None and path.exists():
        rows = [row for row in rows if int(row[column]) < before]
        kept = io.StringIO()
        if rows:
            writer = csv.DictWriter(kept, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        write_atomic(path, lambda file: file.write(kept.getvalue().encode()))
    # CSVLogger writes "NA" for a metric an epoch lacks (val_ ones when fit has no validation data).
    return {
        name: [math.nan if row[name] == "NA" else float(row[name]) for row in rows]
        for name in (rows[0] if rows else {})
        if name != column
    }


def report_non_finite_loss(command, guard, checkpoint_dir, advice):
    """Says at which batch `NonFiniteLossGuard` stopped and which checkpoint is the last good one."""
    last = latest_checkpoint(checkpoint_dir)
    print(
        f"keras-electra {command}: error: the loss is {guard.loss} at batch {guard.stopped_at}; training "
        f"stopped. The last good checkpoint is {last[0] if last else 'none (none was written yet)'}; {advice}",
        file=sys.stderr,
    )


def save_interrupted(command, model, checkpoint_dir, step, keep):
    """The checkpoint of a run Ctrl-C or SIGTERM stopped at `step` (unless its weights are not
    finite)."""
    saver = PeriodicCheckpoint(checkpoint_dir, every=1, keep=keep)
    saver.set_model(model)
    saved = saver.save_if_finite(step)
    print(
        f"keras-electra {command}: interrupted at batch {step}; "
        + (f"saved {saved}." if saved else "its weights are not finite, so nothing was saved.")
        + " Run the same command with --resume to continue.",
        file=sys.stderr,
    )


def check_trained_to_the_end(command, model, checkpoint_dir, guard, interrupt, keep, advice):
    """Raises `StoppedEarly` when `guard` (a NaN or infinite loss: status 1) or `interrupt` (Ctrl-C:
    status 130, SIGTERM: 143, after saving a checkpoint) stopped the run, having said so on stderr."""
    if guard.stopped_at is not None:
        report_non_finite_loss(command, guard, checkpoint_dir, advice)
        raise StoppedEarly(FAILED)
    if interrupt.interrupted_at is not None:
        save_interrupted(command, model, checkpoint_dir, interrupt.interrupted_at, keep)
        raise StoppedEarly(stopped_by(interrupt.signal))
