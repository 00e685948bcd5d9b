"""SQuAD reading: v1.1 and v2.0 layouts, zipped or not, and answers checked against their context."""

import json
import zipfile

import pytest
from conftest import backend_independent, shared_data

from keras_electra.data.squad import SquadExample, read_squad

pytestmark = backend_independent

CONTEXT = "The Broncos beat the Panthers 24-10 in Santa Clara."


def squad_json(qas, version="1.1"):
    return {
        "version": version,
        "data": [{"title": "SB", "paragraphs": [{"context": CONTEXT, "qas": qas}]}],
    }


V1_QAS = [
    {
        "id": "q1",
        "question": "Who won?",
        "answers": [
            {"answer_start": 4, "text": "Broncos"},
            {"answer_start": 0, "text": "The Broncos"},
        ],
    },
    {"id": "q2", "question": "Where?", "answers": [{"answer_start": 39, "text": "Santa Clara"}]},
]


def write_json(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_v1_examples(tmp_path):
    examples = read_squad(write_json(tmp_path / "dev-v1.1.json", squad_json(V1_QAS)))
    assert examples == [
        SquadExample(
            "q1",
            "Who won?",
            CONTEXT,
            [{"text": "Broncos", "answer_start": 4}, {"text": "The Broncos", "answer_start": 0}],
        ),
        SquadExample("q2", "Where?", CONTEXT, [{"text": "Santa Clara", "answer_start": 39}]),
    ]
    assert not any(example.is_impossible for example in examples)


def test_v2_unanswerable_questions_have_no_answers(tmp_path):
    qas = [
        V1_QAS[0] | {"is_impossible": False},
        {
            "id": "q3",
            "question": "Who lost the toss?",
            "answers": [],
            "plausible_answers": [{"answer_start": 21, "text": "Panthers"}],
            "is_impossible": True,
        },
    ]
    examples = read_squad(write_json(tmp_path / "dev-v2.0.json", squad_json(qas, "v2.0")))
    assert [(e.id, e.is_impossible, len(e.answers)) for e in examples] == [
        ("q1", False, 2),
        ("q3", True, 0),
    ]


def test_a_zip_holding_one_json(tmp_path):
    path = tmp_path / "dev.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("dev-v1.1.json", json.dumps(squad_json(V1_QAS)))
        archive.writestr("__MACOSX/._dev-v1.1.json", "resource fork, not JSON")
    assert [e.id for e in read_squad(path)] == ["q1", "q2"]


def test_a_zip_without_exactly_one_json_is_refused(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.json", "{}")
        archive.writestr("b.json", "{}")
    with pytest.raises(ValueError, match=r"two\.zip: expected one \.json file in the zip"):
        read_squad(path)


@pytest.mark.parametrize("start", [5, 100, -7])
def test_a_misplaced_answer_names_the_question(tmp_path, start):
    misplaced = {
        "id": "q9",
        "question": "Who won?",
        "answers": [{"answer_start": start, "text": "Broncos"}],
    }
    path = write_json(tmp_path / "bad.json", squad_json([V1_QAS[1], misplaced]))
    message = (
        rf"bad\.json: question q9: answer 'Broncos' is not at character {start} of its context"
    )
    with pytest.raises(ValueError, match=message):
        read_squad(path)


def test_a_file_not_in_squad_layout_or_not_json(tmp_path):
    with pytest.raises(ValueError, match=r"odd\.json: not in SQuAD's layout \(KeyError: 'data'\)"):
        read_squad(write_json(tmp_path / "odd.json", {"version": "1.1"}))
    (tmp_path / "broken.json").write_text('{"data": [', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON"):
        read_squad(tmp_path / "broken.json")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dev-v1\.1\.json"):
        read_squad(tmp_path / "dev-v1.1.json")


@pytest.mark.large
def test_real_squad_v1_dev():
    examples = read_squad(shared_data("squad_v1.1", "dev-v1.1.json.zip"))
    assert len(examples) == 10_570
    assert len({e.id for e in examples}) == 10_570
    assert all(e.answers and not e.is_impossible for e in examples)
    first = examples[0]
    assert first.id == "56be4db0acb8001400a502ec"
    assert first.question == "Which NFL team represented the AFC at Super Bowl 50?"
    assert first.answers[0] == {"text": "Denver Broncos", "answer_start": 177}
