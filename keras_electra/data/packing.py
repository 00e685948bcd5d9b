"""Packing tokenized documents into ELECTRA pretraining examples.

This reproduces `ExampleBuilder` of google-research/electra `build_pretraining_dataset.py`, random draws
included and in the same order, so that the corpus statistics match the authors' (the rule below).
One option departs from it: `carry_over`, which loses no text (docs/data.md, "Packing").

The rule (the authors' `ExampleBuilder`):

1. Append the sentences of one document to a buffer until its token count reaches the target
   length (`>=`), then emit an example from the buffer. At the end of a document a non-empty buffer
   is emitted too, so no example crosses documents.
2. The target length starts at `max_length`. After each example it is redrawn: with probability
   `short_seq_prob` uniformly from [5, max_length], else `max_length`. The target carries over to
   the next example, also across documents.
3. Splitting the buffer: with probability `single_segment_prob` the first-segment target is
   100000 (one segment), else `(target_length - 3) // 2`. Each sentence, in order, goes to A if
   A is empty, or if `len(A) + len(sentence) < first_target`, or, with probability 0.5, if B is
   still empty and `len(A) < first_target`; otherwise it goes to B. So every sentence lies whole in
   A or in B, and B may be empty (then the example has one segment). As in the authors' code, a short
   sentence after B has started still joins A when it fits, so A and B need not be contiguous runs.
4. Truncation keeps the heads: `A = A[:max_length - 2]`, then
   `B = B[:max(0, max_length - len(A) - 3)]`. `truncated` says whether either cut dropped a token.
   Since the buffer of a full-length example holds at least `max_length` tokens and three special
   tokens must fit too, nearly every full-length example loses the tail of its last sentence; this
   is the authors' behaviour.
5. Output `[CLS] A [SEP]` with segment id 0, then, when B is non-empty, `B [SEP]` with segment id 1.

With `carry_over`, rule 1 fills the buffer to `target_length - 3` tokens instead, the room left once
the special tokens are in: a sentence longer than the room left is split at a token boundary, its
head ends this example and its tail starts the next one of the same document. Nothing is truncated,
and every example but a document's last has exactly `target_length` tokens (one fewer when it has a
single segment, which needs one [SEP] only).
"""

import random
from typing import NamedTuple

# Authors' value: a first-segment target no example reaches, i.e. "everything goes into segment A".
_ONE_SEGMENT = 100_000


class PackedExample(NamedTuple):
    """One unpadded example: `[CLS] A [SEP] B [SEP]`, or `[CLS] A [SEP]` when it has one segment.

    `dropped_tokens` counts the text tokens truncation cut off (`truncated` is whether there were any);
    `target_length` is the length the example was packed for (below `max_length` for a short target).
    """

    token_ids: list
    segment_ids: list
    truncated: bool
    dropped_tokens: int = 0
    target_length: int = 0


def pack_documents(
    documents,
    *,
    max_length,
    cls_id,
    sep_id,
    seed,
    short_seq_prob=0.05,
    single_segment_prob=0.1,
    carry_over=False,
):
    """Yields `PackedExample`s built from tokenized documents, by the rule of the module docstring.

    `documents` is an iterable of documents, each a list of sentences, each a list of int token ids; it
    is consumed lazily, so a large corpus streams. `seed` is an int or a `random.Random`; the same
    documents and seed give the same examples.
    """
    _check_arguments(max_length, short_seq_prob, single_segment_prob)
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    target_length = max_length
    specials = (
        3 if carry_over else 0
    )  # [CLS] and two [SEP], counted in the buffer's room with carry_over

    def emit(sentences):
        nonlocal target_length
        first, second = split_segments(sentences, target_length, rng, single_segment_prob)
        example = build_example(first, second, max_length=max_length, cls_id=cls_id, sep_id=sep_id)
        target = target_length
        target_length = draw_target_length(rng, max_length, short_seq_prob)
        return example._replace(target_length=target)

    for document in documents:
        sentences, length = [], 0
        for sentence in document:
            while carry_over and length + len(sentence) > target_length - specials:
                room = target_length - specials - length
                sentences.append(sentence[:room])
                sentence = sentence[room:]
                yield emit(sentences)
                sentences, length = [], 0
            sentences.append(sentence)
            length += len(sentence)
            if length >= target_length - specials:
                yield emit(sentences)
                sentences, length = [], 0
        if length:
            yield emit(sentences)


def _check_arguments(max_length, short_seq_prob, single_segment_prob):
    if max_length < 5:
        raise ValueError(
            f"max_length must be at least 5 (the shortest drawn target), got {max_length}"
        )
    for name, prob in (
        ("short_seq_prob", short_seq_prob),
        ("single_segment_prob", single_segment_prob),
    ):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {prob}")


def split_segments(sentences, target_length, rng, single_segment_prob=0.1):
    """Splits a buffer of sentences into token lists A and B, each made of whole sentences (rule 3)."""
    if rng.random() < single_segment_prob:
        first_target = _ONE_SEGMENT
    else:
        first_target = (target_length - 3) // 2  # 3 = [CLS] and two [SEP], not yet added
    first, second = [], []
    for sentence in sentences:
        if (
            not first
            or len(first) + len(sentence) < first_target
            or (not second and len(first) < first_target and rng.random() < 0.5)
        ):
            first.extend(sentence)
        else:
            second.extend(sentence)
    return first, second


def build_example(first, second, *, max_length, cls_id, sep_id):
    """Truncates A and B to fit `max_length` and adds the special tokens (rules 4 and 5)."""
    kept_first = first[: max_length - 2]
    kept_second = second[: max(0, max_length - len(kept_first) - 3)]
    dropped = len(first) - len(kept_first) + len(second) - len(kept_second)
    token_ids = [cls_id, *kept_first, sep_id]
    segment_ids = [0] * len(token_ids)
    if kept_second:
        token_ids += [*kept_second, sep_id]
        segment_ids += [1] * (len(kept_second) + 1)
    return PackedExample(token_ids, segment_ids, dropped > 0, dropped)


def draw_target_length(rng, max_length, short_seq_prob=0.05):
    """The target length of the next example (rule 2)."""
    if rng.random() < short_seq_prob:
        return rng.randint(5, max_length)
    return max_length
