"""`pretrain --init-from SRC` (docs/pretraining.md, "Continue from a released model"): data built with a
model's vocabulary, the pretrainer a continued run starts from (SRC's own, or a new generator around an
encoder), the refusals that leave nothing written, and, in the large tier, continued runs through the
command line: from a run directory (its final held-out metrics at step 0), from a Hugging Face pair,
a second phase at 512 tokens, and --resume. The step itself is checked against a transformers reference
in test_step_parity.py."""

import json
import shutil
import signal
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import BACKEND, SMALL_SHARDS, to_numpy, write_corpus

import keras_electra as ke
from keras_electra.cli.init_from import initial_source
from keras_electra.cli.main import main
from keras_electra.data.corpus_builder import build_pretraining_data
from keras_electra.data.shards import read_manifest
from keras_electra.data.source_vocabulary import source_vocabulary

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

# Continuing is the same Python on every backend, tested once in the torch pass (loading a file and
# evaluating it identically on each backend is test_saving.py's).
command_line_only = pytest.mark.skipif(
    BACKEND != "torch", reason="command-line logic: tested in the torch pass"
)

# The discriminator of the authors' shapes in small: E < H, one head of 64 per 64 of width.
DISCRIMINATOR = dict(
    embedding_size=16,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=1,
    intermediate_size=96,
)
GENERATOR = dict(
    embedding_size=16,
    hidden_size=24,
    num_hidden_layers=2,
    num_attention_heads=1,
    intermediate_size=32,
)


def electra_config(vocab_size, tower, max_positions=64):
    return transformers.ElectraConfig(
        vocab_size=vocab_size,
        max_position_embeddings=max_positions,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **tower,
    )


def save_with_vocabulary(model, directory, vocab_file):
    model.save_pretrained(directory)
    ke.ElectraTokenizer.from_vocab_file(vocab_file).save(directory)
    return directory


@pytest.fixture(scope="module")
def released(vocab_file, tmp_path_factory):
    """A Hugging Face pair sharing its embeddings, as the authors release them, with the data's vocabulary."""
    size = len(vocab_file.read_text("utf-8").splitlines())
    torch.manual_seed(0)
    discriminator = transformers.ElectraForPreTraining(electra_config(size, DISCRIMINATOR))
    generator = transformers.ElectraForMaskedLM(electra_config(size, GENERATOR))
    generator.electra.embeddings.load_state_dict(discriminator.electra.embeddings.state_dict())
    folder = tmp_path_factory.mktemp("released")
    return SimpleNamespace(
        discriminator=save_with_vocabulary(discriminator, folder / "discriminator", vocab_file),
        generator=save_with_vocabulary(generator, folder / "generator", vocab_file),
        model=discriminator,
    )


def bert_encoder(vocab_file, directory, hidden_size, heads, max_positions=64):
    """A BertModel (embedding size = hidden size, a pooler) saved with the data's vocabulary."""
    size = len(vocab_file.read_text("utf-8").splitlines())
    config = transformers.BertConfig(
        vocab_size=size,
        hidden_size=hidden_size,
        num_hidden_layers=1,
        num_attention_heads=heads,
        intermediate_size=32,
        max_position_embeddings=max_positions,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(1)
    return save_with_vocabulary(transformers.BertModel(config), directory, vocab_file)


def continue_arguments(src, data, **flags):
    """What the command line's parser gives `initial_source` for `pretrain --init-from SRC`."""
    defaults = dict(
        init_from=str(src),
        init_generator=None,
        data=str(data),
        objective="electra",
        dropout=None,
        seed=0,
    )
    return SimpleNamespace(**{**defaults, **flags})


def data_tokenizer(data_dir):
    manifest = read_manifest(data_dir)
    return manifest, ke.ElectraTokenizer.from_vocab_file(
        data_dir / manifest["vocab_file"], lowercase=manifest["lowercase"]
    )


def test_build_data_takes_the_vocabulary_and_casing_of_a_model(corpus, released, tmp_path, capsys):
    argv = ["build-data", "--corpus", str(corpus), "--vocab", str(released.discriminator)]
    argv += ["--max-length", "24", "--workers", "1"]
    assert main([*argv, "--out", str(tmp_path / "data")]) == 0
    manifest = read_manifest(tmp_path / "data")
    expected = ke.ElectraTokenizer.from_directory(released.discriminator)
    assert manifest["vocab_sha256"] == expected.vocabulary_hash() and manifest["lowercase"]
    assert f"vocabulary of {released.discriminator}" in capsys.readouterr().out
    assert main([*argv, "--cased", "--out", str(tmp_path / "cased")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--cased" in error[0] and "uncased" in error[0]
    assert not (tmp_path / "cased").exists()


def test_the_vocabulary_is_found_beside_every_kind_of_model(vocab_file, data_dir, tmp_path):
    expected = ke.ElectraTokenizer.from_vocab_file(vocab_file).vocabulary_hash()
    beside = tmp_path / "converted"
    beside.mkdir()
    ke.ElectraTokenizer.from_vocab_file(vocab_file, lowercase=False).save(beside)
    (beside / "model.keras").write_bytes(b"not read: the vocabulary is found without the weights")
    unfinished = tmp_path / "run"
    unfinished.mkdir()
    (unfinished / "run.json").write_text(json.dumps({"settings": {"data": str(data_dir)}}))
    preset = tmp_path / "preset" / "assets" / "tokenizer"
    preset.mkdir(parents=True)
    shutil.copy(vocab_file, preset / "vocabulary.txt")
    (tmp_path / "preset" / "tokenizer.json").write_text(
        json.dumps({"config": {"lowercase": False}})
    )
    for src, lowercase in (
        (beside / "model.keras", False),
        (unfinished, True),
        (tmp_path / "preset", False),
    ):
        tokenizer = source_vocabulary(src)
        assert (tokenizer.vocabulary_hash(), tokenizer.lowercase) == (expected, lowercase), src
    with pytest.raises(ValueError, match=f"{tmp_path / 'run'}/?.*no vocabulary"):
        source_vocabulary(tmp_path / "run" / "pretrainer.keras")


def hf_batch(vocab_size):
    rng = np.random.default_rng(0)
    ids = rng.integers(5, vocab_size, (2, 12)).astype("int32")
    ids[:, 0], ids[1, 8:] = 2, 0
    mask = (ids != 0).astype("int32")
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}


def torch_inputs(x):
    return dict(
        input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
        token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long),
        attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long),
    )


def test_an_encoder_alone_gets_a_new_generator_of_the_papers_width(vocab_file, data_dir, tmp_path):
    """A BERT encoder 48 wide is nearest ELECTRA-Small, whose generator is 1/4 as wide: 12."""
    src = bert_encoder(vocab_file, tmp_path / "bert", hidden_size=48, heads=2)
    manifest, tokenizer = data_tokenizer(data_dir)
    source = initial_source(
        continue_arguments(src, data_dir), data_dir, manifest, tokenizer, "float32"
    )
    pretrainer = source.pretrainer
    assert (pretrainer.hidden_dim, pretrainer.embedding_dim, pretrainer.generator_hidden_dim) == (
        48,
        48,
        12,
    )
    assert source.record["generator"] == "new" and source.record["discriminator_head"] == "new"
    assert "a new generator 12 wide" in source.description
    x = hf_batch(pretrainer.vocab_size)
    with torch.no_grad():
        theirs = transformers.BertModel.from_pretrained(src)(**torch_inputs(x)).last_hidden_state
    ours = to_numpy(pretrainer.discriminator(x)["sequence_output"])
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-4)


def test_a_released_discriminator_keeps_its_head_and_a_pair_its_generator(released, data_dir):
    manifest, tokenizer = data_tokenizer(data_dir)
    alone = initial_source(
        continue_arguments(released.discriminator, data_dir),
        data_dir,
        manifest,
        tokenizer,
        "float32",
    )
    x = hf_batch(alone.pretrainer.vocab_size)
    sequence = alone.pretrainer.discriminator(x)["sequence_output"]
    with torch.no_grad():
        theirs = released.model(**torch_inputs(x)).logits.numpy()
    np.testing.assert_allclose(
        to_numpy(alone.pretrainer.discriminator_head(sequence)), theirs, atol=1e-4
    )
    assert alone.record["discriminator_head"] == "SRC's" and alone.record["generator"] == "new"
    paired = continue_arguments(
        released.discriminator, data_dir, init_generator=str(released.generator)
    )
    pair = initial_source(paired, data_dir, manifest, tokenizer, "float32")
    assert pair.pretrainer.generator_hidden_dim == GENERATOR["hidden_size"]
    assert pair.record["generator"] == "SRC's" and "with the generator" in pair.description


@pytest.fixture(scope="module")
def refused_sources(released, vocab_file, corpus, tmp_path_factory):
    """For each refusal: (SRC or None, --data, the extra flags, what the one line must name)."""
    folder = tmp_path_factory.mktemp("refused")
    other = folder / "other"
    # 100 tokens: the corpus' merges run out at 130, so any larger size learns `vocab_file`'s own.
    build_pretraining_data(corpus, other, vocab_size=100, **SMALL_SHARDS)
    short = transformers.ElectraForPreTraining(
        electra_config(
            len(vocab_file.read_text("utf-8").splitlines()), DISCRIMINATOR, max_positions=16
        )
    )
    damaged = shutil.copytree(released.discriminator, folder / "damaged")
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return {
        # hidden 1036: nearest ELECTRA-Large, whose 1/4 is 259 wide: 4 heads of 64 do not divide it
        "no generator": (
            bert_encoder(vocab_file, folder / "wide", 1036, 4),
            None,
            [],
            "--init-generator",
        ),
        "vocabulary": (released.discriminator, other, [], "vocab.txt"),
        "positions": (
            save_with_vocabulary(short, folder / "short", vocab_file),
            None,
            [],
            "24 exceeds the 16",
        ),
        "damaged": (damaged, None, [], "model.safetensors"),
        "not a generator": (
            released.discriminator,
            None,
            ["--init-generator", str(corpus)],
            "config.json",
        ),
        "no --init-from": (
            None,
            None,
            ["--init-generator", str(released.generator)],
            "--init-from",
        ),
    }


REFUSALS = (
    "no generator",
    "vocabulary",
    "positions",
    "damaged",
    "not a generator",
    "no --init-from",
)


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refused_source_is_one_line_exit_2_and_nothing_written(
    refused_sources, data_dir, tmp_path, capsys, refusal
):
    src, data, flags, named = refused_sources[refusal]
    out = tmp_path / "run"
    argv = ["pretrain", "--data", str(data or data_dir), "--steps", "2", "--out", str(out), *flags]
    assert main(argv + (["--init-from", str(src)] if src else [])) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and named in error[0], error
    assert not out.exists()


def pretrain(data, out, *flags):
    argv = ["pretrain", "--data", str(data), "--out", str(out), "--batch-size", "4"]
    return main([*argv, "--log-every", "2", "--save-every", "2", "--finetune-epochs", "0", *flags])


def metrics_of(run):
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.large
@command_line_only
def test_a_run_continues_from_its_final_heldout_metrics_and_trains_on(data_dir, tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    assert pretrain(data_dir, first, "--size", "tiny", "--steps", "2") == 0
    assert pretrain(data_dir, second, "--init-from", str(first), "--steps", "2") == 0
    printed = capsys.readouterr().out
    assert f"continuing from the pretrain run directory {first / 'pretrainer.keras'}" in printed
    assert "(before: " in printed and "our tiny size's pretraining rate" in printed
    before, after = metrics_of(second)["before"], metrics_of(second)["after"]
    assert before == metrics_of(first)["after"]  # the same held-out draws on the same weights
    assert after["loss"] != before["loss"]
    assert metrics_of(second)["init_from"]["format"] == "run"


@pytest.mark.large
@command_line_only
def test_a_continued_run_resumes_as_a_run_from_scratch(
    data_dir, released, tmp_path, capsys, monkeypatch
):
    from test_resume import (
        assert_same_state,
        newest_checkpoint_step,
        signal_after_the_first_checkpoint,
    )

    flags = [
        "--init-from",
        str(released.discriminator),
        "--init-generator",
        str(released.generator),
    ]
    flags += ["--steps", "6", "--warmup-steps", "2", "--dropout", "0"]
    assert pretrain(data_dir, tmp_path / "whole", *flags) == 0
    out = tmp_path / "stopped"
    signal_after_the_first_checkpoint(monkeypatch, signal.SIGTERM)
    assert pretrain(data_dir, out, *flags) == 143
    step = newest_checkpoint_step(out)
    assert pretrain(data_dir, out, *flags, "--resume") == 0
    assert f"batch {step} of 6" in capsys.readouterr().out
    assert_same_state(out / "pretrainer.keras", tmp_path / "whole" / "pretrainer.keras")
    assert metrics_of(out)["init_from"] == metrics_of(tmp_path / "whole")["init_from"]
    assert metrics_of(out)["init_from"]["generator"] == "SRC's"


@pytest.mark.large
@command_line_only
def test_two_phases_through_the_command_line_128_then_512_tokens(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus", files=4, documents=30)
    build = ["build-data", "--corpus", str(corpus), "--workers", "1"]
    assert (
        main(
            [*build, "--vocab-size", "300", "--max-length", "128", "--out", str(tmp_path / "d128")]
        )
        == 0
    )
    phase_one, phase_two = tmp_path / "phase1", tmp_path / "phase2"
    assert pretrain(tmp_path / "d128", phase_one, "--size", "tiny", "--steps", "2") == 0
    assert (
        main(
            [
                *build,
                "--vocab",
                str(phase_one),
                "--max-length",
                "512",
                "--out",
                str(tmp_path / "d512"),
            ]
        )
        == 0
    )
    assert (
        pretrain(tmp_path / "d512", phase_two, "--init-from", str(phase_one), "--steps", "2") == 0
    )
    assert "a second phase at 512 tokens (SRC trained at 128)" in capsys.readouterr().out
    metrics = metrics_of(phase_two)
    assert metrics["init_from"]["second_phase"] == {"from": 128, "to": 512}
    assert np.isfinite(metrics["after"]["loss"]) and (phase_two / "discriminator.keras").is_file()


@pytest.mark.skipif(BACKEND != "tensorflow", reason="reads a TF1 checkpoint: the tensorflow pass")
def test_an_authors_tf1_checkpoint_continues_as_its_pair(released, vocab_file, data_dir, tmp_path):
    from test_conversion import authors_variables, write_tf1_checkpoint

    generator = transformers.ElectraForMaskedLM.from_pretrained(released.generator)
    prefix = write_tf1_checkpoint(
        tmp_path / "electra" / "model.ckpt-7", authors_variables(released.model, generator)
    )
    shutil.copy(vocab_file, tmp_path / "electra" / "vocab.txt")
    manifest, tokenizer = data_tokenizer(data_dir)
    source = initial_source(
        continue_arguments(prefix, data_dir), data_dir, manifest, tokenizer, "float32"
    )
    theirs = initial_source(
        continue_arguments(
            released.discriminator, data_dir, init_generator=str(released.generator)
        ),
        data_dir,
        manifest,
        tokenizer,
        "float32",
    )
    assert source.record["format"] == "tf1" and source.record["generator"] == "SRC's"
    for ours, expected in zip(source.pretrainer.weights, theirs.pretrainer.weights, strict=True):
        np.testing.assert_allclose(to_numpy(ours), to_numpy(expected), atol=1e-6, err_msg=ours.path)
