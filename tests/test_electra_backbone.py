"""The backbone and heads against a NumPy BERT (tests/references.py)."""

import keras
import numpy as np
import pytest
from conftest import make_batch, to_numpy
from references import numpy_backbone, numpy_discriminator_head, numpy_mlm_head, w

import keras_electra as ke


@pytest.mark.parametrize("embedding_dim,hidden_dim", [(24, 48), (48, 48)])
def test_backbone_matches_numpy_bert(rng, embedding_dim, hidden_dim):
    backbone = ke.ElectraBackbone(
        vocab_size=300,
        num_layers=2,
        num_heads=3,
        hidden_dim=hidden_dim,
        intermediate_dim=80,
        embedding_dim=embedding_dim,
        seed=1,
    )
    assert (backbone.embeddings_project is None) == (embedding_dim == hidden_dim)
    inputs = make_batch(rng, batch_size=4, length=17, vocab_size=300)
    out = backbone(inputs, training=False)
    expected = numpy_backbone(backbone, inputs)
    real = inputs["padding_mask"] > 0
    np.testing.assert_allclose(to_numpy(out["sequence_output"])[real], expected[real], atol=2e-5)
    np.testing.assert_allclose(to_numpy(out["cls_output"]), expected[:, 0], atol=2e-5)
    assert set(out) == {"sequence_output", "cls_output"}  # no pooler


def test_heads_match_numpy(rng, tiny_pretrainer):
    pre = tiny_pretrainer
    inputs = make_batch(rng, batch_size=3, length=16)
    positions = np.array([[1, 3, 5], [2, 4, 0], [6, 1, 2]], "int32")
    logits = pre.generator({**inputs, "mask_positions": positions}, training=False)
    hidden = numpy_backbone(pre.generator.backbone, inputs)
    # The head's logits are against the discriminator's table: the two share it.
    table = w(pre.discriminator.embedding.token_embedding.embeddings)
    expected = numpy_mlm_head(hidden, positions, pre.generator.mlm_head, table)
    np.testing.assert_allclose(to_numpy(logits), expected, atol=2e-5)

    sequence = pre.discriminator(inputs, training=False)["sequence_output"]
    disc = pre.discriminator_head
    expected = numpy_discriminator_head(to_numpy(sequence), disc)
    np.testing.assert_allclose(to_numpy(disc(sequence)), expected, atol=2e-5)


def test_dropout_and_layer_norm_settings(tiny_pretrainer):
    layers = list(tiny_pretrainer._flatten_layers())
    dropouts = [layer for layer in layers if isinstance(layer, keras.layers.Dropout)]
    attentions = [layer for layer in layers if isinstance(layer, ke.ElectraAttention)]
    norms = [layer for layer in layers if isinstance(layer, keras.layers.LayerNormalization)]
    assert dropouts and attentions and norms
    assert all(dropout.rate == 0.1 for dropout in dropouts)
    assert all(attention.dropout == 0.1 for attention in attentions)
    assert all(norm.epsilon == 1e-12 for norm in norms)


def test_dropout_is_active_only_in_training(rng, tiny_pretrainer):
    inputs = make_batch(rng, batch_size=2, length=12)
    d = tiny_pretrainer.discriminator
    eval_a = to_numpy(d(inputs, training=False)["sequence_output"])
    eval_b = to_numpy(d(inputs, training=False)["sequence_output"])
    train = to_numpy(d(inputs, training=True)["sequence_output"])
    np.testing.assert_array_equal(eval_a, eval_b)
    assert not np.allclose(eval_a, train)


def test_truncated_normal_initialisation():
    pre = ke.ElectraPretrainer.from_size("small", vocab_size=5000, seed=3)
    table = to_numpy(pre.discriminator.embedding.token_embedding.embeddings)
    kernel = to_numpy(pre.discriminator.encoder_layers[0].intermediate_dense.kernel)
    for values in (table, kernel):
        # N(0, 0.02) truncated at two standard deviations has std 0.02 * 0.8796.
        assert np.abs(values).max() <= 0.04 + 1e-6
        assert abs(values.std() - 0.02 * 0.8796) < 0.0005
        assert abs(values.mean()) < 0.0005
