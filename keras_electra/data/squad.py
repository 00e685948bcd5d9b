"""Reading SQuAD v1.1 and v2.0 question-answering data into one flat list of questions.

Answer positions are checked against their context on reading, because a wrong `answer_start` only
shows up much later as a span label pointing at the wrong tokens.
"""

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SquadExample:
    """One question on its context; `answers` holds {"text", "answer_start"} dicts, character offsets
    into `context`. `is_impossible` (SQuAD 2.0 only) marks a question the context cannot answer; its
    `answers` is then empty, the "plausible answers" of SQuAD 2.0 being left out."""

    id: str
    question: str
    context: str
    answers: list
    is_impossible: bool = False


def read_squad(path):
    """Reads a SQuAD JSON file, or a .zip holding one .json file, as distributed in some mirrors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    dataset = _load_json(path)
    examples, location = [], ""  # where in the file reading got to, for the error message
    try:
        for i, article in enumerate(dataset["data"]):
            location = f"data[{i}]"
            for j, paragraph in enumerate(article["paragraphs"]):
                location = f"data[{i}].paragraphs[{j}]"
                context = paragraph["context"]
                for k, qa in enumerate(paragraph["qas"]):
                    location = f"data[{i}].paragraphs[{j}].qas[{k}]"
                    examples.append(_example(qa, context, path))
    except (KeyError, TypeError) as error:
        at = f" at {location}" if location else ""
        raise ValueError(
            f"{path}: not in SQuAD's layout{at} ({type(error).__name__}: {error})"
        ) from None
    return examples


def _example(qa, context, path):
    question_id = qa["id"]
    is_impossible = bool(qa.get("is_impossible", False))
    answers = (
        []
        if is_impossible
        else [
            {"text": answer["text"], "answer_start": answer["answer_start"]}
            for answer in qa["answers"]
        ]
    )
    for answer in answers:
        start, text = answer["answer_start"], answer["text"]
        if start < 0 or context[start : start + len(text)] != text:
            raise ValueError(
                f"{path}: question {question_id}: answer {text!r} is not at character {start} of its "
                f"context (found {context[start : start + len(text)]!r})"
            )
    return SquadExample(question_id, qa["question"], context, answers, is_impossible)


def _load_json(path):
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [
                name
                for name in archive.namelist()
                if name.endswith(".json") and not name.startswith("__MACOSX/")
            ]
            if len(names) != 1:
                raise ValueError(f"{path}: expected one .json file in the zip, found {names}")
            raw = archive.read(names[0])
    else:
        raw = path.read_bytes()
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
