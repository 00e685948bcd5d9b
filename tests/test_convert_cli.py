"""`keras-electra convert`: foreign checkpoints to .keras files the other commands read, ours back to
Hugging Face directories, atomically, with errors that name the argument."""

import json
import shutil

import keras
import numpy as np
import pytest
from conftest import to_numpy
from test_conversion import (
    GENERATOR,
    VOCAB,
    authors_variables,
    batch,
    hf_model,
    needs_tensorflow_pass,
    write_tf1_checkpoint,
)
from test_finetune_cli import run_cli

import keras_electra as ke
from keras_electra.cli.main import main

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A discriminator and generator pair sharing embeddings, each directory with its vocabulary, as on the Hub.
    One attention head per tower: the authors' rule max(1, H // 64), which a TF1 checkpoint relies on."""
    discriminator = hf_model(
        "pretraining", seed=1, tower={**GENERATOR, "hidden_size": 21, "num_attention_heads": 1}
    )
    generator = hf_model("generator", seed=2, tower={**GENERATOR, "num_attention_heads": 1})
    generator.electra.embeddings.load_state_dict(discriminator.electra.embeddings.state_dict())
    folder = tmp_path_factory.mktemp("released")
    tokenizer = ke.ElectraTokenizer(VOCAB)
    for name, model in (("discriminator", discriminator), ("generator", generator)):
        model.save_pretrained(folder / name)
        tokenizer.save(folder / name)
    return discriminator, generator, folder


@pytest.mark.large
def test_discriminator_to_keras_and_back(tmp_path, released):
    discriminator, _, folder = released
    out = tmp_path / "converted" / "discriminator.keras"
    assert main(["convert", str(folder / "discriminator"), str(out)]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "discriminator.keras",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    x = batch()
    logits = to_numpy(keras.saving.load_model(out)(x))
    np.testing.assert_array_equal(
        logits, to_numpy(ke.load_huggingface(folder / "discriminator")(x))
    )

    back = tmp_path / "back"
    assert main(["convert", str(out), str(back)]) == 0
    summary = json.loads((back / "summary.json").read_text())
    assert summary["models"] == {".": "ElectraForPreTraining"} and summary["tokenizer"] is True
    assert summary["source_format"] == "keras"
    original = safetensors_numpy.load_file(folder / "discriminator" / "model.safetensors")
    exported = safetensors_numpy.load_file(back / "model.safetensors")
    assert set(exported) == set(original)
    for key, value in original.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)
    assert (back / "vocab.txt").read_text() == (folder / "discriminator" / "vocab.txt").read_text()
    assert not list(tmp_path.glob("*.tmp-*")) and not list(out.parent.glob(".*"))


@pytest.mark.large
def test_pair_to_a_pretraining_run_and_back(tmp_path, released, capsys):
    _, _, folder = released
    run = tmp_path / "run"
    discriminator, generator = str(folder / "discriminator"), str(folder / "generator")
    assert (
        main(["convert", discriminator, str(run / "pretrainer.keras"), "--generator", generator])
        == 0
    )
    assert isinstance(
        keras.saving.load_model(run / "pretrainer.keras", compile=False), ke.ElectraPretrainer
    )
    # The run directory is what `fill-mask` and `detect` read.
    assert main(["fill-mask", "--model", str(run), "--top-k", "2", "w3 [MASK] w5"]) == 0
    assert "[MASK] 1:" in capsys.readouterr().out

    assert main(["convert", str(run / "pretrainer.keras"), str(tmp_path / "pair")]) == 0
    summary = json.loads((tmp_path / "pair" / "summary.json").read_text())
    assert summary["models"] == {
        "discriminator": "ElectraForPreTraining",
        "generator": "ElectraForMaskedLM",
    }
    assert isinstance(
        transformers.ElectraForMaskedLM.from_pretrained(tmp_path / "pair" / "generator"),
        torch.nn.Module,
    )


@pytest.mark.large
@needs_tensorflow_pass
def test_tf1_checkpoint_straight_to_huggingface(tmp_path, released):
    discriminator, generator, _ = released
    variables = authors_variables(discriminator, generator)
    prefix = write_tf1_checkpoint(tmp_path / "electra_small" / "model.ckpt-7", variables)
    ke.ElectraTokenizer(VOCAB).save(
        tmp_path / "electra_small"
    )  # the authors ship vocab.txt beside the checkpoint
    assert main(["convert", prefix, str(tmp_path / "hf"), "--to", "huggingface"]) == 0
    summary = json.loads((tmp_path / "hf" / "summary.json").read_text())
    assert summary["source_format"] == "tf1" and summary["tokenizer"] is True
    for name, original in (("discriminator", discriminator), ("generator", generator)):
        exported = safetensors_numpy.load_file(tmp_path / "hf" / name / "model.safetensors")
        for key, value in original.state_dict().items():
            if key in exported:
                np.testing.assert_array_equal(exported[key], value.numpy(), err_msg=key)


@pytest.mark.large
@needs_tensorflow_pass
def test_keras_hub_preset_to_keras(tmp_path):
    keras_hub = pytest.importorskip("keras_hub")
    theirs = keras_hub.models.ElectraBackbone(
        vocab_size=len(VOCAB),
        num_layers=1,
        num_heads=3,
        hidden_dim=21,
        embedding_dim=10,
        intermediate_dim=37,
        max_sequence_length=40,
    )
    theirs.save_to_preset(tmp_path / "preset")
    assert (
        main(["convert", str(tmp_path / "preset"), str(tmp_path / "out" / "backbone.keras")]) == 0
    )
    loaded = keras.saving.load_model(tmp_path / "out" / "backbone.keras")
    assert isinstance(loaded, ke.ElectraBackbone)
    for a, b in zip(loaded.weights, ke.load_keras_hub(theirs).weights, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["{hf}", "{out}/model.keras", "--model", "pretrainer"], "--generator DIR"),
        (
            ["{hf}", "{out}/model.keras", "--model", "question-answerer"],
            "missing qa_outputs.weight",
        ),
        (["{hf}", "{out}/model"], "--to keras writes a .keras file"),
        (["{tmp}", "{out}/model.keras"], "not a Hugging Face directory"),
        (
            ["{tmp}/nothing", "{out}/model.keras"],
            "argument SRC: {tmp}/nothing: no such file or folder",
        ),
        (["{hf}", "{hf}/../discriminator/vocab.txt", "--to", "huggingface"], "exists"),
    ],
)
def test_errors_name_the_argument_and_leave_nothing(tmp_path, released, capsys, arguments, message):
    folder = released[2]
    out = tmp_path / "out"
    arguments = [a.format(hf=folder / "discriminator", out=out, tmp=tmp_path) for a in arguments]
    code, _, err = run_cli(capsys, "convert", *arguments)
    assert code == 2 and message.format(tmp=tmp_path) in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob("*.tmp-*"))


@pytest.mark.parametrize("damaged", ["discriminator", "generator"])
def test_a_truncated_safetensors_file_is_named(tmp_path, released, capsys, damaged):
    """safetensors' own error names no file; with a pair, the one truncated must be told apart."""
    for name in ("discriminator", "generator"):
        shutil.copytree(released[2] / name, tmp_path / name)
    weights = tmp_path / damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    out = tmp_path / "run" / "pretrainer.keras"
    code, _, err = run_cli(
        capsys, "convert", tmp_path / "discriminator", out, "--generator", tmp_path / "generator"
    )
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{weights}: not a complete safetensors file" in err
    assert not (tmp_path / "run").exists()


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["convert", "--help"])
    assert exit_.value.code == 0
    assert "usage: keras-electra convert" in capsys.readouterr().out
