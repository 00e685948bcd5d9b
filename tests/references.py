"""What tests compare against: a NumPy BERT written from docs/electra.md ("Models and sizes", "Heads"),
tiny models built in the test (no weights are ever downloaded), and a save-load round trip."""

import keras
import numpy as np
from scipy.special import erf

import keras_electra as ke


def w(variable):
    return keras.ops.convert_to_numpy(variable).astype("float64")


def layer_norm(x, layer):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w(layer.gamma) + w(layer.beta)


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


def numpy_backbone(backbone, inputs):
    """Embeddings -> LayerNorm -> local mixing (if any) -> projection -> post-LN blocks, eval mode, in float64."""
    ids, seg, mask = inputs["token_ids"], inputs["segment_ids"], inputs["padding_mask"]
    emb = backbone.embedding
    x = (
        w(emb.token_embedding.embeddings)[ids]
        + w(emb.position_embedding.embeddings)[: ids.shape[1]][None]
        + w(emb.segment_embedding.embeddings)[seg]
    )
    x = layer_norm(x, emb.layer_norm)
    if backbone.local_mixing is not None:
        x = numpy_local_mixing(x, mask, backbone.local_mixing)
    if backbone.embeddings_project is not None:
        x = dense(x, backbone.embeddings_project)
    bias = np.where(mask[:, None, None, :] > 0, 0.0, -np.inf)
    for block in backbone.encoder_layers:
        x = layer_norm(x + numpy_attention(x, block.attention, bias), block.attention_layer_norm)
        h = dense(gelu_erf(dense(x, block.intermediate_dense)), block.output_dense)
        x = layer_norm(x + h, block.output_layer_norm)
    return x


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


def round_trip(model, path, **load_options):
    """`model` saved to `path` (a .keras file) and loaded back."""
    model.save(path)
    return keras.saving.load_model(path, **load_options)
