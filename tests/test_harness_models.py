"""Every public model through tests/harness.py: its call, config, `.keras` file and mixed precision on
this backend, and its outputs against the NumPy BERT of tests/references.py."""

import ast
import re
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import VOCAB, make_batch, tokenizer_of
from harness import run_model_test
from model_outputs import eval_outputs
from references import (
    dense,
    gelu_erf,
    numpy_backbone,
    numpy_discriminator_head,
    numpy_mlm_head,
    tiny_backbone,
    w,
)

import keras_electra as ke


@pytest.fixture
def batch(rng):
    return make_batch(rng, batch_size=3, length=8)


def backbone_outputs(backbone, x):
    hidden = numpy_backbone(backbone, x)
    return {"sequence_output": hidden, "cls_output": hidden[:, 0]}


@pytest.mark.parametrize(
    "overrides",
    [{}, {"embedding_dim": 16}, {"local_mixing_window": 3}],
    ids=["projected", "unprojected", "local_mixing"],
)
def test_backbone(tmp_path, batch, overrides):
    run_model_test(
        lambda dtype=None: tiny_backbone(vocab_size=VOCAB, dtype=dtype, **overrides),
        (batch,),
        tmp_path,
        reference=backbone_outputs,
    )


def test_generator(tmp_path, batch):
    positions = np.array([[1, 3, 5], [2, 4, 0], [6, 1, 2]], "int32")

    def build(dtype=None):
        return ke.ElectraGenerator(tiny_backbone(vocab_size=VOCAB, dtype=dtype), seed=0)

    def reference(generator, x):
        table = w(generator.backbone.embedding.token_embedding.embeddings)
        hidden = numpy_backbone(generator.backbone, x)
        return numpy_mlm_head(hidden, x["mask_positions"], generator.mlm_head, table)

    run_model_test(build, ({**batch, "mask_positions": positions},), tmp_path, reference=reference)


def test_pretrainer(tmp_path, batch):
    """Compared through its towers (`eval_outputs`): the full call draws masks and samples."""

    def build(dtype=None):
        return ke.ElectraPretrainer(
            vocab_size=VOCAB,
            num_layers=1,
            hidden_dim=16,
            embedding_dim=8,
            num_heads=2,
            intermediate_dim=32,
            generator_hidden_dim=8,
            max_sequence_length=16,
            seed=0,
            dtype=dtype,
        )

    def reference(pre, x):
        # eval_outputs' generator predicts positions 1 to 3 of every row.
        positions = np.tile(np.arange(1, 4), (len(x["token_ids"]), 1))
        table = w(pre.discriminator.embedding.token_embedding.embeddings)  # the shared table
        hidden = numpy_backbone(pre.discriminator, x)
        generator = pre.generator
        return {
            "discriminator": hidden,
            "generator": numpy_mlm_head(
                numpy_backbone(generator.backbone, x), positions, generator.mlm_head, table
            ),
            "rtd": numpy_discriminator_head(hidden, pre.discriminator_head),
        }

    run_model_test(
        build, (batch,), tmp_path, reference=reference, call=eval_outputs, float32_outputs=True
    )


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizer_of("the cat sat on a mat dog ran".split())


@pytest.mark.parametrize("head", ["electra", "huggingface"])
def test_classifier(tmp_path, batch, tokenizer, head):
    """The Hugging Face head is built with a preprocessor, which its config and file carry too."""

    def build(dtype=None):
        preprocessor = None
        if head == "huggingface":
            preprocessor = ke.ElectraTextPreprocessor(tokenizer, 8, name="preprocessor")
        backbone = tiny_backbone(vocab_size=VOCAB, dtype=dtype)
        return ke.ElectraClassifier(backbone, 3, preprocessor=preprocessor, head=head, seed=0)

    def reference(model, x):
        cls = numpy_backbone(model.backbone, x)[:, 0]
        if head == "huggingface":
            cls = gelu_erf(dense(cls, model.get_layer("dense")))
        return dense(cls, model.get_layer("logits"))

    run_model_test(
        build,
        (batch,),
        tmp_path,
        reference=reference,
        float32_outputs=True,  # the logits, for the loss
        float32_layers=("logits", "preprocessor"),
    )


def test_token_classifier(tmp_path, batch):
    run_model_test(
        lambda dtype=None: ke.ElectraTokenClassifier(
            tiny_backbone(vocab_size=VOCAB, dtype=dtype), 4, seed=0
        ),
        (batch,),
        tmp_path,
        reference=lambda model, x: dense(
            numpy_backbone(model.backbone, x), model.get_layer("logits")
        ),
        float32_outputs=True,
        float32_layers=("logits",),
    )


def test_question_answerer(tmp_path, batch):
    run_model_test(
        lambda dtype=None: ke.ElectraQuestionAnswerer(
            tiny_backbone(vocab_size=VOCAB, dtype=dtype), seed=0
        ),
        (batch,),
        tmp_path,
        reference=lambda model, x: dense(
            numpy_backbone(model.backbone, x), model.get_layer("span_logits")
        ),
        float32_outputs=True,
        float32_layers=("span_logits",),
    )


def snake_case(name):
    """MaskedLMHead -> masked_lm_head."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def test_every_public_layer_and_model_goes_through_the_harness():
    """Each public layer class `ElectraXyz` of keras_electra has a `test_xyz...` in this file or in
    test_harness_layers.py, so that a new layer or model cannot miss the harness."""
    public = [
        name
        for name, value in vars(ke).items()
        if isinstance(value, type) and issubclass(value, keras.layers.Layer)
    ]
    tests = [
        node.name
        for path in (Path(__file__), Path(__file__).with_name("test_harness_layers.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef)
    ]
    assert len(public) >= 17
    for name in public:
        stem = "test_" + snake_case(name.removeprefix("Electra"))
        assert any(test.startswith(stem) for test in tests), f"{name}: no {stem} test"
