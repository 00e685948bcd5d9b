"""Dynamic masking against the rules of docs/electra.md, "Masking", over many seeded draws."""

import keras
import numpy as np
import pytest
from conftest import CLS, MASK, PAD, SEP, VOCAB, make_batch, to_numpy
from scipy import stats

import keras_electra as ke
from keras_electra.pretraining.masking import choose_positions

EXCLUDED = (PAD, CLS, SEP, MASK)


def expected_count(padding_mask, token_ids, mask_prob, num_predictions):
    """n = max(1, min(N, round(num_tokens * mask_prob))), in float32 as the
    authors' code, and no more than there are candidates."""
    num_tokens = padding_mask.sum(-1).astype("float32")
    n = np.clip(np.round(num_tokens * np.float32(mask_prob)), 1, num_predictions).astype(int)
    candidates = (padding_mask > 0) & ~np.isin(token_ids, EXCLUDED)
    return np.minimum(n, candidates.sum(-1))


def draw(batch, seed, mask_prob=0.15, num_predictions=None):
    length = batch["token_ids"].shape[1]
    out = ke.mask_tokens(
        batch["token_ids"],
        batch["padding_mask"],
        mask_token_id=MASK,
        excluded_ids=EXCLUDED,
        mask_prob=mask_prob,
        num_predictions=num_predictions or ke.max_predictions(length, mask_prob),
        seed=seed,
    )
    return to_numpy_dict(out)


def test_max_predictions_per_sequence():
    assert ke.max_predictions(128, 0.15) == 19
    assert ke.max_predictions(512, 0.15) == 79
    assert ke.max_predictions(512, 0.25) == 130


def test_masking_rules_over_many_draws(rng):
    batch = make_batch(rng, batch_size=48, length=128)
    batch["token_ids"][3, 5] = MASK  # an existing [MASK] is never chosen
    batch["token_ids"][4, 1:-1] = np.where(
        batch["padding_mask"][4, 1:-1] > 0, SEP, PAD
    )  # no candidate
    ids, mask = batch["token_ids"], batch["padding_mask"]
    want = expected_count(mask, ids, 0.15, 19)
    assert want[4] == 0 and (want > 1).any() and (want == 1).any()
    seed = keras.random.SeedGenerator(7)
    kept = replaced = 0
    for _ in range(60):
        out = draw(batch, seed)
        chosen = out["weights"] > 0
        np.testing.assert_array_equal(chosen.sum(-1), want)
        for row in range(len(ids)):
            positions = out["positions"][row][chosen[row]]
            assert len(set(positions)) == len(positions)  # distinct
            assert mask[row, positions].all()
            assert not np.isin(ids[row, positions], EXCLUDED).any()
        assert (out["positions"][~chosen] == 0).all()
        np.testing.assert_array_equal(
            out["labels"][chosen], np.take_along_axis(ids, out["positions"], 1)[chosen]
        )
        # Only chosen positions change, and only to [MASK]: 0% random tokens.
        changed = out["token_ids"] != ids
        at_chosen = np.zeros_like(changed)
        np.put_along_axis(at_chosen, out["positions"], chosen, axis=1)
        assert not (changed & ~at_chosen).any()
        assert (out["token_ids"][changed] == MASK).all()
        replaced += changed.sum()
        kept += (at_chosen & ~changed).sum()
    total = kept + replaced
    assert total > 20_000  # a 0.01 tolerance is then about 4 standard errors
    assert abs(replaced / total - 0.85) < 0.01


def test_positions_are_uniform_over_candidates(rng):
    batch = make_batch(rng, batch_size=1, length=40, min_tokens=40)
    candidates = np.flatnonzero(~np.isin(batch["token_ids"][0], EXCLUDED))
    seed = keras.random.SeedGenerator(3)
    counts = np.zeros(40)
    for _ in range(300):
        positions, weights = choose_positions(
            batch["token_ids"],
            batch["padding_mask"],
            mask_prob=0.15,
            num_predictions=6,
            excluded_ids=EXCLUDED,
            seed=seed,
        )
        np.add.at(counts, to_numpy(positions)[0][to_numpy(weights)[0] > 0], 1)
    assert counts.sum() == 300 * 6 and counts[np.setdiff1d(np.arange(40), candidates)].sum() == 0
    assert stats.chisquare(counts[candidates]).pvalue > 1e-3


def test_count_is_capped(rng):
    batch = make_batch(rng, batch_size=4, length=64, min_tokens=60)
    out = draw(batch, keras.random.SeedGenerator(0), mask_prob=0.5, num_predictions=5)
    np.testing.assert_array_equal(out["weights"].sum(-1), 5)


def test_same_seed_same_masks(rng):
    batch = make_batch(rng, batch_size=4, length=32)
    a = draw(batch, keras.random.SeedGenerator(5))
    b = draw(batch, keras.random.SeedGenerator(5))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_berts_corruption_is_80_10_10_with_random_tokens_from_the_whole_vocabulary(rng):
    """BERT's rule (Devlin et al. 2019, §3.1): of the chosen positions 80% [MASK], 10% a uniformly random
    id of the vocabulary (which equals the original with probability 1 / V), 10% unchanged."""
    batch = make_batch(rng, batch_size=64, length=128)
    ids = batch["token_ids"]
    seed = keras.random.SeedGenerator(3)
    outcomes, random_ids = np.zeros(3), []
    for _ in range(20):
        out = to_numpy_dict(
            ke.mask_tokens(
                ids,
                batch["padding_mask"],
                mask_token_id=MASK,
                excluded_ids=EXCLUDED,
                num_predictions=19,
                mask_token_rate=0.8,
                random_token_rate=0.1,
                vocab_size=VOCAB,
                seed=seed,
            )
        )
        chosen = out["weights"] > 0
        written = np.take_along_axis(out["token_ids"], out["positions"], 1)[chosen]
        original = out["labels"][chosen]
        is_random = (written != MASK) & (written != original)
        outcomes += [(written == MASK).sum(), is_random.sum(), (written == original).sum()]
        random_ids.append(written[is_random])
    expected = np.array([0.8, 0.1 * (1 - 1 / VOCAB), 0.1 + 0.1 / VOCAB]) * outcomes.sum()
    assert stats.chisquare(outcomes, expected).pvalue > 1e-4, outcomes
    # The random ids are uniform over the whole vocabulary: 10 equal bins.
    counts = np.bincount(np.concatenate(random_ids) * 10 // VOCAB, minlength=10)
    assert stats.chisquare(counts).pvalue > 1e-4, counts


def test_random_tokens_need_the_vocabulary_size(rng):
    batch = make_batch(rng)
    with pytest.raises(ValueError, match="vocab_size"):
        ke.mask_tokens(
            batch["token_ids"],
            batch["padding_mask"],
            mask_token_id=MASK,
            excluded_ids=EXCLUDED,
            num_predictions=4,
            random_token_rate=0.1,
            seed=0,
        )


def to_numpy_dict(out):
    return {k: to_numpy(v) for k, v in out.items()}
