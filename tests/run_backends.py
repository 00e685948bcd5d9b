"""Runs the test suite once per Keras backend, each in its own process.

Usage: python tests/run_backends.py [--large] [pytest arguments]
The fast tier by default; --large (a pytest option of tests/conftest.py) adds the tests marked
large: end-to-end command runs, subprocesses, long training and the shared data, in a second
process per backend (`-m large`), so that the six parts share the cores more evenly than three
passes of unequal length did (measured: JAX's whole pass 937 s, PyTorch's 467 s).
KERAS_ELECTRA_BACKENDS="jax torch" limits the backends. KERAS_ELECTRA_TEST_JOBS sets how many
parts run at once (default 2), longest first. Much of a part is single-threaded (tracing, XLA
compiling, the command-line tests' subprocesses), so two parts share two cores better than one
uses them. Each part's output is printed whole when it ends, so that parts never interleave.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

# The longest pass first, so that the others fill the second slot while it runs.
BACKENDS = os.environ.get("KERAS_ELECTRA_BACKENDS", "jax tensorflow torch").split()
JOBS = max(1, int(os.environ.get("KERAS_ELECTRA_TEST_JOBS", "2")))
COUNTS = ("passed", "failed", "skipped", "error")


def report(text):
    """One write per message: print() writes the text and its newline apart, and two passes interleave."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def parts(args):
    """`(backend, tier, pytest arguments)` of each process, the longest first: with --large, a backend's
    large tests run apart from its fast ones."""
    if "--large" not in args:
        return [(backend, "fast", args) for backend in BACKENDS]
    fast = [arg for arg in args if arg != "--large"]
    large = [(backend, "large", [*args, "-m", "large"]) for backend in BACKENDS]
    return large + [(backend, "fast", fast) for backend in BACKENDS]


def run(backend, tier, args):
    name = f"KERAS_BACKEND={backend}, {tier} tier"
    report(f"===== {name}: started =====")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"keras-electra-tests-{backend}-") as basetemp:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--basetemp={basetemp}",
                *args,
            ],
            env={**os.environ, "KERAS_BACKEND": backend, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    counts = {key: 0 for key in COUNTS}
    for number, key in re.findall(
        r"(\d+) (passed|failed|skipped|error)", lines[-1] if lines else ""
    ):
        counts[key] += int(number)
    report(f"\n===== {name}: {time.monotonic() - start:.0f} s =====\n{proc.stdout}")
    # pytest's 5, nothing collected, is no failure of a large part: the files asked for may hold no
    # large test. In the fast tier it still fails, as pytest alone would.
    return (0 if tier == "large" and proc.returncode == 5 else proc.returncode), counts


def main():
    jobs = parts(sys.argv[1:])
    with ThreadPoolExecutor(JOBS) as pool:
        results = list(pool.map(lambda part: run(*part), jobs))
    totals = {key: sum(counts[key] for _, counts in results) for key in COUNTS}
    failed = [
        f"{backend}, {tier} tier (pytest exit {code})"
        for (backend, tier, _), (code, _) in zip(jobs, results)
        if code != 0
    ]
    print(
        f"\nbackends: {', '.join(BACKENDS)}" + (f"; failing: {', '.join(failed)}" if failed else "")
    )
    failures = (
        totals["failed"]
        + totals["error"]
        + (len(failed) if not totals["failed"] + totals["error"] else 0)
    )
    print(f"tests: {totals['passed']} passed, {failures} failed, {totals['skipped']} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
