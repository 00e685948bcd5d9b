"""What tests compare against: a NumPy BERT written from docs/electra.md ("Models and sizes", "Heads"),
and tiny models built in the test (no weights are ever downloaded). The save-load round trip is
tests/harness.py's."""

import keras
import numpy as np
from scipy.special import erf

import keras_electra as ke


def w(variable):
    return keras.ops.convert_to_numpy(variable).astype("float64")


def layer_norm_of(x, gamma, beta, epsilon=1e-12):
    """LayerNorm over the last axis in float64, from its definition."""
    x = np.asarray(x, "float64")
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def layer_norm(x, layer):
    return layer_norm_of(x, w(layer.gamma), w(layer.beta), layer.epsilon)


def dense(x, layer):
    return x @ w(layer.kernel) + w(layer.bias)


def gelu_erf(x):
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def numpy_attention(x, att, bias):
    b, n, _ = x.shape

    def heads(t):
        return t.reshape(b, n, att.num_heads, att.head_dim).transpose(0, 2, 1, 3)

    q, k, v = (heads(dense(x, d)) for d in (att.query_dense, att.key_dense, att.value_dense))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(att.head_dim) + bias
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return dense((p @ v).transpose(0, 2, 1, 3).reshape(b, n, -1), att.output_dense)


def numpy_local_mixing(x, mask, layer):
    """`ElectraLocalMixing` position by position: each token plus the bias plus its window's real
    neighbours, each weighted per channel by the kernel row of its offset."""
    kernel, half = w(layer.kernel), layer.window // 2
    out = x + w(layer.bias)
    for i in range(x.shape[1]):
        for offset in range(-half, half + 1):
            j = i + offset
            if 0 <= j < x.shape[1]:
                out[:, i] += kernel[offset + half] * x[:, j] * (mask[:, j, None] > 0)
    return out


def attention_bias(padding_mask):
    """What `numpy_attention` adds to the scores: -inf at the keys of padding."""
    return np.where(padding_mask[:, None, None, :] > 0, 0.0, -np.inf)


def numpy_embedding(token_ids, segment_ids, embedding):
    """`ElectraEmbedding` in eval mode: the three tables summed, then LayerNorm."""
    x = (
        w(embedding.token_embedding.embeddings)[token_ids]
        + w(embedding.position_embedding.embeddings)[: token_ids.shape[1]][None]
        + w(embedding.segment_embedding.embeddings)[segment_ids]
    )
    return layer_norm(x, embedding.layer_norm)


def numpy_encoder_layer(x, block, bias):
    """A post-LN block (`ElectraEncoderLayer`) in eval mode."""
    x = layer_norm(x + numpy_attention(x, block.attention, bias), block.attention_layer_norm)
    h = dense(gelu_erf(dense(x, block.intermediate_dense)), block.output_dense)
    return layer_norm(x + h, block.output_layer_norm)


def numpy_backbone(backbone, inputs):
    """Embeddings -> LayerNorm -> local mixing (if any) -> projection -> post-LN blocks, eval mode, in float64."""
    mask = inputs["padding_mask"]
    x = numpy_embedding(inputs["token_ids"], inputs["segment_ids"], backbone.embedding)
    if backbone.local_mixing is not None:
        x = numpy_local_mixing(x, mask, backbone.local_mixing)
    if backbone.embeddings_project is not None:
        x = dense(x, backbone.embeddings_project)
    for block in backbone.encoder_layers:
        x = numpy_encoder_layer(x, block, attention_bias(mask))
    return x


def numpy_mlm_head(hidden, positions, head, table):
    """`ElectraMaskedLMHead`: the hidden states at `positions`, Dense(gelu), LayerNorm, then logits
    against `table`, the word table it is tied to, plus a bias (docs/electra.md, "Heads")."""
    gathered = np.take_along_axis(hidden, positions[:, :, None], axis=1)
    h = layer_norm(gelu_erf(dense(gathered, head.dense)), head.layer_norm)
    return h @ table.T + w(head.bias)


def numpy_discriminator_head(hidden, head):
    """`ElectraDiscriminatorHead`: Dense(gelu), then one logit per token (docs/electra.md, "Heads")."""
    return dense(gelu_erf(dense(hidden, head.dense)), head.dense_prediction)[..., 0]


def tiny_backbone(**overrides):
    """Two layers, E=8 < H=16 (so the embedding projection exists), unless `overrides` say otherwise."""
    config = dict(
        vocab_size=64,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        embedding_dim=8,
        max_sequence_length=16,
        dropout=0.1,
        seed=0,
    )
    return ke.ElectraBackbone(**{**config, **overrides})
