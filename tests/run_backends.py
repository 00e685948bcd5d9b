"""Runs the test suite once per Keras backend, each in its own process.

Usage: python tests/run_backends.py [pytest arguments]
KERAS_ELECTRA_BACKENDS="jax torch" limits the backends.
"""

import os
import re
import subprocess
import sys

BACKENDS = os.environ.get("KERAS_ELECTRA_BACKENDS", "tensorflow jax torch").split()
COUNTS = ("passed", "failed", "skipped", "error")


def run(backend, args):
    print(f"\n===== KERAS_BACKEND={backend} =====", flush=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        env={**os.environ, "KERAS_BACKEND": backend, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    last = ""
    for line in proc.stdout:
        print(line, end="", flush=True)
        if line.strip():
            last = line
    counts = {key: 0 for key in COUNTS}
    for number, key in re.findall(r"(\d+) (passed|failed|skipped|error)", last):
        counts[key] += int(number)
    return proc.wait(), counts


def main():
    totals = {key: 0 for key in COUNTS}
    failed = []
    for backend in BACKENDS:
        code, counts = run(backend, sys.argv[1:])
        for key in COUNTS:
            totals[key] += counts[key]
        if code != 0:
            failed.append(f"{backend} (pytest exit {code})")
    print(f"\nbackends: {', '.join(BACKENDS)}" + (f"; failing: {', '.join(failed)}" if failed else ""))
    failures = totals["failed"] + totals["error"] + (len(failed) if not totals["failed"] + totals["error"] else 0)
    print(f"tests: {totals['passed']} passed, {failures} failed, {totals['skipped']} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
