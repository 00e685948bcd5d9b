"""The `keras-electra` command: bad input named clearly, and a real run end to end."""

import json

import pytest

from conftest import shared_data, write_corpus
from keras_electra.cli.main import main


def test_every_sub_command_has_help(capsys):
    for command in ("build-data", "pretrain"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert "usage: keras-electra " + command in capsys.readouterr().out


def test_missing_corpus_is_named(tmp_path, capsys):
    missing = tmp_path / "nowhere.txt"
    assert main(["build-data", "--corpus", str(missing), "--vocab-size", "100", "--out", str(tmp_path / "d")]) == 2
    assert "nowhere.txt" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_vocabulary_without_special_tokens_is_named(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "texts", files=1)
    vocab = tmp_path / "bad_vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\nthe\ncat\n", encoding="utf-8")
    assert main(["build-data", "--corpus", str(corpus), "--vocab", str(vocab), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "bad_vocab.txt" in err and "[MASK]" in err
    assert not (tmp_path / "d").exists()


def test_pretrain_refuses_a_non_data_directory_and_a_used_run_directory(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["pretrain", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run")]) == 2
    assert "manifest.json" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("x")
    assert main(["pretrain", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "used")]) == 2
    assert "used" in capsys.readouterr().err
    assert (tmp_path / "used" / "keep.txt").read_text() == "x"
