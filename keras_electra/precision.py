"""`--mixed-precision auto`: bfloat16 where the processor computes it natively and the backend gains
from it, float32 elsewhere (docs/mixed-precision.md; measured in docs/performance.md, "bfloat16 on a
CPU").

Native bfloat16 is read from what the processor says it has: on a CPU, the instruction-set features
the operating system lists (`avx512_bf16` or `amx_bf16` on x86, `bf16` on Arm); on a GPU, the
backend's own answer (compute capability 8.0 or later). Keras' JAX backend gains nothing from
bfloat16 on a CPU (XLA:CPU does not use the BF16 instructions: docs/performance.md), so it stays in
float32 there.
"""

import platform
import subprocess
from pathlib import Path

import keras

# Backends whose CPU step runs faster in bfloat16 where the CPU has the instructions.
CPU_BFLOAT16_BACKENDS = ("tensorflow", "torch")
# CPU features that compute bfloat16 products natively.
X86_FEATURES = ("amx_bf16", "avx512_bf16")
ARM_FEATURE = "bf16"


def cpu_bfloat16_feature(cpuinfo=Path("/proc/cpuinfo")):
    """The name of the CPU feature that computes bfloat16 natively, or None."""
    if cpuinfo.is_file():
        flags = set()
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                flags.update(value.split())
        for feature in (*X86_FEATURES, ARM_FEATURE):
            if feature in flags:
                return feature
        return None
    if platform.system() == "Darwin":
        return _darwin_feature()
    return None


def _darwin_feature():
    """Apple silicon reports bfloat16 as `hw.optional.arm.FEAT_BF16` (M2 and later)."""
    try:
        answer = subprocess.run(
            ["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True
        )
    except OSError:
        return None
    return "FEAT_BF16" if answer.stdout.strip() == "1" else None


def gpu_bfloat16():
    """`(has a GPU, it computes bfloat16)` as Keras' backend sees its first GPU."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        available = torch.cuda.is_available()
        return available, available and torch.cuda.get_device_capability()[0] >= 8
    if backend == "jax":
        import jax

        gpus = [device for device in jax.devices() if device.platform == "gpu"]
        capability = getattr(gpus[0], "compute_capability", "0") if gpus else "0"
        return bool(gpus), float(capability) >= 8.0
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        return bool(gpus), details.get("compute_capability", (0, 0)) >= (8, 0)
    return False, False


def resolve(choice):
    """`(dtype policy, why)` for `--mixed-precision CHOICE`: `auto` resolved, any other kept."""
    if choice != "auto":
        return choice, "as asked"
    backend = keras.backend.backend()
    has_gpu, gpu_computes_it = gpu_bfloat16()
    if has_gpu:
        if gpu_computes_it:
            return "mixed_bfloat16", "auto: the GPU computes bfloat16"
        return "float32", "auto: the GPU has no bfloat16 (compute capability below 8.0)"
    feature = cpu_bfloat16_feature()
    if feature is None:
        return "float32", "auto: the CPU has no bfloat16 instructions"
    if backend not in CPU_BFLOAT16_BACKENDS:
        return "float32", f"auto: the CPU has {feature}, but {backend} gains nothing from it"
    return "mixed_bfloat16", f"auto: the CPU has {feature}"
