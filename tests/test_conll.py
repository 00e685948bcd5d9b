"""CoNLL-2003 reading and IOB1 -> IOB2 conversion."""

import pytest
from conftest import backend_independent, shared_data

from keras_electra.data.conll import CONLL2003_TAGS, iob1_to_iob2, read_conll2003

pytestmark = backend_independent

SAMPLE = """\
-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- O O

In IN I-PP O
Italy NNP I-NP I-LOC
"""


def test_sentences_skip_docstart_and_get_iob2_tags(tmp_path):
    path = tmp_path / "eng.sample"
    path.write_text(SAMPLE, encoding="utf-8")
    sentences = read_conll2003(path)
    assert [s.words for s in sentences] == [
        ["EU", "rejects", "German", "call"],
        ["Peter", "Blackburn"],
        ["In", "Italy"],  # the last sentence has no blank line after it
    ]
    assert [s.tags for s in sentences] == [
        ["B-ORG", "O", "B-MISC", "O"],
        ["B-PER", "I-PER"],
        ["O", "B-LOC"],
    ]


def test_crlf_and_trailing_blank_lines_are_harmless(tmp_path):
    path = tmp_path / "eng.crlf"
    path.write_bytes(b"Rome NNP I-NP I-LOC\r\n\r\n\r\n")
    assert [(s.words, s.tags) for s in read_conll2003(path)] == [(["Rome"], ["B-LOC"])]


@pytest.mark.parametrize(
    "line, message",
    [
        ("Italy NNP I-LOC", r"eng\.bad, line 3: 3 columns, expected 4"),
        ("Italy NNP I-NP I-LOC extra", r"eng\.bad, line 3: 5 columns"),
        ("Italy NNP I-NP I-CITY", r"eng\.bad, line 3: unknown NER tag 'I-CITY'"),
    ],
)
def test_malformed_lines_name_the_file_and_line(tmp_path, line, message):
    path = tmp_path / "eng.bad"
    path.write_text(f"-DOCSTART- -X- O O\n\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_conll2003(path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"eng\.train"):
        read_conll2003(tmp_path / "eng.train")


def test_iob1_to_iob2():
    # IOB1 uses B- only where an entity directly follows one of the same type.
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "O", "B-MISC"]
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "O", "B-MISC"]
    assert iob1_to_iob2(iob1) == iob2
    assert iob1_to_iob2(iob2) == iob2  # IOB2 is already valid IOB1
    assert iob1_to_iob2([]) == []


@pytest.mark.parametrize("tag", ["PER", "X-PER", "B-", "o"])
def test_iob1_to_iob2_rejects_a_malformed_tag(tag):
    with pytest.raises(ValueError, match=f"tag 1 is '{tag}'"):
        iob1_to_iob2(["O", tag])


def test_tag_list():
    assert CONLL2003_TAGS == (
        "O",
        "B-PER",
        "I-PER",
        "B-ORG",
        "I-ORG",
        "B-LOC",
        "I-LOC",
        "B-MISC",
        "I-MISC",
    )


@pytest.mark.large
@pytest.mark.parametrize(
    "name, sentences, tokens",
    [("eng.train", 14_041, 203_621), ("eng.testa", 3_250, 51_362), ("eng.testb", 3_453, 46_435)],
)
def test_real_conll2003_counts_match_the_readme(name, sentences, tokens):
    data = read_conll2003(shared_data("conll2003", name))
    assert len(data) == sentences
    assert sum(len(s.words) for s in data) == tokens
    assert all(len(s.words) == len(s.tags) for s in data)
    tags = {tag for s in data for tag in s.tags}
    assert tags <= set(CONLL2003_TAGS)
    # IOB2: an I- tag always continues an entity of its own type.
    for s in data:
        for previous, tag in zip(["O"] + s.tags, s.tags):
            assert not tag.startswith("I-") or previous[2:] == tag[2:]
