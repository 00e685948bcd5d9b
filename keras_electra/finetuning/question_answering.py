"""Extractive question answering (SQuAD): question + context -> windows of features, logits -> answer.

Features follow Google's BERT/ELECTRA `run_squad`: the question (cut to `max_query_length` tokens)
and a window of the context are packed as `[CLS] question [SEP] context-window [SEP]`, segment ids 0
on `[CLS] question [SEP]` and 1 on `context-window [SEP]`. A context longer than one window is
covered by overlapping windows whose starts are `doc_stride` tokens apart (BERT's meaning of
`doc_stride`: the step between window starts, not the overlap). For training, a window that holds
the whole answer gets its start/end token positions; a window that does not points both at [CLS]
(position 0).

Unlike BERT, which splits the context on whitespace and maps tokens back to words, every context
token carries its (start, end) character span in the ORIGINAL context (from the Rust tokenizer's
offsets), so a decoded answer is an exact slice of the context, with its original case, accents,
inner spacing and punctuation. An answer boundary that falls inside a token (the answer "Norman"
in the context word "Normans", when "normans" is one token) is widened to the whole token: a token
is the smallest unit a span can point at.
"""

import numpy as np

from keras_electra.finetuning.metrics import softmax


def _answer_token_span(offsets, answer_start, answer_end):
    """First and last context token overlapping the characters [answer_start, answer_end), or None."""
    overlapping = [
        index
        for index, (start, end) in enumerate(offsets)
        if start < answer_end and end > answer_start
    ]
    if not overlapping:
        return None
    return overlapping[0], overlapping[-1]


def _doc_spans(num_tokens, max_tokens_for_doc, doc_stride):
    """(start, length) of each window over `num_tokens` context tokens, as BERT's run_squad."""
    spans = []
    start = 0
    while start < num_tokens:
        length = min(num_tokens - start, max_tokens_for_doc)
        spans.append((start, length))
        if start + length == num_tokens:
            break
        start += min(length, doc_stride)
    return spans or [(0, 0)]


def _max_context(spans, num_tokens):
    """For each context token, the index of the window where it has the most context on both sides.

    BERT's score: min(tokens to the left, tokens to the right) + 0.01 * window length; ties go to
    the earlier window.
    """
    positions = np.arange(num_tokens)
    scores = np.full((len(spans), num_tokens), -np.inf)
    for index, (start, length) in enumerate(spans):
        end = start + length - 1
        inside = (positions >= start) & (positions <= end)
        score = np.minimum(positions - start, end - positions) + 0.01 * length
        scores[index, inside] = score[inside]
    return scores.argmax(axis=0) if num_tokens else np.zeros(0, "int64")


def squad_features(
    tokenizer,
    question,
    context,
    max_length=384,
    doc_stride=128,
    max_query_length=64,
    answer_start=None,
    answer_text=None,
    *,
    context_encoding=None,
):
    """Windows of model inputs for one question over one context.

    Args:
        tokenizer: an `ElectraTokenizer`.
        question, context: str.
        max_length: tokens a window, [CLS] and the two [SEP] included.
        doc_stride: tokens between the starts of consecutive windows.
        max_query_length: the question is cut to this many tokens.
        answer_start, answer_text: for training, the answer's character offset in `context` and its
            text (`context[answer_start:answer_start + len(answer_text)]` must equal `answer_text`).
        context_encoding: optionally, `tokenizer.encode_with_offsets(context)` computed beforehand
            (e.g. once for a paragraph shared by several questions, or by `encode_batch_with_offsets`).

    Returns:
        list of windows, each a dict:
            `token_ids`, `segment_ids`, `padding_mask`: int32 arrays of shape (max_length,);
            `offsets`: int32 (max_length, 2), the (start, end) character span in `context` of each
                context token, -1 on [CLS], question, [SEP] and [PAD] positions;
            `max_context`: bool (max_length,), True on context tokens for which this window is the
                one with the most surrounding context (decoding starts answers only there);
            `context_start`: index, among all context tokens, of the window's first one;
            `start_position`, `end_position` (with an answer): token positions of the answer in the
                window, both 0 ([CLS]) when the window does not hold the whole answer.

    Raises:
        ValueError: on a window too small for the question, or an answer that does not match the
            context or covers no token.
    """
    max_length, doc_stride, max_query_length = (
        int(max_length),
        int(doc_stride),
        int(max_query_length),
    )
    query_ids = _query_ids(tokenizer, question, max_length, doc_stride, max_query_length)
    context_ids, context_offsets = _checked_context_encoding(tokenizer, context, context_encoding)
    answer_span = _checked_answer_span(context, context_offsets, answer_start, answer_text)
    spans = _doc_spans(len(context_ids), max_length - len(query_ids) - 3, doc_stride)
    return _windows(
        tokenizer, query_ids, context_ids, context_offsets, spans, answer_span, max_length
    )


def squad_windows(
    tokenizer, questions, contexts, max_length, doc_stride, max_query_length, answers=None
):
    """`squad_features` of each question over its context: a list of windows per example.

    The contexts are encoded in parallel by the Rust encoder; `answers` (for training) holds each
    question's `{"text", "answer_start"}`, as SQuAD gives it.
    """
    if isinstance(questions, str):
        questions, contexts = [questions], [contexts]
    if len(questions) != len(contexts):
        raise ValueError(f"{len(questions)} questions but {len(contexts)} contexts")
    encodings = tokenizer.encode_batch_with_offsets(contexts)
    result = []
    for index, (question, context) in enumerate(zip(questions, contexts)):
        answer = answers[index] if answers is not None else None
        result.append(
            squad_features(
                tokenizer,
                question,
                context,
                max_length,
                doc_stride,
                max_query_length,
                answer_start=None if answer is None else answer["answer_start"],
                answer_text=None if answer is None else answer["text"],
                context_encoding=encodings[index],
            )
        )
    return result


def _checked_context_encoding(tokenizer, context, context_encoding):
    """The context's ids and offsets: `context_encoding`, checked to pair them, or the tokenizer's."""
    if context_encoding is None:
        context_encoding = tokenizer.encode_with_offsets(context)
    context_ids, context_offsets = context_encoding
    if len(context_ids) != len(context_offsets):
        raise ValueError(
            f"context_encoding has {len(context_ids)} ids but {len(context_offsets)} offsets"
        )
    return context_ids, context_offsets


def _windows(tokenizer, query_ids, context_ids, context_offsets, spans, answer_span, max_length):
    """The window of each span, its `max_context` marked and, with an answer, its positions."""
    best_window = _max_context(spans, len(context_ids))
    doc_offset = len(query_ids) + 2
    windows = []
    for window_index, (start, length) in enumerate(spans):
        window = _window(
            tokenizer, query_ids, context_ids, context_offsets, start, length, max_length
        )
        window["max_context"][doc_offset : doc_offset + length] = (
            best_window[start : start + length] == window_index
        )
        if answer_span is not None:
            window["start_position"], window["end_position"] = _answer_positions(
                answer_span, start, length, doc_offset
            )
        windows.append(window)
    return windows


def _query_ids(tokenizer, question, max_length, doc_stride, max_query_length):
    """The question's ids, cut to `max_query_length`, once the window is known to leave room for context."""
    if doc_stride < 1:
        raise ValueError(f"doc_stride must be positive, got {doc_stride}")
    if max_query_length < 0:
        raise ValueError(f"max_query_length must be non-negative, got {max_query_length}")
    query_ids = list(tokenizer.encode(question))[:max_query_length]
    if max_length - len(query_ids) - 3 < 1:
        raise ValueError(
            f"max_length {max_length} leaves no room for context after a {len(query_ids)}-token question "
            "and [CLS] [SEP] [SEP]"
        )
    return query_ids


def _checked_answer_span(context, context_offsets, answer_start, answer_text):
    """The answer's first and last context token, after checking it is where it says; None without one."""
    if (answer_start is None) != (answer_text is None):
        raise ValueError("pass both answer_start and answer_text, or neither")
    if answer_text is None:
        return None
    answer_start = int(answer_start)
    answer_end = answer_start + len(answer_text)
    if answer_start < 0 or context[answer_start:answer_end] != answer_text:
        raise ValueError(
            f"answer {answer_text!r} is not at character {answer_start} of the context "
            f"(found {context[max(answer_start, 0) : max(answer_end, 0)]!r})"
        )
    answer_span = _answer_token_span(context_offsets, answer_start, answer_end)
    if answer_span is None:
        raise ValueError(f"answer {answer_text!r} at character {answer_start} covers no token")
    return answer_span


def _window(tokenizer, query_ids, context_ids, context_offsets, start, length, max_length):
    """`[CLS] question [SEP] context[start:start + length] [SEP]`, padded; `max_context` left all False."""
    doc_offset = len(query_ids) + 2
    used = doc_offset + length + 1
    token_ids = np.full(max_length, tokenizer.pad_token_id, "int32")
    token_ids[0] = tokenizer.cls_token_id
    token_ids[1 : doc_offset - 1] = query_ids
    token_ids[doc_offset - 1] = tokenizer.sep_token_id
    token_ids[doc_offset : doc_offset + length] = context_ids[start : start + length]
    token_ids[used - 1] = tokenizer.sep_token_id
    segment_ids = np.zeros(max_length, "int32")
    segment_ids[doc_offset:used] = 1
    padding_mask = np.zeros(max_length, "int32")
    padding_mask[:used] = 1
    offsets = np.full((max_length, 2), -1, "int32")
    if length:
        offsets[doc_offset : doc_offset + length] = context_offsets[start : start + length]
    return {
        "token_ids": token_ids,
        "segment_ids": segment_ids,
        "padding_mask": padding_mask,
        "offsets": offsets,
        "max_context": np.zeros(max_length, bool),
        "context_start": start,
    }


def _answer_positions(answer_span, start, length, doc_offset):
    """The answer's token positions in a window, or (0, 0) ([CLS]) when the window lacks part of it."""
    first, last = answer_span
    if start <= first and last < start + length:
        return first - start + doc_offset, last - start + doc_offset
    return 0, 0


def decode_answer(
    start_logits,
    end_logits,
    windows,
    context,
    n_best=20,
    max_answer_length=30,
    max_context_only=True,
):
    """The best answer span over all windows of one question, as a slice of the original `context`.

    Candidates are, in each window, pairs of the `n_best` highest start and end logits among
    context tokens with end >= start and at most `max_answer_length` tokens; a span's score is
    start logit + end logit. With `max_context_only` (BERT's rule) a span may only start on a token
    for which this window is its max-context window, so that the token's logits are those computed
    with the most context around it.

    Args:
        start_logits, end_logits: one row of logits per window (a list of arrays or an array of
            shape (num_windows, max_length)).
        windows: the windows from `squad_features` for this question.
        context: the context string the windows were made from.

    Returns:
        dict with `text` (the best answer, "" when there is no valid span), `start_char`, `end_char`
        (`text == context[start_char:end_char]`; None when empty), `score`, and `n_best`: up to
        `n_best` candidates with distinct texts, best first, each a dict with `text`, `start_char`,
        `end_char`, `score`, `probability` (softmax over the listed scores), `window`, and the
        `start_index` / `end_index` token positions in that window.
    """
    if len(start_logits) != len(windows) or len(end_logits) != len(windows):
        raise ValueError(
            f"{len(windows)} windows but {len(start_logits)} start and {len(end_logits)} end logit rows"
        )
    candidates = []
    for window_index, window in enumerate(windows):
        candidates += _window_candidates(
            window_index,
            window,
            start_logits[window_index],
            end_logits[window_index],
            n_best,
            max_answer_length,
            max_context_only,
        )
    candidates.sort(key=lambda candidate: -candidate[0])
    best = _distinct_answers(candidates, windows, context, n_best)
    if not best:
        return {"text": "", "start_char": None, "end_char": None, "score": None, "n_best": []}
    for entry, probability in zip(best, softmax([entry["score"] for entry in best])):
        entry["probability"] = float(probability)
    top = best[0]
    return {
        "text": top["text"],
        "start_char": top["start_char"],
        "end_char": top["end_char"],
        "score": top["score"],
        "n_best": best,
    }


def decode_answers(span_logits, windows, contexts, n_best=20, max_answer_length=30):
    """`decode_answer` of each example: `span_logits`, `[rows, max_length, 2]` start and end logits,
    holds the rows of every example's windows one example after the other, as `squad_windows` lists
    them."""
    results, row = [], 0
    for context, example_windows in zip(
        [contexts] if isinstance(contexts, str) else contexts, windows
    ):
        rows = span_logits[row : row + len(example_windows)]
        row += len(example_windows)
        results.append(
            decode_answer(
                rows[..., 0], rows[..., 1], example_windows, context, n_best, max_answer_length
            )
        )
    return results


def _window_candidates(
    window_index, window, start_logits, end_logits, n_best, max_answer_length, max_context_only
):
    """`(score, window, start, end)` of the valid pairs among a window's `n_best` starts and ends."""
    offsets = np.asarray(window["offsets"])
    starts_all = np.asarray(start_logits, "float64").reshape(-1)
    ends_all = np.asarray(end_logits, "float64").reshape(-1)
    if starts_all.shape[0] < len(offsets) or ends_all.shape[0] < len(offsets):
        raise ValueError(
            f"window {window_index}: logits of length {starts_all.shape[0]}/{ends_all.shape[0]}, "
            f"expected {len(offsets)}"
        )
    context_positions = np.nonzero(offsets[:, 0] >= 0)[0]
    start_positions = context_positions
    if max_context_only:
        start_positions = context_positions[np.asarray(window["max_context"])[context_positions]]
    if not start_positions.size:
        return []
    # Stable sort so that equal logits keep the earlier position first.
    top_starts = start_positions[np.argsort(-starts_all[start_positions], kind="stable")[:n_best]]
    top_ends = context_positions[np.argsort(-ends_all[context_positions], kind="stable")[:n_best]]
    # Positions of a window's context tokens are consecutive, so end - start + 1 counts tokens.
    scores = starts_all[top_starts][:, None] + ends_all[top_ends][None, :]
    valid = top_ends[None, :] >= top_starts[:, None]
    valid &= top_ends[None, :] - top_starts[:, None] < max_answer_length
    valid &= np.isfinite(scores)
    return [
        (float(scores[row, column]), window_index, int(top_starts[row]), int(top_ends[column]))
        for row, column in zip(*np.nonzero(valid))
    ]


def _distinct_answers(candidates, windows, context, n_best):
    """The first `n_best` candidates (best first) with distinct texts, as dicts."""
    best, seen = [], set()
    for score, window_index, start, end in candidates:
        offsets = windows[window_index]["offsets"]
        start_char, end_char = int(offsets[start][0]), int(offsets[end][1])
        text = context[start_char:end_char]
        if text in seen:
            continue
        seen.add(text)
        best.append(
            {
                "text": text,
                "start_char": start_char,
                "end_char": end_char,
                "score": float(score),
                "window": window_index,
                "start_index": start,
                "end_index": end,
            }
        )
        if len(best) == n_best:
            break
    return best
