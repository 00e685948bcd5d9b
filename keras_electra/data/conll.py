"""Reading CoNLL-2003 English NER files (`eng.train`, `eng.testa`, `eng.testb`).

Each token line holds four space-separated columns (token, POS tag, chunk tag, NER tag); a blank line
ends a sentence and `-DOCSTART-` lines mark document boundaries. The original NER tags are IOB1, where
`B-` appears only between two adjacent entities of one type; they are converted to IOB2, where every
entity starts with `B-`, because that is what token classifiers learn and what seqeval scores best.
"""

from dataclasses import dataclass
from pathlib import Path

from keras_electra.data.text_files import MAX_LINE_CHARS, read_lines

_ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
CONLL2003_TAGS = ("O",) + tuple(
    f"{prefix}-{entity}" for entity in _ENTITY_TYPES for prefix in ("B", "I")
)
_DOCSTART = "-DOCSTART-"
_COLUMNS = 4


@dataclass(frozen=True)
class ConllSentence:
    """One sentence: its tokens and their IOB2 NER tags, one tag per token."""

    words: list
    tags: list


def read_conll2003(path):
    """Reads a CoNLL-2003 file into a list of sentences with IOB2 tags, skipping `-DOCSTART-` lines."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    sentences = []
    words, tags = [], []
    for line_number, line in enumerate(read_lines(path, MAX_LINE_CHARS), start=1):
        fields = line.split()
        if fields and fields[0] != _DOCSTART:
            if len(fields) != _COLUMNS:
                raise ValueError(
                    f"{path}, line {line_number}: {len(fields)} columns, expected {_COLUMNS} "
                    "(token POS chunk NER)"
                )
            if fields[3] not in CONLL2003_TAGS:
                raise ValueError(
                    f"{path}, line {line_number}: unknown NER tag {fields[3]!r}; expected one of "
                    f"{list(CONLL2003_TAGS)}"
                )
            words.append(fields[0])
            tags.append(fields[3])
        elif words:
            sentences.append(ConllSentence(words, iob1_to_iob2(tags)))
            words, tags = [], []
    if words:
        sentences.append(ConllSentence(words, iob1_to_iob2(tags)))
    return sentences


def iob1_to_iob2(tags):
    """Returns IOB2 tags for IOB1 (or already IOB2) tags: an `I-X` that does not continue an X entity
    becomes `B-X`. IOB2 input comes back unchanged, so converting twice is harmless."""
    converted = []
    previous_type = None
    for index, tag in enumerate(tags):
        if tag == "O":
            previous_type = None
            converted.append(tag)
            continue
        prefix, _, entity_type = tag.partition("-")
        if prefix not in ("B", "I") or not entity_type:
            raise ValueError(f"tag {index} is {tag!r}: expected 'O', 'B-<type>' or 'I-<type>'")
        if prefix == "I" and entity_type != previous_type:
            prefix = "B"
        converted.append(f"{prefix}-{entity_type}")
        previous_type = entity_type
    return converted
