import math
import random

import pytest
from conftest import backend_independent

from keras_electra.data.packing import pack_documents

pytestmark = backend_independent

CLS, SEP = 1, 2


def crafted_documents(num_documents, seed=0, max_sentence=12):
    """Document d holds ids 1000 * d + k, k counting up through the document: easy to trace."""
    rng = random.Random(seed)
    documents = []
    for d in range(1, num_documents + 1):
        k, sentences = 0, []
        for _ in range(rng.randint(1, 25)):
            n = rng.randint(1, max_sentence)
            sentences.append([1000 * d + k + i for i in range(n)])
            k += n
        documents.append(sentences)
    return documents


def segments(example):
    """Checks the `[CLS] A [SEP] (B [SEP])` layout and segment ids; returns (A, B)."""
    ids, segment_ids = example.token_ids, example.segment_ids
    assert len(ids) == len(segment_ids)
    assert ids[0] == CLS and ids[-1] == SEP and CLS not in ids[1:]
    seps = [i for i, t in enumerate(ids) if t == SEP]
    assert len(seps) in (1, 2)
    first_end = seps[0]
    assert segment_ids == [0] * (first_end + 1) + [1] * (len(ids) - first_end - 1)
    first, second = ids[1:first_end], ids[first_end + 1 : -1]
    assert first, "segment A is never empty"
    assert len(seps) == 1 or second, "a second segment is never empty"
    return first, second


def pack(documents, max_length=32, seed=0, **kwargs):
    return list(
        pack_documents(
            documents, max_length=max_length, cls_id=CLS, sep_id=SEP, seed=seed, **kwargs
        )
    )


class ScriptedRandom(random.Random):
    """A `random.Random` whose `random()` replays given values, to pin each draw of the rule."""

    def __init__(self, values):
        super().__init__(0)
        self._values = iter(values)

    def random(self):
        return next(self._values)


def sentence_index(documents):
    """Maps each token id to (document, sentence) and each sentence to its tokens."""
    owner, tokens = {}, {}
    for d, document in enumerate(documents):
        for s, sentence in enumerate(document):
            tokens[d, s] = sentence
            owner.update((t, (d, s)) for t in sentence)
    return owner, tokens


def test_structure_one_document_per_example_and_max_length():
    documents = crafted_documents(60)
    examples = pack(documents)
    assert len(examples) > 60
    for example in examples:
        assert len(example.token_ids) <= 32
        first, second = segments(example)
        content = first + second
        assert len({t // 1000 for t in content}) == 1, "an example crossed documents"
        assert len(set(content)) == len(content)


def test_nothing_lost_or_repeated_without_truncation():
    # Documents far shorter than max_length never fill a buffer past it, so nothing is cut; short
    # targets still split documents into several examples.
    documents = crafted_documents(80)
    examples = pack(documents, max_length=1000, short_seq_prob=0.5)
    assert len(examples) > len(documents) and not any(e.truncated for e in examples)
    packed = [t for e in examples for t in e.token_ids if t not in (CLS, SEP)]
    assert sorted(packed) == sorted(t for d in documents for s in d for t in s)


def test_segments_hold_whole_sentences():
    documents = crafted_documents(80)
    owner, tokens = sentence_index(documents)
    two_segment = 0
    for example in pack(documents, max_length=48):
        first, second = segments(example)
        two_segment += bool(second)
        for segment, may_be_cut in ((first, len(first) == 48 - 2), (second, example.truncated)):
            runs = []
            for t in segment:
                if not runs or runs[-1][0] != owner[t]:
                    runs.append((owner[t], []))
                runs[-1][1].append(t)
            for i, (key, run) in enumerate(runs):
                last = i == len(runs) - 1
                expected = tokens[key][: len(run)] if last and may_be_cut else tokens[key]
                assert run == expected, "a segment starts or ends inside a sentence"
    assert two_segment > 0


def test_carry_over_on_a_hand_computed_example():
    # The same sentences as below, with carry-over: the buffer fills to 16 - 3 = 13 tokens, so the
    # third sentence is split after 2 of its 5 tokens; its other 3 and the fourth sentence start the next.
    sentences = [
        list(range(1000, 1006)),
        list(range(1006, 1011)),
        list(range(1011, 1016)),
        [1016, 1017],
    ]
    example, rest = pack(
        [sentences], max_length=16, short_seq_prob=0.0, single_segment_prob=0.0, carry_over=True
    )
    assert example.token_ids == [CLS, *range(1000, 1006), SEP, *range(1006, 1013), SEP]
    assert not example.truncated and example.dropped_tokens == 0 and len(example.token_ids) == 16
    assert [t for t in rest.token_ids if t not in (CLS, SEP)] == list(range(1013, 1018))


@pytest.mark.parametrize(
    "short_seq_prob, single_segment_prob", [(0.0, 0.0), (0.05, 0.1), (0.5, 1.0)]
)
def test_carry_over_loses_nothing_and_fills_every_example_but_a_documents_last(
    short_seq_prob, single_segment_prob
):
    documents = crafted_documents(80, max_sentence=60)  # sentences often longer than an example
    examples = pack(
        documents,
        max_length=32,
        short_seq_prob=short_seq_prob,
        single_segment_prob=single_segment_prob,
        carry_over=True,
    )
    by_document = {}
    for example in examples:
        first, second = segments(example)
        assert not example.truncated and len(example.token_ids) <= 32
        (document,) = {t // 1000 for t in first + second}  # never crosses documents
        by_document.setdefault(document, []).append(example)
    for d, document in enumerate(documents, start=1):
        packed = by_document[d]
        content = [t for e in packed for t in e.token_ids if t not in (CLS, SEP)]
        assert sorted(content) == [t for s in document for t in s], "a token was lost or repeated"
        for example in packed[:-1]:
            specials = 3 if SEP in example.token_ids[example.token_ids.index(SEP) + 1 :] else 2
            assert len(example.token_ids) == example.target_length - 3 + specials


def test_authors_rule_on_a_hand_computed_example():
    # Target 16 is reached after three sentences (6 + 5 + 5); the A target is (16 - 3) // 2 = 6, so A is
    # the first sentence and B the other two, cut to 16 - 6 - 3 = 7 tokens. The fourth sentence starts
    # the next example, which the end of the document flushes.
    sentences = [
        list(range(1000, 1006)),
        list(range(1006, 1011)),
        list(range(1011, 1016)),
        [1016, 1017],
    ]
    example, rest = pack([sentences], max_length=16, short_seq_prob=0.0, single_segment_prob=0.0)
    assert example.token_ids == [CLS, *range(1000, 1006), SEP, *range(1006, 1013), SEP]
    assert example.segment_ids == [0] * 8 + [1] * 8
    assert example.truncated and example.dropped_tokens == 3
    assert rest[:4] == ([CLS, 1016, 1017, SEP], [0, 0, 0, 0], False, 0)


@pytest.mark.parametrize(
    "coin, first, second",
    [
        # Coin 0.9: the 8-token sentence goes to B; the later 2-token one still fits A (4 < 6).
        (0.9, [*range(0, 2), *range(10, 12)], [*range(2, 10), 12]),
        # Coin 0.1: A takes the 8-token sentence past its target of 6; the rest goes to B, cut to 3.
        (0.1, [*range(0, 10)], [10, 11, 12]),
    ],
)
def test_authors_fifty_percent_clause(coin, first, second):
    lengths, k, sentences = [2, 8, 2, 4], 1000, []
    for n in lengths:
        sentences.append(list(range(k, k + n)))
        k += n
    # Draws in order: single segment? (no), the 50% clause for the second sentence, next target (full).
    rng = ScriptedRandom([0.5, coin, 0.9])
    (example,) = pack_documents([sentences], max_length=16, cls_id=CLS, sep_id=SEP, seed=rng)
    assert example.token_ids == [
        CLS,
        *(1000 + t for t in first),
        SEP,
        *(1000 + t for t in second),
        SEP,
    ]
    assert example.truncated


def test_single_segment_probability_one():
    for example in pack(crafted_documents(20), single_segment_prob=1.0):
        assert set(example.segment_ids) == {0}
        assert example.token_ids.count(SEP) == 1


def test_long_sentence_is_truncated_and_flagged():
    (example,) = pack([[list(range(1000, 1100))]], max_length=16)
    assert example.token_ids == [CLS, *range(1000, 1014), SEP]
    assert example.segment_ids == [0] * 16
    assert example.truncated


def test_one_short_sentence_document_yields_an_example():
    examples = pack([[[1000, 1001]], [[2000]]])
    assert [e.token_ids for e in examples] == [[CLS, 1000, 1001, SEP], [CLS, 2000, SEP]]
    assert [e.segment_ids for e in examples] == [[0, 0, 0, 0], [0, 0, 0]]
    assert not any(e.truncated for e in examples)


def test_empty_documents_and_sentences_yield_nothing():
    assert pack([[], [[]], [[], []]]) == []


def test_deterministic_for_a_seed():
    documents = crafted_documents(50)
    assert pack(documents, seed=3) == pack(documents, seed=3)
    assert pack(documents, seed=3) != pack(documents, seed=4)
    assert pack(documents, seed=random.Random(3)) == pack(documents, seed=3)


def test_streams_lazily():
    def documents():
        yield [[1000, 1001]]
        raise AssertionError("read past the first example")

    examples = pack_documents(documents(), max_length=8, cls_id=CLS, sep_id=SEP, seed=0)
    assert next(examples).token_ids == [CLS, 1000, 1001, SEP]


def test_single_segment_and_short_target_rates():
    # One long document of one-token sentences: an example's buffer then holds exactly its target
    # length T, and its content (tokens other than [CLS]/[SEP]) is shorter than max_length - 3 exactly
    # when T < max_length - 3, which a short target draw from [5, max_length] gives with the odds below.
    max_length, n = 32, 20_000
    document = [[1000 + k] for k in range(n * max_length)]
    examples = pack([document], max_length=max_length, seed=11)[
        :-1
    ]  # the last one is the remainder
    single = sum(set(e.segment_ids) == {0} for e in examples) / len(examples)
    content = [len(e.token_ids) - e.token_ids.count(CLS) - e.token_ids.count(SEP) for e in examples]
    short = sum(c < max_length - 3 for c in content) / len(examples)
    expected_short = 0.05 * (max_length - 8) / (max_length - 4)
    for observed, expected in ((single, 0.1), (short, expected_short)):
        standard_error = math.sqrt(expected * (1 - expected) / len(examples))
        assert abs(observed - expected) < 4 * standard_error, (observed, expected)


@pytest.mark.parametrize(
    "kwargs", [{"max_length": 4}, {"short_seq_prob": -0.1}, {"single_segment_prob": 1.5}]
)
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        pack([[[1000]]], **kwargs)
