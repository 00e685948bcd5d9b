"""--mixed-precision auto (keras_electra/precision.py): the processor's bfloat16 read as the operating
system reports it, and the policy each case gets."""

import pytest

from keras_electra import precision

X86_WITH = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n\nprocessor\t: 1\n"
X86_AMX = "flags\t\t: fpu avx512f amx_bf16 amx_tile\n"
X86_WITHOUT = "flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
ARM_WITH = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
ARM_WITHOUT = "Features\t: fp asimd evtstrm aes crc32\n"


@pytest.mark.parametrize(
    "cpuinfo, feature",
    [
        (X86_WITH, "avx512_bf16"),
        (X86_AMX, "amx_bf16"),
        (X86_WITHOUT, None),
        (ARM_WITH, "bf16"),
        (ARM_WITHOUT, None),
    ],
)
def test_the_cpu_feature_is_read_from_cpuinfo(tmp_path, cpuinfo, feature):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert precision.cpu_bfloat16_feature(path) == feature


@pytest.mark.parametrize(
    "backend, gpu, feature, expected",
    [
        ("torch", (False, False), "avx512_bf16", "mixed_bfloat16"),
        ("tensorflow", (False, False), "amx_bf16", "mixed_bfloat16"),
        ("jax", (False, False), "avx512_bf16", "float32"),  # XLA:CPU gains nothing
        ("torch", (False, False), None, "float32"),
        ("jax", (True, True), None, "mixed_bfloat16"),
        ("torch", (True, False), "avx512_bf16", "float32"),  # the GPU decides, not the host CPU
    ],
)
def test_auto_chooses_bfloat16_only_where_computed_natively(
    monkeypatch, backend, gpu, feature, expected
):
    monkeypatch.setattr(precision.keras.backend, "backend", lambda: backend)
    monkeypatch.setattr(precision, "gpu_bfloat16", lambda: gpu)
    monkeypatch.setattr(precision, "cpu_bfloat16_feature", lambda: feature)
    policy, reason = precision.resolve("auto")
    assert policy == expected
    assert reason.startswith("auto: ")
    assert ("the GPU" in reason) == gpu[0]
    if feature is not None and not gpu[0]:
        assert feature in reason


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_a_named_policy_is_kept(policy):
    assert precision.resolve(policy) == (policy, "as asked")
