"""fill_mask against the generator's own logits at the [MASK] positions."""

import numpy as np
import pytest
from conftest import to_numpy, tokenizer_of

import keras_electra as ke
from keras_electra.pretraining.fill_mask import fill_mask


def test_top_k_are_the_softmax_of_the_generator_at_each_mask():
    words = "the cat sat on mat a dog ran".split()
    tokenizer = tokenizer_of(words)
    pre = ke.ElectraPretrainer.from_size(
        "tiny",
        vocab_size=tokenizer.vocab_size,
        seed=0,
        pad_token_id=0,
        unk_token_id=1,
        cls_token_id=2,
        sep_token_id=3,
        mask_token_id=4,
    )
    result = fill_mask(pre.generator, tokenizer, "the [MASK] sat on the [MASK]", top_k=3)

    ids = np.array([[2, 5, 4, 7, 8, 5, 4, 3]], "int32")  # [CLS] the [MASK] sat on the [MASK] [SEP]
    logits = to_numpy(
        pre.generator(
            {
                "token_ids": ids,
                "segment_ids": np.zeros_like(ids),
                "padding_mask": np.ones_like(ids),
                "mask_positions": np.array([[2, 6]], "int32"),
            },
            training=False,
        )
    )[0].astype("float64")
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    assert len(result) == 2
    for row, guesses in zip(probs, result):
        expected = np.argsort(-row)[:3]
        assert [token for token, _ in guesses] == [tokenizer.vocabulary[t] for t in expected]
        np.testing.assert_allclose([p for _, p in guesses], row[expected], rtol=1e-4)


def test_text_without_a_mask_is_an_error():
    tokenizer = tokenizer_of(["cat"])
    pre = ke.ElectraPretrainer.from_size(
        "tiny",
        vocab_size=6,
        pad_token_id=0,
        unk_token_id=1,
        cls_token_id=2,
        sep_token_id=3,
        mask_token_id=4,
    )
    with pytest.raises(ValueError, match="no \\[MASK\\]"):
        fill_mask(pre.generator, tokenizer, "a cat")
