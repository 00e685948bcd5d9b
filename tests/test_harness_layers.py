"""Every public layer through tests/harness.py: its call, config, `.keras` file and mixed precision on
this backend, and its outputs against the NumPy references of tests/references.py."""

import keras
import numpy as np
import pytest
from conftest import tokenizer_of
from harness import run_layer_test
from references import (
    attention_bias,
    layer_norm,
    numpy_attention,
    numpy_discriminator_head,
    numpy_embedding,
    numpy_encoder_layer,
    numpy_local_mixing,
    numpy_mlm_head,
    w,
)

import keras_electra as ke

BATCH, LENGTH, HIDDEN, VOCAB = 3, 7, 16, 50


def hidden_states(rng, width=HIDDEN):
    return rng.normal(size=(BATCH, LENGTH, width)).astype("float32")


def padding_mask(rng):
    """Rows of 7, 5 and 2 real tokens: padding must not leak into them."""
    return (np.arange(LENGTH)[None] < np.array([[LENGTH], [5], [2]])).astype("int32")


def test_embedding(tmp_path, rng):
    token_ids = rng.integers(0, VOCAB, (BATCH, LENGTH)).astype("int32")
    segment_ids = (np.arange(LENGTH)[None] >= rng.integers(1, LENGTH, (BATCH, 1))).astype("int32")
    run_layer_test(
        ke.ElectraEmbedding,
        {"vocab_size": VOCAB, "embedding_dim": 8, "max_sequence_length": 16, "seed": 0},
        (token_ids, segment_ids),
        tmp_path,
        reference=lambda layer, ids, segments: numpy_embedding(ids, segments, layer),
    )


def test_attention(tmp_path, rng):
    run_layer_test(
        ke.ElectraAttention,
        {"hidden_dim": HIDDEN, "num_heads": 2, "seed": 0},
        (hidden_states(rng), padding_mask(rng)),
        tmp_path,
        reference=lambda layer, x, mask: numpy_attention(x, layer, attention_bias(mask)),
    )


def test_encoder_layer(tmp_path, rng):
    run_layer_test(
        ke.ElectraEncoderLayer,
        {"hidden_dim": HIDDEN, "num_heads": 2, "intermediate_dim": 32, "seed": 0},
        (hidden_states(rng), padding_mask(rng)),
        tmp_path,
        reference=lambda layer, x, mask: numpy_encoder_layer(x, layer, attention_bias(mask)),
    )


@pytest.mark.parametrize("epsilon", [1e-12, 1e-3])
def test_layer_norm(tmp_path, rng, epsilon):
    # A mean and spread far from 0 and 1, so that a normalization that skipped either would show.
    x = rng.normal(3.0, 2.0, (BATCH, LENGTH, HIDDEN)).astype("float32")
    run_layer_test(
        ke.ElectraLayerNorm,
        {"epsilon": epsilon},
        (x,),
        tmp_path,
        reference=lambda layer, x: layer_norm(x, layer),
    )


def test_dropout_is_the_identity_at_inference(tmp_path, rng):
    run_layer_test(
        ke.ElectraDropout,
        {"rate": 0.3, "seed": 5},
        (hidden_states(rng),),
        tmp_path,
        reference=lambda layer, x: x,
        atol=0,
    )


@pytest.mark.parametrize("window", [1, 3, 5])
def test_local_mixing(tmp_path, rng, window):
    run_layer_test(
        ke.ElectraLocalMixing,
        {"window": window, "seed": 0},
        (hidden_states(rng), padding_mask(rng)),
        tmp_path,
        reference=lambda layer, x, mask: numpy_local_mixing(x.astype("float64"), mask, layer),
    )


def test_masked_lm_head(tmp_path, rng):
    # The tied table belongs to its owner (the generator): not in the head's config, not in its file.
    table = keras.layers.Embedding(VOCAB, 8, name="tied_table")
    table.build((None,))
    positions = rng.integers(0, LENGTH, (BATCH, 3)).astype("int32")
    run_layer_test(
        ke.ElectraMaskedLMHead,
        {"token_embedding": table, "seed": 0},
        (hidden_states(rng), positions),
        tmp_path,
        reference=lambda head, x, at: numpy_mlm_head(x, at, head, w(table.embeddings)),
        owner_passed=("token_embedding",),
        keras_file=False,
        float32_layers=("tied_table",),
    )


def test_discriminator_head(tmp_path, rng):
    run_layer_test(
        ke.ElectraDiscriminatorHead,
        {"hidden_dim": HIDDEN, "output_bias": -1.5, "seed": 0},
        (hidden_states(rng),),
        tmp_path,
        reference=lambda head, x: numpy_discriminator_head(x, head),
    )


FIRSTS = ["the cat sat", "a dog ran on the mat", "cat"]
SECONDS = ["on a mat", "the cat", "the dog sat on a cat"]


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizer_of("the cat sat on a mat dog ran".split())


# The preprocessors are layers of text: integer features whatever the dtype policy, their vocabulary
# an asset of the file.
@pytest.mark.parametrize("pairs", [False, True], ids=["single", "pairs"])
def test_text_preprocessor(tmp_path, tokenizer, pairs):
    run_layer_test(
        ke.ElectraTextPreprocessor,
        {"tokenizer": tokenizer, "sequence_length": 8},
        ((FIRSTS, SECONDS) if pairs else FIRSTS,),
        tmp_path,
        owner_passed=("tokenizer",),
    )


def test_token_classifier_preprocessor(tmp_path, tokenizer):
    run_layer_test(
        ke.ElectraTokenClassifierPreprocessor,
        {"tokenizer": tokenizer, "sequence_length": 6, "label_names": ["O", "B-ANIMAL"]},
        ([text.split() for text in FIRSTS],),
        tmp_path,
        owner_passed=("tokenizer",),
    )


def test_question_answerer_preprocessor(tmp_path, tokenizer):
    run_layer_test(
        ke.ElectraQuestionAnswererPreprocessor,
        {"tokenizer": tokenizer, "sequence_length": 10, "doc_stride": 2, "max_query_length": 3},
        ((FIRSTS, SECONDS),),
        tmp_path,
        owner_passed=("tokenizer",),
    )
