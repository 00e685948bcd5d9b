#!/usr/bin/env bash
# The GPU check, one prepared script: run it from anywhere on a machine with an NVIDIA GPU, torch and
# triton, and no network and no Keras. It writes markdown tables and logs to OUT_DIR.
#
#     benchmarks/gpu_check.sh OUT_DIR
#
# Keras and the small packages the library needs beyond such an image travel as wheels in .whl/ at the
# repository root (git-ignored). Fetch them on a machine with pip access, for the GPU machine's Python:
#
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux2014_x86_64 \
#         -d .whl keras==3.15.1 namex optree
#     python3 -m pip wheel --no-deps -w .whl seqeval==1.2.2      # an sdist only: build the wheel here
#
# The Hugging Face rows of the pretraining-step table also need transformers and its dependencies there
# (add `transformers tokenizers huggingface_hub safetensors regex pyyaml tqdm filelock fsspec` to the
# download); without them those rows are reported as failed and ours are still measured.
#
# Budget: under 10 minutes on an H200 (the benchmarks are the bulk of it).
set -uo pipefail
OUT=${1:?usage: benchmarks/gpu_check.sh OUT_DIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SITE=$(mktemp -d)
if ! python3 -c "import keras" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" .whl/*.whl || exit 1
fi
# The project is not installed there: its packages come from the checkout, the kernels under their
# installed name.
ln -s "$ROOT/kernels" "$SITE/keras_electra_kernels"
export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND=torch PYTHONUNBUFFERED=1

status=0
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c "import sys, torch, triton, keras; print('python', sys.version.split()[0], '| torch', torch.__version__, '| triton', triton.__version__, '| keras', keras.__version__)"
} 2>&1 | tee "$OUT/machine.txt"

# GPU-only tests (bfloat16 numerics, the autotuned compiled kernels, torch.compile, a training step
# through the kernel), then the attention tests again, compiled this time.
timeout 240 python3 -m pytest -q -p no:cacheprovider -o addopts="" \
    tests/test_triton_attention.py tests/test_attention.py 2>&1 | tee "$OUT/gpu_tests.log" || status=1

timeout 300 python3 benchmarks/attention.py --out "$OUT/attention.md" 2>&1 | tee "$OUT/attention.log" || status=1

# ELECTRA-Small and -Base pretraining steps: ours with and without the kernel, and Hugging Face (SDPA).
timeout 240 python3 benchmarks/pretrain_step_gpu.py --out "$OUT/pretrain_step_gpu.md" 2>&1 \
    | tee "$OUT/pretrain_step_gpu.log" || status=1

echo "gpu_check: exit $status; results in $OUT"
exit $status
