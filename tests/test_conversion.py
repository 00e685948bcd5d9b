"""Checkpoint interop (docs/electra.md, "Checkpoint layout"): Hugging Face in and out with numerical
parity on every head, the authors' TF1 checkpoints in, keras-hub's ElectraBackbone in, and refusing
what cannot be loaded safely or faithfully. Models are tiny, built here with transformers' own
classes."""

import json
import shutil

import keras
import numpy as np
import pytest
from conftest import BACKEND, SPECIALS, to_numpy

import keras_electra as ke

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

# Odd widths, embedding != hidden and a vocabulary that is not a power of two, so that a wrong
# transpose, reshape or head split cannot pass by symmetry.
VOCAB = SPECIALS + [f"w{i}" for i in range(206)]
DISCRIMINATOR = dict(
    embedding_size=10,
    hidden_size=21,
    num_hidden_layers=2,
    num_attention_heads=3,
    intermediate_size=37,
)
GENERATOR = dict(
    embedding_size=10,
    hidden_size=15,
    num_hidden_layers=3,
    num_attention_heads=3,
    intermediate_size=23,
)
HF_CLASSES = {
    "backbone": "ElectraModel",
    "pretraining": "ElectraForPreTraining",
    "generator": "ElectraForMaskedLM",
    "classifier": "ElectraForSequenceClassification",
    "token-classifier": "ElectraForTokenClassification",
    "question-answerer": "ElectraForQuestionAnswering",
}
KINDS = tuple(HF_CLASSES)
NUM_LABELS = {"classifier": 3, "token-classifier": 5, "question-answerer": 2}
TOLERANCE = 1e-4  # float32 parity with transformers (docs/electra.md, "Checkpoint layout")
needs_tensorflow_pass = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="backend-independent weight reading (TensorFlow); runs in the tensorflow pass",
)


def hf_config(tower=DISCRIMINATOR, **overrides):
    return transformers.ElectraConfig(
        vocab_size=len(VOCAB),
        max_position_embeddings=40,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        **tower,
        **overrides,
    )


def perturbed(model, seed):
    """HF starts biases at 0 and LayerNorms at 1: move every parameter, so that none is checked trivially."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    return model.eval()


def hf_model(kind, seed=0, tower=DISCRIMINATOR):
    config = hf_config(tower, num_labels=NUM_LABELS.get(kind, 2))
    return perturbed(getattr(transformers, HF_CLASSES[kind])(config), seed)


def batch():
    """Three rows of 9 tokens, two of them padded, with a second segment."""
    rng = np.random.default_rng(0)
    token_ids = rng.integers(5, len(VOCAB), (3, 9)).astype("int32")
    token_ids[:, 0] = 2
    padding_mask = np.ones_like(token_ids)
    padding_mask[1, 6:] = 0
    padding_mask[2, 4:] = 0
    token_ids[padding_mask == 0] = 0
    segment_ids = np.zeros_like(token_ids)
    segment_ids[0, 5:] = 1
    segment_ids[1, 3:6] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def hf_outputs(model, x):
    with torch.no_grad():
        out = model(
            input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long),
        )
    if hasattr(out, "start_logits"):
        return torch.stack([out.start_logits, out.end_logits], dim=-1).numpy()
    return (out.last_hidden_state if hasattr(out, "last_hidden_state") else out.logits).numpy()


def our_outputs(model, kind, x):
    if kind == "backbone":
        return to_numpy(model(x)["sequence_output"])
    if kind == "generator":  # the MLM head at every position, as Hugging Face computes it
        positions = np.tile(
            np.arange(x["token_ids"].shape[1], dtype="int32"), (len(x["token_ids"]), 1)
        )
        return to_numpy(model({**x, "mask_positions": positions}))
    return to_numpy(model(x))


def max_difference(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a.astype("float64") - b.astype("float64"))))


def hf_state(model):
    return {key: value.numpy() for key, value in model.state_dict().items()}


def weights_of(model):
    return [to_numpy(v) for v in model.weights]


@pytest.fixture(scope="module")
def tokenizer():
    return ke.ElectraTokenizer(VOCAB, lowercase=True)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """`{kind: (Hugging Face model, its save_pretrained directory)}`, built on first use."""
    models = {}

    def get(kind):
        if kind not in models:
            model = hf_model(kind)
            directory = tmp_path_factory.mktemp(kind)
            model.save_pretrained(directory)
            models[kind] = (model, directory)
        return models[kind]

    return get


# --- 1. Hugging Face in: parity on every head ---------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_huggingface_parity(saved, kind):
    hf, directory = saved(kind)
    ours = ke.load_huggingface(directory)  # the kind comes from config.json's architectures
    x = batch()
    expected = hf_outputs(hf, x)
    assert expected.std() > 0.1  # outputs that differ row to row: the comparison means something
    assert max_difference(our_outputs(ours, kind, x), expected) <= TOLERANCE


def test_backbone_from_any_checkpoint(saved):
    hf, directory = saved("classifier")
    backbone = ke.load_huggingface(directory, "backbone")
    x = batch()
    with torch.no_grad():
        expected = hf.electra(
            input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long),
        ).last_hidden_state.numpy()
    assert max_difference(to_numpy(backbone(x)["sequence_output"]), expected) <= TOLERANCE


# --- 2. Ours out: exact round trips --------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_is_exact(tmp_path, saved, tokenizer, kind):
    hf, directory = saved(kind)
    ours = ke.load_huggingface(directory, kind)
    written = ke.save_huggingface(ours, tmp_path, tokenizer)
    assert written == {str(tmp_path): HF_CLASSES[kind]}
    files = {p.name for p in tmp_path.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"} <= files
    again = ke.load_huggingface(tmp_path)
    assert type(again) is type(ours)
    for a, b in zip(weights_of(ours), weights_of(again), strict=True):
        np.testing.assert_array_equal(a, b)
    # transformers reads the export back to the very same parameters.
    reloaded = getattr(transformers, HF_CLASSES[kind]).from_pretrained(tmp_path).eval()
    expected = hf_state(hf)
    state = hf_state(reloaded)
    assert set(state) == set(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(state[key], value, err_msg=key)


def test_exported_labels_and_tokenizer_load_in_transformers(tmp_path, tokenizer):
    tags = ["O", "B-LOC", "I-LOC"]
    pre = ke.ElectraTokenClassifierPreprocessor(tokenizer, sequence_length=12, label_names=tags)
    backbone = ke.ElectraBackbone(
        len(VOCAB), 1, 3, 21, 37, embedding_dim=10, max_sequence_length=40
    )
    ke.save_huggingface(ke.ElectraTokenClassifier(backbone, len(tags), pre), tmp_path)
    assert transformers.ElectraConfig.from_pretrained(tmp_path).id2label == dict(enumerate(tags))
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    text = "w3 W17 w205 unknown"
    assert theirs(text, add_special_tokens=False)["input_ids"] == tokenizer.encode(text)


def test_tokenizer_from_transformers_files(tmp_path):
    cased = ke.ElectraTokenizer(VOCAB, lowercase=False)
    cased.save(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    theirs.save_pretrained(
        tmp_path / "theirs"
    )  # recent transformers write tokenizer.json, no vocab.txt
    for directory in (tmp_path, tmp_path / "theirs"):
        loaded = ke.load_huggingface_tokenizer(directory)
        assert loaded.vocabulary == VOCAB and loaded.lowercase is False
    assert ke.load_huggingface_tokenizer(tmp_path / "theirs" / "missing") is None


def test_classifier_with_the_authors_head_has_no_huggingface_class(tmp_path):
    backbone = ke.ElectraBackbone(
        len(VOCAB), 1, 3, 21, 37, embedding_dim=10, max_sequence_length=40
    )
    with pytest.raises(ValueError, match="head='electra'"):
        ke.save_huggingface(ke.ElectraClassifier(backbone, 2), tmp_path)
    assert not any(tmp_path.iterdir())


# --- 3. A released pair -> one pretrainer with shared embeddings --------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory, tokenizer):
    """A discriminator and a generator sharing embedding tables, as the authors release them."""
    discriminator = hf_model("pretraining", seed=1)
    generator = hf_model("generator", seed=2, tower=GENERATOR)
    with torch.no_grad():
        for name in (
            "word_embeddings",
            "position_embeddings",
            "token_type_embeddings",
            "LayerNorm",
        ):
            getattr(generator.electra.embeddings, name).load_state_dict(
                getattr(discriminator.electra.embeddings, name).state_dict()
            )
    folder = tmp_path_factory.mktemp("pair")
    discriminator.save_pretrained(folder / "discriminator")
    generator.save_pretrained(folder / "generator")
    tokenizer.save(folder / "discriminator")
    return discriminator, generator, folder


def pretrainer_outputs(pretrainer, x):
    """The discriminator's replaced-token logits and the generator's MLM logits at every position."""
    disc_logits = to_numpy(
        pretrainer.discriminator_head(pretrainer.discriminator(x)["sequence_output"])
    )
    return disc_logits, our_outputs(pretrainer.generator, "generator", x)


def test_pretrainer_from_released_pair(tmp_path, pair):
    discriminator, generator, folder = pair
    pretrainer = ke.load_huggingface_pretrainer(
        folder / "discriminator", folder / "generator", seed=3, dropout=0.0
    )
    # An argument config.json also sets overrides it.
    assert pretrainer.dropout == 0.0 != hf_config().hidden_dropout_prob
    assert pretrainer.generator.backbone.embedding is pretrainer.discriminator.embedding
    assert pretrainer.special_token_ids["mask_token_id"] == VOCAB.index("[MASK]")
    assert (pretrainer.generator_hidden_dim, pretrainer.generator_num_layers) == (15, 3)
    x = batch()
    disc_logits, mlm_logits = pretrainer_outputs(pretrainer, x)
    assert max_difference(disc_logits, hf_outputs(discriminator, x)) <= TOLERANCE
    assert max_difference(mlm_logits, hf_outputs(generator, x)) <= TOLERANCE
    # Out again as the pair it came from.
    written = ke.save_huggingface(pretrainer, tmp_path)
    assert written == {
        str(tmp_path / "discriminator"): "ElectraForPreTraining",
        str(tmp_path / "generator"): "ElectraForMaskedLM",
    }
    for name, original in (("discriminator", discriminator), ("generator", generator)):
        reloaded = type(original).from_pretrained(tmp_path / name)
        for key, value in hf_state(original).items():
            np.testing.assert_array_equal(hf_state(reloaded)[key], value, err_msg=key)


def test_pair_with_different_embeddings_is_refused(tmp_path, pair):
    _, generator, folder = pair
    shutil.copytree(folder / "generator", tmp_path / "generator")
    state = {
        k: v.clone() for k, v in generator.state_dict().items() if k != "generator_lm_head.weight"
    }
    state["electra.embeddings.position_embeddings.weight"][3] += 1.0
    safetensors_torch.save_file(
        state, tmp_path / "generator" / "model.safetensors", metadata={"format": "pt"}
    )
    with pytest.raises(
        ValueError, match="electra.embeddings.position_embeddings.weight differs .* share"
    ):
        ke.load_huggingface_pretrainer(folder / "discriminator", tmp_path / "generator")


# --- 4. Errors that name what is wrong -----------------------------------------------------------


def broken_copy(directory, destination, config_changes=None, state_change=None):
    shutil.copytree(directory, destination)
    if config_changes:
        config = json.loads((destination / "config.json").read_text())
        config.update(config_changes)
        (destination / "config.json").write_text(json.dumps(config))
    if state_change:
        state = safetensors_torch.load_file(destination / "model.safetensors")
        state_change(state)
        safetensors_torch.save_file(
            state, destination / "model.safetensors", metadata={"format": "pt"}
        )
    return destination


BROKEN = {
    "missing key": (
        None,
        lambda s: s.pop("electra.encoder.layer.1.output.LayerNorm.bias"),
        "missing electra.encoder.layer.1.output.LayerNorm.bias",
    ),
    "wrong shape": (
        None,
        lambda s: s.update({"classifier.out_proj.weight": torch.zeros(4, 21)}),
        r"classifier.out_proj.weight has shape \(4, 21\).* needs \(3, 21\)",
    ),
    "fewer layers in config": (
        {"num_hidden_layers": 1},
        None,
        "unexpected electra.encoder.layer.1",
    ),
    "wider config": (
        {"hidden_size": 24, "num_attention_heads": 4},
        None,
        r"electra.embeddings_project.weight has shape \(21, 10\).* needs \(24, 10\)",
    ),
    "other activation": ({"hidden_act": "gelu_new"}, None, "hidden_act='gelu_new'"),
    "two dropout rates": (
        {"attention_probs_dropout_prob": 0.2},
        None,
        "attention_probs_dropout_prob=0.2",
    ),
    "not electra or bert": ({"model_type": "roberta"}, None, "model_type='roberta'"),
    "unknown architecture": (
        {"architectures": ["ElectraForMultipleChoice"]},
        None,
        "ElectraForMultipleChoice",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_bad_checkpoints_are_errors_naming_the_key(tmp_path, saved, case):
    config_changes, state_change, message = BROKEN[case]
    _, directory = saved("classifier")
    broken = broken_copy(directory, tmp_path / "broken", config_changes, state_change)
    with pytest.raises(ValueError, match=message):
        ke.load_huggingface(broken)


def test_missing_weights_and_heads(tmp_path, saved):
    _, directory = saved("backbone")
    with pytest.raises(ValueError, match="missing discriminator_predictions.dense.weight"):
        ke.load_huggingface(directory, "pretraining")
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="no model.safetensors or pytorch_model.bin"):
        ke.load_huggingface(tmp_path)


class WritesAFile:
    """A pickle payload that, if unpickled, would create a file: code execution on load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pytorch_bin_is_read_without_unpickling_code(tmp_path, saved):
    hf, directory = saved("generator")
    plain = broken_copy(directory, tmp_path / "plain")
    (plain / "model.safetensors").unlink()
    torch.save(hf.state_dict(), plain / "pytorch_model.bin")  # older checkpoints: a tensor pickle
    from_bin, from_safetensors = ke.load_huggingface(plain), ke.load_huggingface(directory)
    for a, b in zip(weights_of(from_bin), weights_of(from_safetensors), strict=True):
        np.testing.assert_array_equal(a, b)

    marker = tmp_path / "pwned"
    malicious = broken_copy(plain, tmp_path / "malicious")
    torch.save({**hf.state_dict(), "payload": WritesAFile(marker)}, malicious / "pytorch_model.bin")
    with pytest.raises(ValueError, match="pytorch_model.bin: refused"):
        ke.load_huggingface(malicious)
    assert not marker.exists()


# --- 5. The authors' TF1 checkpoints -------------------------------------------------------------


def authors_variables(discriminator, generator):
    """The pair's weights under the authors' variable names (google-research/electra: model/modeling.py
    for the encoders, run_pretraining.py for the heads), written out independently of the library."""
    variables = {}

    def dense(tf_name, state, hf_name):
        variables[f"{tf_name}/kernel"] = state[f"{hf_name}.weight"].T
        variables[f"{tf_name}/bias"] = state[f"{hf_name}.bias"]

    def layer_norm(tf_name, state, hf_name):
        variables[f"{tf_name}/gamma"] = state[f"{hf_name}.weight"]
        variables[f"{tf_name}/beta"] = state[f"{hf_name}.bias"]

    for scope, model in (("electra", discriminator), ("generator", generator)):
        state = hf_state(model)
        dense(f"{scope}/embeddings_project", state, "electra.embeddings_project")
        for i in range(model.config.num_hidden_layers):
            tf_layer, hf_layer = f"{scope}/encoder/layer_{i}", f"electra.encoder.layer.{i}"
            for tf_name, hf_name in (
                ("attention/self/query", "attention.self.query"),
                ("attention/self/key", "attention.self.key"),
                ("attention/self/value", "attention.self.value"),
                ("attention/output/dense", "attention.output.dense"),
                ("intermediate/dense", "intermediate.dense"),
                ("output/dense", "output.dense"),
            ):
                dense(f"{tf_layer}/{tf_name}", state, f"{hf_layer}.{hf_name}")
            layer_norm(
                f"{tf_layer}/attention/output/LayerNorm",
                state,
                f"{hf_layer}.attention.output.LayerNorm",
            )
            layer_norm(f"{tf_layer}/output/LayerNorm", state, f"{hf_layer}.output.LayerNorm")
    state = hf_state(discriminator)
    for table in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        variables[f"electra/embeddings/{table}"] = state[f"electra.embeddings.{table}.weight"]
    layer_norm("electra/embeddings/LayerNorm", state, "electra.embeddings.LayerNorm")
    dense("discriminator_predictions/dense", state, "discriminator_predictions.dense")
    dense("discriminator_predictions/dense_1", state, "discriminator_predictions.dense_prediction")
    state = hf_state(generator)
    dense("generator_predictions/dense", state, "generator_predictions.dense")
    layer_norm("generator_predictions/LayerNorm", state, "generator_predictions.LayerNorm")
    variables["generator_predictions/output_bias"] = state["generator_lm_head.bias"]
    return variables


def write_tf1_checkpoint(prefix, variables):
    """A checkpoint as the authors' TF1 code saves one: tf.compat.v1 variables and a Saver, whose
    names are the variables' own (tf.train.Checkpoint would write object-graph names instead)."""
    import tensorflow as tf

    with tf.Graph().as_default():
        tf_variables = {
            name: tf.compat.v1.Variable(value, name=name) for name, value in variables.items()
        }
        saver = tf.compat.v1.train.Saver(var_list=tf_variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, str(prefix))


@needs_tensorflow_pass
def test_tf1_checkpoint(tmp_path, pair):
    discriminator, generator, _ = pair
    variables = authors_variables(discriminator, generator)
    # What else the authors' checkpoints hold, which is not model weights.
    extras = {
        "global_step": np.int64(1000),
        "electra/encoder/layer_0/output/dense/kernel/adam_m": np.zeros((37, 21), "float32"),
    }
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-1000", {**variables, **extras})
    pretrainer = ke.load_tf1_checkpoint(
        tmp_path, num_heads=3, generator_num_heads=3
    )  # the directory: latest
    x = batch()
    disc_logits, mlm_logits = pretrainer_outputs(pretrainer, x)
    assert max_difference(disc_logits, hf_outputs(discriminator, x)) <= TOLERANCE
    assert max_difference(mlm_logits, hf_outputs(generator, x)) <= TOLERANCE
    assert pretrainer.generator.backbone.embedding is pretrainer.discriminator.embedding

    backbone = ke.load_tf1_checkpoint(prefix, model="backbone", num_heads=3)
    expected = hf_outputs(transformers.ElectraModel.from_pretrained(pair[2] / "discriminator"), x)
    assert max_difference(to_numpy(backbone(x)["sequence_output"]), expected) <= TOLERANCE

    del variables["generator/encoder/layer_2/intermediate/dense/bias"]
    broken = write_tf1_checkpoint(tmp_path / "broken" / "model.ckpt-5", variables)
    with pytest.raises(
        ValueError, match="no variable generator/encoder/layer_2/intermediate/dense/bias"
    ):
        ke.load_tf1_checkpoint(broken, num_heads=3, generator_num_heads=3)


# --- 6. keras-hub --------------------------------------------------------------------------------


@needs_tensorflow_pass
def test_keras_hub_backbone():
    keras_hub = pytest.importorskip("keras_hub")
    theirs = keras_hub.models.ElectraBackbone(
        vocab_size=len(VOCAB),
        num_layers=2,
        num_heads=3,
        hidden_dim=21,
        embedding_dim=10,
        intermediate_dim=37,
        max_sequence_length=40,
    )
    rng = np.random.default_rng(0)
    for variable in theirs.weights:
        variable.assign(to_numpy(variable) + rng.normal(0, 0.3, variable.shape))
    ours = ke.load_keras_hub(theirs)
    x = batch()
    sequence = to_numpy(ours(x)["sequence_output"])
    # keras-hub's blocks use the tanh approximation of GELU; ELECTRA's is the exact erf form.
    approximate = max_difference(sequence, to_numpy(theirs(x)["sequence_output"]))
    assert 0 < approximate < 0.05, approximate
    # With keras-hub's GELU made exact, the weights carry over to float32 round-off.
    for block in theirs.transformer_layers:
        block._feedforward_intermediate_dense.activation = keras.activations.gelu
    assert max_difference(sequence, to_numpy(theirs(x)["sequence_output"])) <= 1e-5
