"""Sentence splitting of prose paragraphs, by `sentencex`.

Why sentencex: Wikimedia's rule-based segmenter (abbreviation lists and punctuation rules for about 300
languages, CJK "。！？" included) with a Rust core, so it needs no model download (NLTK's Punkt and
wtpsplit do), has no dependencies (spaCy's sentencizer brings all of spaCy), is still released (pysbd,
syntok and blingfire have not been since 2021-22), and splits about 50 MB of text a second on one core,
a small share of what WordPiece takes.

It is given one paragraph at a time: on a long text an unbalanced quotation mark would keep it from
splitting everything after it.
"""

import sentencex


def split_sentences(paragraph, language="en"):
    """The sentences of one paragraph, stripped, in order; their concatenation is the paragraph's text."""
    return [
        sentence.strip()
        for sentence in sentencex.segment(language, paragraph)
        if not sentence.isspace()
    ]
