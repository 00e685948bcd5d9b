"""The joint objective (docs/electra.md, "Loss") against a NumPy re-computation."""

import numpy as np
from conftest import MASK, make_batch, to_numpy

import keras_electra as ke


def log_softmax(x):
    x = x.astype("float64")
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def sigmoid_cross_entropy(logits, labels):
    logits = logits.astype("float64")
    return np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))


def test_loss_matches_numpy(rng, tiny_pretrainer):
    pre = tiny_pretrainer
    x = make_batch(rng, batch_size=6, length=24)
    out = {k: to_numpy(v) for k, v in pre(x, training=True).items()}
    weights = out["mlm_weights"]
    ce = -np.take_along_axis(log_softmax(out["mlm_logits"]), out["mlm_labels"][..., None], -1)[
        ..., 0
    ]
    mlm = (ce * weights).sum() / weights.sum()  # mean over the batch's chosen positions
    mask = x["padding_mask"]
    bce = sigmoid_cross_entropy(out["disc_logits"], out["disc_labels"])
    disc = (bce * mask).sum() / mask.sum()  # mean over all real tokens, [CLS]/[SEP] too
    total = pre.compute_loss(x, None, out)
    np.testing.assert_allclose(to_numpy(total), mlm + 50 * disc, rtol=1e-5)
    np.testing.assert_allclose(
        to_numpy(ke.mlm_loss(out["mlm_logits"], out["mlm_labels"], weights)), mlm, rtol=1e-5
    )
    np.testing.assert_allclose(
        to_numpy(ke.discriminator_loss(out["disc_logits"], out["disc_labels"], mask)),
        disc,
        rtol=1e-5,
    )


def test_step_outputs_follow_the_rules(rng, tiny_pretrainer):
    x = make_batch(rng, batch_size=8, length=32)
    out = {k: to_numpy(v) for k, v in tiny_pretrainer(x, training=True).items()}
    ids, mask = x["token_ids"], x["padding_mask"]
    chosen = np.zeros(ids.shape, bool)
    np.put_along_axis(chosen, out["mlm_positions"], out["mlm_weights"] > 0, axis=1)
    # The generator sees [MASK] or the original at chosen positions, and
    # predicts the original at every one of them.
    gen_ids = out["generator_token_ids"]
    assert ((gen_ids == ids) | (chosen & (gen_ids == MASK))).all()
    assert (gen_ids[chosen] == MASK).any() and (gen_ids[chosen] == ids[chosen]).any()
    np.testing.assert_array_equal(
        out["mlm_labels"][out["mlm_weights"] > 0],
        np.take_along_axis(ids, out["mlm_positions"], 1)[out["mlm_weights"] > 0],
    )
    # The discriminator sees the original with chosen positions replaced by
    # samples, labelled 1 exactly where they differ.
    corrupted = out["corrupted_token_ids"]
    assert (corrupted[~chosen] == ids[~chosen]).all()
    assert (corrupted >= 0).all() and (corrupted < 1000).all()
    np.testing.assert_array_equal(out["disc_labels"], (corrupted != ids) & (mask > 0))
