"""BERT-family encoders read as ELECTRA backbones (docs/conversion.md, "BERT-family encoders"): a
`BertModel` directory, or the `bert.` encoder under a head, gives an `ElectraBackbone` whose embeddings
are as wide as its layers; the pooler and heads are left out and said so; anything but the backbone is
refused. Models are tiny, built here with transformers' own classes."""

import json

import keras
import numpy as np
import pytest
from conftest import to_numpy
from test_conversion import TOLERANCE, VOCAB, batch, hf_outputs, max_difference, perturbed
from test_finetune_cli import run_cli

import keras_electra as ke
from keras_electra.conversion.huggingface import left_out

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

# Odd widths, as in test_conversion.py: a wrong transpose or head split cannot pass by symmetry.
BERT = dict(
    vocab_size=len(VOCAB),
    hidden_size=21,
    num_hidden_layers=2,
    num_attention_heads=3,
    intermediate_size=37,
    max_position_embeddings=40,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
POOLER_LINE = "BertModel's pooler (pooler.dense) left out: ELECTRA has none"


def bert(class_name="BertModel", seed=0, **overrides):
    config = transformers.BertConfig(**{**BERT, **overrides})
    return perturbed(getattr(transformers, class_name)(config), seed)


def saved(model, directory, tokenizer=True):
    model.save_pretrained(directory)  # safetensors
    if tokenizer:
        ke.ElectraTokenizer(VOCAB).save(directory)
    return directory


def test_bert_model_parity(tmp_path):
    hf = bert()
    backbone = ke.load_huggingface(saved(hf, tmp_path / "bert"))
    assert isinstance(backbone, ke.ElectraBackbone)
    assert backbone.embeddings_project is None and backbone.embedding_dim == 21
    x = batch()
    expected = hf_outputs(hf, x)
    assert expected.std() > 0.1  # outputs that differ row to row: the comparison means something
    assert max_difference(to_numpy(backbone(x)["sequence_output"]), expected) <= TOLERANCE
    # Ours always exports as ELECTRA: ElectraModel computes the same encoder.
    ke.save_huggingface(backbone, tmp_path / "electra")
    electra = transformers.ElectraModel.from_pretrained(tmp_path / "electra").eval()
    assert max_difference(hf_outputs(electra, x), expected) <= TOLERANCE


@pytest.mark.parametrize(
    "class_name,parts",
    [
        ("BertForMaskedLM", ["BertForMaskedLM's head (cls) left out"]),
        (
            "BertForSequenceClassification",
            [
                "BertForSequenceClassification's pooler (pooler.dense) left out",
                "BertForSequenceClassification's head (classifier) left out",
            ],
        ),
    ],
)
def test_backbone_from_bert_with_a_head(tmp_path, class_name, parts):
    hf = bert(class_name, seed=1)
    directory = saved(hf, tmp_path / "bert", tokenizer=False)
    backbone = ke.load_huggingface(directory)  # a BERT directory's default: the backbone
    x = batch()
    expected = hf_outputs(hf.bert, x)
    assert max_difference(to_numpy(backbone(x)["sequence_output"]), expected) <= TOLERANCE
    said = left_out(directory, "backbone")
    assert len(said) == len(parts) and all(p in s for p, s in zip(parts, said, strict=True))


def test_tf1_layer_norm_names(tmp_path):
    """BERT checkpoints converted from TF1 name LayerNorms' parameters gamma and beta."""
    hf = bert("BertForPreTraining", seed=2)
    directory = saved(hf, tmp_path / "bert", tokenizer=False)
    state = safetensors_torch.load_file(directory / "model.safetensors")
    state = {
        key.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        ): value
        for key, value in state.items()
    }
    safetensors_torch.save_file(state, directory / "model.safetensors", metadata={"format": "pt"})
    backbone = ke.load_huggingface(directory, "backbone")
    expected = hf_outputs(hf.bert, batch())
    assert max_difference(to_numpy(backbone(batch())["sequence_output"]), expected) <= TOLERANCE


@pytest.fixture(scope="module")
def bert_directory(tmp_path_factory):
    return saved(bert(), tmp_path_factory.mktemp("bert"))


@pytest.mark.parametrize("model", ["generator", "classifier", "pretraining"])
def test_only_the_backbone_is_read_from_bert(bert_directory, model):
    with pytest.raises(ValueError) as error:
        ke.load_huggingface(bert_directory, model)
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert str(bert_directory / "config.json") in message and "only --model backbone" in message


def test_a_bert_pair_is_no_pretrainer(bert_directory):
    with pytest.raises(ValueError, match="only --model backbone .* not 'pretrainer'"):
        ke.load_huggingface_pretrainer(bert_directory, bert_directory)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"hidden_act": "gelu_new"}, "hidden_act='gelu_new'"),
        ({"position_embedding_type": "relative_key"}, "position_embedding_type='relative_key'"),
        ({"is_decoder": True}, "is_decoder=True"),
    ],
)
def test_bert_configs_we_do_not_compute_are_refused(tmp_path, bert_directory, change, message):
    directory = tmp_path / "bert"
    directory.mkdir()
    (directory / "model.safetensors").write_bytes(
        (bert_directory / "model.safetensors").read_bytes()
    )
    config = json.loads((bert_directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(ValueError, match=message) as error:
        ke.load_huggingface(directory)
    assert str(directory / "config.json") in str(error.value)


def test_convert_command(tmp_path, bert_directory, capsys):
    out = tmp_path / "converted" / "backbone.keras"
    code, stdout, err = run_cli(capsys, "convert", bert_directory, out)
    assert code == 0, err
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "backbone.keras",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    assert POOLER_LINE in stdout and len(stdout.strip().splitlines()) == 1
    loaded = keras.saving.load_model(out)
    assert isinstance(loaded, ke.ElectraBackbone)
    for a, b in zip(loaded.weights, ke.load_huggingface(bert_directory).weights, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))

    code, _, err = run_cli(
        capsys, "convert", bert_directory, tmp_path / "g.keras", "--model", "generator"
    )
    assert code == 2 and "only --model backbone" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "g.keras").exists()
