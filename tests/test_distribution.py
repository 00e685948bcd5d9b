"""Training on several devices with keras.distribution (JAX): same trajectory as one device.

The distributed runs need several devices, which a CPU gets from
XLA_FLAGS=--xla_force_host_platform_device_count=8 set before jax is imported:
they run in a subprocess (this file, run as a script) and write their results
for the tests to check. KERAS_ELECTRA_MULTIPROCESS_TESTS=1 adds a run of two
processes that find each other through keras.distribution.initialize(), as two
hosts would. Keras 3.15 implements keras.distribution on JAX only,
so those tests skip on the other backends; the input sharding, the layout map
and the command line's checks run everywhere.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_electra as ke
from keras_electra.data.pretraining_dataset import PretrainingDataset
from keras_electra.pretraining import distribution as dist

# conftest (make_batch, write_corpus) is imported inside the tests: the worker subprocess runs this file
# as a script and does without it (conftest imports torch and triton).
BACKEND = keras.backend.backend()
JAX_ONLY = pytest.mark.skipif(
    BACKEND != "jax", reason="Keras 3.15 implements keras.distribution on the JAX backend only"
)
DEVICES = 8
MODEL_PARALLEL = 4  # a (2 batch, 4 model) mesh: data and model parallelism at once
VOCAB, BATCH, LENGTH, STEPS = 500, 16, 32, 4
# dropout 0 keeps the comparison to masking and sampling (with the default 0.1 the runs agree as closely);
# one layer per tower: compiling is most of the time (the layout map test checks a two-layer model's paths).
MODEL = dict(vocab_size=VOCAB, seed=0, dropout=0.0, num_layers=1)
RUNS = {
    "one_device": ("none", {}),
    "data": ("data", {}),
    "model": ("model", {"model_parallel": MODEL_PARALLEL}),
    # Two processes of 4 devices each, like two hosts: a model replica per process, the batch split between them.
    "two_processes": ("model", {"model_parallel": DEVICES // 2}),
}


def new_pretrainer():
    pretrainer = ke.ElectraPretrainer.from_size("tiny", **MODEL)
    pretrainer.compile(learning_rate=1e-3, warmup_steps=0, total_steps=100)
    return pretrainer


def probe_outputs(pretrainer, batch):
    """Deterministic outputs (no draws) of both towers, in one jitted call (eager ops compile one by one)."""
    import jax

    positions = np.tile(np.arange(1, 6, dtype="int32"), (len(batch["token_ids"]), 1))
    batch = {**batch, "mask_positions": positions}
    variables = pretrainer.weights

    def outputs(values, batch):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            inputs = {name: batch[name] for name in ("token_ids", "segment_ids", "padding_mask")}
            sequence = pretrainer.discriminator(inputs)["sequence_output"]
            return {
                "mlm_logits": pretrainer.generator(batch),
                "disc_logits": pretrainer.discriminator_head(sequence),
            }

    result = jax.jit(outputs)([v.value for v in variables], batch)
    return {name: np.asarray(value) for name, value in result.items()}


def same_draws(batch):
    """Masking and sampling in a jitted step, the batch on one device vs split over all: equal?"""
    import jax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from keras_electra.pretraining.masking import mask_tokens
    from keras_electra.pretraining.sampling import gumbel_sample

    seed = keras.random.SeedGenerator(7)

    def draw(state, token_ids, padding_mask, logits):
        with keras.StatelessScope(state_mapping=[(seed.state, state)]):
            masked = mask_tokens(
                token_ids,
                padding_mask,
                mask_token_id=103,
                excluded_ids=(0, 101, 102, 103),
                num_predictions=5,
                seed=seed,
            )
            return masked["positions"], masked["token_ids"], gumbel_sample(logits, seed)

    logits = (
        np.random.default_rng(0).normal(size=(len(batch["token_ids"]), 5, VOCAB)).astype("float32")
    )
    arguments = (seed.state.value, batch["token_ids"], batch["padding_mask"], logits)
    one = jax.jit(draw)(*arguments)
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    split = [jax.device_put(seed.state.value, NamedSharding(mesh, PartitionSpec()))] + [
        jax.device_put(x, NamedSharding(mesh, PartitionSpec("batch"))) for x in arguments[1:]
    ]
    many = jax.jit(draw)(*split)
    return all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(one, many))


def train_steps(folder, name, batches):
    """Trains a fresh pretrainer for one step per batch under the run `name`; its record.

    Each process feeds its `process_shard` of every batch. Process 0 writes the final weights,
    outputs on the first batch (one process only) and a `.keras` checkpoint to `folder`.
    """
    kind, options = RUNS[name]
    start = time.time()
    config = ke.pretrainer_config(
        "tiny", **{k: v for k, v in MODEL.items() if k not in ("vocab_size", "seed")}
    )
    keras.distribution.set_distribution(dist.distribution_for(kind, config=config, **options))
    try:
        num_shards, shard_index = dist.process_shard()
        pretrainer = new_pretrainer()
        steps = []
        for batch in batches:
            local = {
                key: np.array_split(value, num_shards)[shard_index] for key, value in batch.items()
            }
            history = pretrainer.fit(
                local, batch_size=BATCH // num_shards, epochs=1, shuffle=False, verbose=0
            )
            steps.append({metric: float(values[0]) for metric, values in history.history.items()})
        if dist.process_index() > 0:
            # Saving takes every process (a multi-process save alone on process 0 waits forever).
            pretrainer.save(folder / f"{name}-process{dist.process_index()}.keras")
            return None
        # Every process holds a whole replica, so each can read the weights without gathering.
        np.savez(folder / f"{name}_weights.npz", *[np.asarray(v.value) for v in pretrainer.weights])
        if num_shards == 1:  # outputs split over processes would need gathering
            np.savez(folder / f"{name}_outputs.npz", **probe_outputs(pretrainer, batches[0]))
        pretrainer.save(folder / f"{name}.keras")
        sharding = pretrainer.weights[0].value.sharding
        return {
            "steps": steps,
            "seconds": time.time() - start,
            "shardings": {
                v.path: [str(axis) for axis in v.value.sharding.spec]
                for v in pretrainer.weights
                if hasattr(v.value.sharding, "spec")
            },
            "mesh": dict(sharding.mesh.shape) if hasattr(sharding, "mesh") else {},
        }
    finally:
        keras.distribution.set_distribution(None)


def load_batches(folder):
    with np.load(folder / "batches.npz") as arrays:
        return [
            {name: arrays[f"{name}_{i}"] for name in ("token_ids", "segment_ids", "padding_mask")}
            for i in range(STEPS)
        ]


def worker(folder, multi_process=False):
    """The subprocess, over 8 devices: the data-parallel and model-parallel runs.

    `multi_process`: one of the processes of the "two_processes" run instead, set up by the
    KERAS_DISTRIBUTION_* variables.
    """
    import jax

    folder = Path(folder)
    batches = load_batches(folder)
    if multi_process:
        assert dist.initialize_from_environment()
        record = train_steps(folder, "two_processes", batches)
        if record:
            record["devices"] = [jax.device_count(), jax.local_device_count(), jax.process_count()]
            (folder / "two_processes.json").write_text(json.dumps(record, indent=1))
        return
    results = {"devices": jax.device_count(), "same_draws": same_draws(batches[0]), "runs": {}}
    for name in ("data", "model"):
        results["runs"][name] = train_steps(folder, name, batches)
    (folder / "results.json").write_text(json.dumps(results, indent=1))


@pytest.fixture(scope="module")
def distributed(tmp_path_factory):
    """The distributed runs (a subprocess over 8 virtual CPU devices) and, meanwhile, the one-device
    run in this process, once for the module: the folder of their files, their records, the batches."""
    from conftest import make_batch

    folder = tmp_path_factory.mktemp("distributed")
    rng = np.random.default_rng(0)
    batches = [
        make_batch(rng, batch_size=BATCH, length=LENGTH, vocab_size=VOCAB) for _ in range(STEPS)
    ]
    np.savez(
        folder / "batches.npz",
        **{f"{k}_{i}": v for i, b in enumerate(batches) for k, v in b.items()},
    )
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={DEVICES}".strip()
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": flags}
    with open(folder / "worker.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, __file__, str(folder)], env=env, stdout=log, stderr=log
        )
        try:
            one_device = train_steps(folder, "one_device", load_batches(folder))
            code = proc.wait(timeout=900)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0, (folder / "worker.log").read_text()[-4000:]
    results = json.loads((folder / "results.json").read_text())
    results["runs"]["one_device"] = one_device
    return folder, results, batches


def trajectory_difference(results, name):
    """Max |difference| per step over every reported metric, `name` vs one device."""
    one, other = results["runs"]["one_device"]["steps"], results["runs"][name]["steps"]
    return [max(abs(a[k] - b[k]) for k in a) for a, b in zip(one, other)]


@pytest.mark.large
@JAX_ONLY
def test_random_draws_do_not_depend_on_how_the_batch_is_split(distributed):
    _, results, _ = distributed
    assert results["devices"] == DEVICES
    assert results["same_draws"]


@pytest.mark.large
@JAX_ONLY
@pytest.mark.parametrize("name", ["data", "model"])
def test_distributed_training_follows_the_one_device_trajectory(distributed, name):
    folder, results, _ = distributed
    one, other = results["runs"]["one_device"]["steps"], results["runs"][name]["steps"]
    assert len(other) == STEPS and one[0].keys() == other[0].keys()
    losses = np.array([[s["loss"] for s in one], [s["loss"] for s in other]])
    assert losses[0, -1] < losses[0, 0] - 1  # it trains
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    for step_one, step_other in zip(one, other):
        for metric in step_one:
            np.testing.assert_allclose(
                step_other[metric], step_one[metric], rtol=1e-4, atol=1e-5, err_msg=metric
            )
    with (
        np.load(folder / "one_device_weights.npz") as a,
        np.load(folder / f"{name}_weights.npz") as b,
    ):
        for key in a:
            np.testing.assert_allclose(b[key], a[key], atol=1e-5, err_msg=key)
    print(
        f"\n{name}: max |difference| per step vs one device", trajectory_difference(results, name)
    )


@pytest.mark.large
@JAX_ONLY
def test_the_layouts_are_applied(distributed):
    _, results, _ = distributed
    data, model = results["runs"]["data"], results["runs"]["model"]
    assert data["mesh"] == {"batch": DEVICES}
    assert all(axis == "None" for axes in data["shardings"].values() for axis in axes)  # replicated
    assert model["mesh"] == {"batch": DEVICES // MODEL_PARALLEL, "model": MODEL_PARALLEL}
    sharded = {path: axes for path, axes in model["shardings"].items() if "model" in axes}
    assert sharded["embedding/token_embedding/embeddings"] == ["None", "model"]
    assert sharded["encoder_layer_0/attention/query/kernel"] == ["None", "model"]
    assert sharded["encoder_layer_0/output_dense/kernel"] == ["model", "None"]
    assert not any("layer_norm" in path or "head" in path for path in sharded)


@pytest.mark.large
@JAX_ONLY
@pytest.mark.parametrize("name", ["data", "model"])
def test_a_distributed_checkpoint_loads_on_one_device(distributed, name):
    import jax

    folder, _, batches = distributed
    assert jax.device_count() == 1  # this process: one device
    loaded = keras.saving.load_model(folder / f"{name}.keras")
    with np.load(folder / f"{name}_weights.npz") as saved:
        for i, variable in enumerate(loaded.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), saved[f"arr_{i}"])
    outputs = probe_outputs(loaded, batches[0])
    with np.load(folder / f"{name}_outputs.npz") as expected:
        for key in expected:
            np.testing.assert_allclose(outputs[key], expected[key], atol=1e-5, err_msg=key)


MULTIPROCESS = pytest.mark.skipif(
    os.environ.get("KERAS_ELECTRA_MULTIPROCESS_TESTS") != "1",
    reason="two more JAX processes (a minute or more on 2 CPU cores): set KERAS_ELECTRA_MULTIPROCESS_TESTS=1",
)


def start_two_processes(command, logs, during=None):
    """Runs `command` as process 0 and 1 of a two-process JAX cluster on this machine (4 CPU devices each),
    and `during()` here meanwhile; asserts both processes succeed and returns what `during` returned."""
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    processes = []
    for index in range(2):
        env = {
            **os.environ,
            "KERAS_BACKEND": "jax",
            "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={DEVICES // 2}",
            "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"localhost:{port}",
            "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
            "KERAS_DISTRIBUTION_PROCESS_ID": str(index),
        }
        log = open(logs / f"process{index}.log", "w")
        processes.append((subprocess.Popen(command, env=env, stdout=log, stderr=log), log))
    try:
        result = during() if during else None
        codes = [process.wait(timeout=900) for process, _ in processes]
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.kill()
            log.close()
    assert codes == [0, 0], [(logs / f"process{i}.log").read_text()[-3000:] for i in range(2)]
    return result


@pytest.mark.large
@JAX_ONLY
@MULTIPROCESS
def test_two_processes_follow_the_one_device_trajectory(distributed):
    """Like two hosts: `keras.distribution.initialize()` from the KERAS_DISTRIBUTION_* variables, each
    process feeding its half of every batch to its own model replica sharded over its 4 devices."""
    folder, results, _ = distributed
    start_two_processes([sys.executable, __file__, str(folder), "two_processes"], folder)
    record = json.loads((folder / "two_processes.json").read_text())
    assert record["devices"] == [DEVICES, DEVICES // 2, 2]
    assert record["mesh"] == {"batch": 2, "model": DEVICES // 2}
    one = results["runs"]["one_device"]["steps"]
    for step_one, step_other in zip(one, record["steps"], strict=True):
        for metric in step_one:
            np.testing.assert_allclose(
                step_other[metric], step_one[metric], rtol=1e-4, atol=1e-5, err_msg=metric
            )
    with (
        np.load(folder / "one_device_weights.npz") as a,
        np.load(folder / "two_processes_weights.npz") as b,
    ):
        for key in a:
            np.testing.assert_allclose(b[key], a[key], atol=1e-5, err_msg=key)
    print(
        "\ntwo processes: max |difference| per step vs one device",
        [max(abs(a[k] - b[k]) for k in a) for a, b in zip(one, record["steps"])],
    )


@pytest.mark.large
@JAX_ONLY
@MULTIPROCESS
def test_pretrain_command_on_two_processes_matches_one_process(tmp_path):
    """`keras-electra pretrain --distribution model` as on two hosts vs `--distribution data` on this
    process's one device: the same history (dropout included) and the same discriminator."""
    import csv

    from conftest import write_corpus

    from keras_electra.cli.main import main
    from keras_electra.data import build_pretraining_data

    corpus = write_corpus(tmp_path / "texts", files=2, documents=25)
    data = tmp_path / "data"
    build_pretraining_data(
        corpus, data, max_length=32, vocab_size=200, heldout_fraction=0.2, workers=1, progress=False
    )
    arguments = [
        "pretrain",
        "--data",
        str(data),
        "--size",
        "tiny",
        "--steps",
        "4",
        "--batch-size",
        "8",
        "--log-every",
        "2",
        "--save-every",
        "2",
    ]
    start_two_processes(
        [
            sys.executable,
            "-m",
            "keras_electra",
            *arguments,
            "--distribution",
            "model",
            "--model-parallel",
            "4",
            "--out",
            str(tmp_path / "two"),
        ],
        tmp_path,
        during=lambda: main([*arguments, "--distribution", "data", "--out", str(tmp_path / "one")]),
    )
    assert keras.distribution.distribution() is None  # restored after the run
    assert "data shard 2 of 2" in (tmp_path / "process1.log").read_text()
    histories = []
    for run in ("one", "two", "two-process1"):
        with open(tmp_path / run / "history.csv") as f:
            histories.append(list(csv.DictReader(f)))
    for one, *others in zip(*histories, strict=True):
        for other in others:
            for column in one:
                np.testing.assert_allclose(
                    float(other[column]), float(one[column]), rtol=1e-4, atol=1e-5, err_msg=column
                )
    one, two = (
        keras.saving.load_model(tmp_path / run / "discriminator.keras") for run in ("one", "two")
    )
    for a, b in zip(one.weights, two.weights, strict=True):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(b), keras.ops.convert_to_numpy(a), atol=1e-5
        )


def test_layout_map_shards_encoder_kernels_and_embedding_tables(tiny_pretrainer):
    mesh = keras.distribution.DeviceMesh(
        (2, 4), ["batch", "model"], devices=[f"cpu:{i}" for i in range(8)]
    )
    with pytest.warns(UserWarning, match="splits attention heads"):  # tiny: 2 and 1 heads
        layouts = dist.layout_map(tiny_pretrainer, mesh)
    sharded = {}
    for variable in tiny_pretrainer.weights:
        layout = layouts[variable.path]
        if layout is not None:
            assert len(layout.axes) == len(variable.shape), variable.path
            sharded[variable.path] = layout.axes
            for size, axis in zip(variable.shape, layout.axes):
                assert axis is None or size % 4 == 0, variable.path
    names = {
        path.split("/", 1)[-1] if path.startswith("encoder_layer") else path for path in sharded
    }
    assert names == {
        "embedding/token_embedding/embeddings",
        "embedding/position_embedding/embeddings",
        "embedding/segment_embedding/embeddings",
        "attention/query/kernel",
        "attention/query/bias",
        "attention/key/kernel",
        "attention/key/bias",
        "attention/value/kernel",
        "attention/value/bias",
        "attention/output/kernel",
        "intermediate_dense/kernel",
        "intermediate_dense/bias",
        "output_dense/kernel",
    }
    # A backbone (a saved discriminator) has the same paths; two devices keep its two heads whole.
    two = keras.distribution.DeviceMesh(
        (4, 2), ["batch", "model"], devices=[f"cpu:{i}" for i in range(8)]
    )
    backbone_layouts = dist.layout_map(tiny_pretrainer.discriminator, two)
    assert backbone_layouts["encoder_layer_1/attention/key/kernel"].axes == (
        None,
        "model",
    )  # split by heads
    assert backbone_layouts["encoder_layer_1/attention/output/kernel"].axes == ("model", None)
    three = keras.distribution.DeviceMesh(
        (1, 3), ["batch", "model"], devices=["cpu:0", "cpu:1", "cpu:2"]
    )
    with pytest.raises(ValueError, match="divisible by 3"):
        dist.layout_map(tiny_pretrainer.get_config(), three)


def test_the_suggested_model_parallel_degree_keeps_heads_whole():
    # Heads (discriminator, generator): tiny 2 and 1, small 4 and 1, base 12 and 4, large 16 and 4.
    sizes = {size: ke.pretrainer_config(size) for size in ("tiny", "small", "base", "large")}
    assert {size: dist.suggested_model_parallel(config, 8) for size, config in sizes.items()} == {
        "tiny": 1,
        "small": 1,
        "base": 4,
        "large": 4,
    }
    assert dist.suggested_model_parallel(sizes["large"], 2) == 2
    assert dist.suggested_model_parallel(sizes["base"], 6) == 2


def test_each_process_reads_its_slice_of_every_global_batch(tmp_path):
    from conftest import write_corpus

    from keras_electra.data import build_pretraining_data

    corpus = write_corpus(tmp_path / "texts", files=2, documents=6)
    data = tmp_path / "data"
    build_pretraining_data(
        corpus, data, max_length=24, vocab_size=200, heldout_fraction=0.2, workers=1, progress=False
    )
    whole = PretrainingDataset(data, 8, num_batches=5, seed=1)
    parts = [
        PretrainingDataset(data, 8, num_batches=5, seed=1, num_shards=4, shard_index=i)
        for i in range(4)
    ]
    for index in range(5):
        joined = np.concatenate([part[index]["token_ids"] for part in parts])
        np.testing.assert_array_equal(joined, whole[index]["token_ids"])
        assert len(parts[1][index]["token_ids"]) == 2
    heldout = PretrainingDataset(data, 4, split="heldout", shuffle=False)
    kept = PretrainingDataset(data, 4, split="heldout", shuffle=False, drop_remainder=True)
    assert len(kept) == heldout.num_examples // 4 and all(
        len(kept[i]["token_ids"]) == 4 for i in range(len(kept))
    )
    with pytest.raises(ValueError, match="multiple of num_shards"):
        PretrainingDataset(data, 6, num_shards=4, shard_index=0)
    assert dist.process_shard(None) == (1, 0)


@pytest.mark.skipif(
    BACKEND == "jax", reason="the error for the backends without keras.distribution"
)
def test_distribution_needs_the_jax_backend(capsys):
    from keras_electra.cli.main import main

    assert main(["pretrain", "--distribution", "data", "--size", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "--distribution data needs the JAX backend" in err and BACKEND in err
    with pytest.raises(ValueError, match="JAX backend"):
        dist.distribution_for("model", config=ke.pretrainer_config("tiny"))


def test_distribution_arguments_are_checked(tmp_path, capsys, monkeypatch):
    from keras_electra.cli.main import main

    assert dist.distribution_for("none") is None
    with pytest.raises(ValueError, match="expected one of"):
        dist.distribution_for("pipeline")
    with pytest.raises(SystemExit):
        main(["pretrain", "--distribution", "pipeline"])
    assert "invalid choice" in capsys.readouterr().err
    if BACKEND == "jax":
        assert main(["pretrain", "--model-parallel", "2", "--out", str(tmp_path / "run")]) == 2
        assert "--model-parallel needs --distribution model" in capsys.readouterr().err
        monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
        assert main(["pretrain", "--distribution", "data", "--out", str(tmp_path / "run")]) == 2
        assert "multi-host run needs --data" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


if __name__ == "__main__":
    worker(sys.argv[1], multi_process=sys.argv[2:] == ["two_processes"])
