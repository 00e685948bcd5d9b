"""keras-hub presets in and out (docs/conversion.md, "keras-hub presets"), against keras-hub itself:
its `ElectraBackbone.from_preset` and `ElectraTokenizer.from_preset` load what `save_to_preset`
writes, and our `from_preset`s read keras-hub's. keras-hub (which imports TensorFlow) runs on every
backend's pass; conftest imports triton before it."""

import json

import keras
import numpy as np
import pytest
from conftest import backend_independent, to_numpy

import keras_electra as ke

keras_hub = pytest.importorskip("keras_hub")

# Odd widths, E != H, and 3 heads of 7: a wrong reshape or transpose cannot pass by symmetry.
SIZES = dict(
    num_layers=2,
    num_heads=3,
    hidden_dim=21,
    embedding_dim=10,
    intermediate_dim=37,
    max_sequence_length=40,
)
# Ordinary English text: accents, digits, punctuation, capitals, a dash and an apostrophe.
SENTENCES = [
    "It's a charming and often affecting journey.",
    "The film, shot in 1998 for $2 million, never finds its rhythm!",
    "A café in Zürich serves naïve coffee—and it's GREAT.",
    "Holden Caulfield did it better... or did he?",
    "Unflinchingly bleak and desperate; a tough watch (but worth it).",
]
# keras-hub computes the tanh GELU in its blocks where we compute the exact one (0.00047 apart at
# most). With the weights moved well off their initial values (noise of 0.3), the sequence outputs of
# this model measured 0.0005 to 0.0022 apart (weight seeds 1 to 5; TensorFlow, JAX and torch); a
# wrong weight gives differences of order 1.
GELU_BOUND = 0.01
# With keras-hub's GELU made exact: float32 round-off, measured 0 (TensorFlow, torch) and 3e-6 (JAX).
ROUND_OFF = 1e-5


def perturbed(model, seed):
    """`model` with every weight moved off its initial value (zero biases, unit LayerNorm scales)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(to_numpy(variable) + rng.normal(0, 0.3, variable.shape))
    return model


@pytest.fixture(scope="module")
def tokenizer():
    return ke.ElectraTokenizer.train(texts=SENTENCES * 2, vocab_size=300, min_frequency=1)


@pytest.fixture
def ours(tokenizer):
    return perturbed(ke.ElectraBackbone(tokenizer.vocab_size, **SIZES, seed=0), 1)


def inputs(tokenizer, length=24):
    return ke.ElectraTextPreprocessor(tokenizer, length)(SENTENCES)


def with_exact_gelu(theirs):
    for block in theirs.transformer_layers:
        block._feedforward_intermediate_dense.activation = keras.activations.gelu
    return theirs


def max_difference(a, b):
    return float(np.max(np.abs(to_numpy(a) - to_numpy(b))))


def encoder_weights(keras_hub_backbone):
    """{path: array} of keras-hub's weights but `pooled_dense`, which ELECTRA lacks."""
    return {
        variable.path: to_numpy(variable)
        for variable in keras_hub_backbone.weights
        if not variable.path.startswith("pooled_dense/")
    }


def test_our_backbone_loads_in_keras_hub(tmp_path, ours, tokenizer):
    ours.save_to_preset(tmp_path)
    theirs = keras_hub.models.ElectraBackbone.from_preset(str(tmp_path))
    x = inputs(tokenizer)
    sequence = ours(x)["sequence_output"]
    gelu = max_difference(sequence, theirs(x)["sequence_output"])
    assert 0 < gelu < GELU_BOUND, gelu
    # The rest is the weights: with the exact GELU, keras-hub's outputs are ours.
    with_exact_gelu(theirs)
    outputs = theirs(x)
    assert max_difference(sequence, outputs["sequence_output"]) <= ROUND_OFF
    # Every value carried over unchanged (as a multiset: the outputs above fix where each went).
    carried = np.sort(np.concatenate([a.ravel() for a in encoder_weights(theirs).values()]))
    original = np.sort(np.concatenate([to_numpy(v).ravel() for v in ours.weights]))
    np.testing.assert_array_equal(carried, original)
    # ELECTRA has no pooler: keras-hub's is the identity, so pooled_output is tanh of [CLS].
    np.testing.assert_allclose(
        to_numpy(outputs["pooled_output"]), np.tanh(to_numpy(ours(x)["cls_output"])), atol=1e-6
    )


def test_keras_hub_round_trip_is_weight_exact(tmp_path, tokenizer):
    theirs = perturbed(
        keras_hub.models.ElectraBackbone(vocab_size=tokenizer.vocab_size, **SIZES), 2
    )
    theirs.save_to_preset(tmp_path / "theirs")
    ours = ke.ElectraBackbone.from_preset(tmp_path / "theirs")
    ours.save_to_preset(tmp_path / "back")
    back = keras_hub.models.ElectraBackbone.from_preset(str(tmp_path / "back"))
    expected, got = encoder_weights(theirs), encoder_weights(back)
    assert got.keys() == expected.keys()
    for path, value in expected.items():
        np.testing.assert_array_equal(got[path], value, err_msg=path)
    x = inputs(tokenizer)
    assert (
        max_difference(ours(x)["sequence_output"], with_exact_gelu(back)(x)["sequence_output"])
        <= ROUND_OFF
    )


def test_our_preset_reads_back_exactly_with_the_arguments_it_does_not_fix(tmp_path, ours):
    ours.save_to_preset(tmp_path)
    back = ke.ElectraBackbone.from_preset(
        tmp_path, attention_implementation="standard", dropout=0.0
    )
    assert (back.attention_implementation, back.dropout) == ("standard", 0.0)
    for a, b in zip(ours.weights, back.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=a.path)
    with pytest.raises(ValueError, match="hidden_dim"):
        ke.ElectraBackbone.from_preset(tmp_path, hidden_dim=8)


@backend_independent
@pytest.mark.parametrize("lowercase", [True, False])
def test_tokenizer_preset_tokenizes_as_ours(tmp_path, lowercase):
    tokenizer = ke.ElectraTokenizer.train(
        texts=SENTENCES * 2, vocab_size=300, min_frequency=1, lowercase=lowercase
    )
    tokenizer.save_to_preset(tmp_path)
    ke.ElectraBackbone(tokenizer.vocab_size, 1, 1, 4, 8).save_to_preset(tmp_path)
    theirs = keras_hub.models.ElectraTokenizer.from_preset(str(tmp_path))
    for sentence in SENTENCES:
        assert to_numpy(theirs(sentence)).tolist() == tokenizer.encode(sentence), sentence
    back = ke.ElectraTokenizer.from_preset(tmp_path)
    assert (back.vocabulary, back.lowercase) == (tokenizer.vocabulary, lowercase)


TASKS = {
    "classifier": (ke.ElectraClassifier, dict(num_classes=3), SENTENCES),
    "token-classifier": (
        ke.ElectraTokenClassifier,
        dict(num_classes=4),
        [s.split() for s in SENTENCES],
    ),
    "question-answerer": (ke.ElectraQuestionAnswerer, {}, (SENTENCES[:2], SENTENCES[2:4])),
}


@pytest.mark.parametrize("kind", TASKS)
def test_task_from_preset(tmp_path, ours, tokenizer, kind):
    cls, arguments, text = TASKS[kind]
    ours.save_to_preset(tmp_path)
    tokenizer.save_to_preset(tmp_path)
    task = cls.from_preset(tmp_path, **arguments, seed=0)
    assert isinstance(task.preprocessor, cls.preprocessor_cls)
    assert task.preprocessor.tokenizer.vocabulary == tokenizer.vocabulary
    for a, b in zip(ours.weights, task.backbone.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=a.path)
    logits = task.predict(text, verbose=0)
    assert np.all(np.isfinite(logits))
    if arguments:
        assert logits.shape[-1] == arguments["num_classes"]
    bare = cls.from_preset(tmp_path, **arguments, preprocessor=None, dtype="mixed_bfloat16")
    assert bare.preprocessor is None and bare.backbone.dtype_policy.name == "mixed_bfloat16"


def test_a_preset_without_tokenizer_gives_a_task_without_preprocessor(tmp_path, ours):
    ours.save_to_preset(tmp_path)
    assert ke.ElectraClassifier.from_preset(tmp_path, num_classes=2).preprocessor is None


def test_local_mixing_and_another_epsilon_are_refused_by_name(tmp_path, tokenizer):
    for argument, value in (("local_mixing_window", 3), ("layer_norm_epsilon", 1e-6)):
        backbone = ke.ElectraBackbone(tokenizer.vocab_size, **SIZES, **{argument: value})
        with pytest.raises(ValueError, match=f"{argument}={value}"):
            backbone.save_to_preset(tmp_path / "preset")
        assert not (tmp_path / "preset").exists()


def test_bad_presets_are_errors_naming_them(tmp_path, ours, tokenizer):
    with pytest.raises(FileNotFoundError, match="no .*missing/config.json"):
        ke.ElectraBackbone.from_preset(tmp_path / "missing")
    huggingface = tmp_path / "huggingface"
    huggingface.mkdir()
    (huggingface / "config.json").write_text(json.dumps({"model_type": "electra"}))
    with pytest.raises(ValueError, match="registered_name None.*load_huggingface"):
        ke.ElectraBackbone.from_preset(huggingface)
    ours.save_to_preset(tmp_path / "backbone")
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        ke.ElectraTokenizer.from_preset(tmp_path / "backbone")
    keras_hub.models.ElectraTokenizer(
        vocabulary=tokenizer.vocabulary, suffix_indicator="@@"
    ).save_to_preset(str(tmp_path / "backbone"))
    with pytest.raises(ValueError, match="suffix_indicator='@@'"):
        ke.ElectraTokenizer.from_preset(tmp_path / "backbone")
