"""build_pretraining_data and the shard format: layout, determinism, atomicity, errors, real text."""

import json
import re
import shutil

import numpy as np
import pytest
from conftest import SMALL_SHARDS, backend_independent, shared_data, tokenizer_of

from keras_electra.data import ElectraTokenizer, build_pretraining_data
from keras_electra.data.documents import DOCUMENT_MARKER
from keras_electra.data.shards import open_shards, read_manifest, segment_ids_and_mask
from keras_electra.version import __version__

pytestmark = backend_independent

# The fixtures corpus, vocab_file and data_dir (built into SMALL_SHARDS) come from conftest.py.
MAX_LENGTH = SMALL_SHARDS["max_length"]


def build(corpus, out_dir, vocab_file, **kwargs):
    return build_pretraining_data(
        corpus, out_dir, vocab_file=vocab_file, **{**SMALL_SHARDS, **kwargs}
    )


def corpus_texts(corpus):
    return [path.read_text("utf-8") for path in sorted(corpus.iterdir())]


def all_rows(data_dir):
    return np.concatenate(open_shards(data_dir) + open_shards(data_dir, "heldout"))


def assert_valid_data_dir(data_dir, corpus):
    manifest = read_manifest(data_dir)
    tokenizer = ElectraTokenizer.from_vocab_file(data_dir / "vocab.txt")
    special = manifest["special_token_ids"]
    assert (
        manifest["format"] == "keras-electra-pretraining-data" and manifest["format_version"] == 1
    )
    assert manifest["library_version"] == __version__ and manifest["max_length"] == MAX_LENGTH
    assert manifest["vocab_size"] == tokenizer.vocab_size and manifest["dtype"] == "uint16"
    assert manifest["vocab_sha256"] == tokenizer.vocabulary_hash()
    assert special == dict(pad=0, unk=1, cls=2, sep=3, mask=4)
    shards = open_shards(data_dir)
    assert [shard.shape for shard in shards] == [
        (e["examples"], MAX_LENGTH) for e in manifest["shards"]
    ]
    assert len(shards) > 1 and all(shard.dtype == np.uint16 for shard in shards)
    counts = manifest["counts"]
    heldout = manifest["heldout"]["examples"]
    assert sum(e["examples"] for e in manifest["shards"]) + heldout == counts["examples"]
    assert heldout == counts["examples"] // 10 > 0
    # Splitting into sentences happens at spaces, so it leaves each file's tokens as they were.
    assert counts["tokens"] == sum(map(len, tokenizer.encode_batch(corpus_texts(corpus))))
    assert counts["files"] == 3 and counts["documents"] == 3  # prose: a file is a document

    rows = all_rows(data_dir)
    assert (rows[:, 0] == special["cls"]).all() and (rows < tokenizer.vocab_size).all()
    is_pad = rows == special["pad"]
    lengths = (~is_pad).sum(axis=1)
    assert (is_pad == (np.arange(MAX_LENGTH) >= lengths[:, None])).all(), "padding only at the end"
    is_sep = rows == special["sep"]
    assert set(is_sep.sum(axis=1)) <= {1, 2}
    assert (rows[np.arange(len(rows)), lengths - 1] == special["sep"]).all()
    assert ((rows == special["cls"]).sum(axis=1) == 1).all()
    summary = json.loads((data_dir / "summary.json").read_text())
    assert {key: summary[key] for key in counts} == counts


def test_build_with_vocab_file(data_dir, corpus, vocab_file):
    assert_valid_data_dir(data_dir, corpus)
    assert (data_dir / "vocab.txt").read_bytes() == vocab_file.read_bytes()
    assert sorted(path.name for path in data_dir.parent.iterdir()) == ["data"], (
        "no temporary left behind"
    )


def test_build_with_trained_vocab(corpus, tmp_path):
    summary = build_pretraining_data(corpus, tmp_path / "data", vocab_size=200, **SMALL_SHARDS)
    assert_valid_data_dir(tmp_path / "data", corpus)
    assert summary["unk_percent"] < 1 and summary["truncated_percent"] == 0
    assert summary["mb_per_second"] > 0
    # The trainer reads the streamed corpus twice and gives the same vocabulary each build.
    build_pretraining_data(corpus, tmp_path / "again", vocab_size=200, **SMALL_SHARDS)
    vocabularies = [(tmp_path / name / "vocab.txt").read_bytes() for name in ("data", "again")]
    assert vocabularies[0] == vocabularies[1]


@pytest.mark.large
def test_same_seed_same_bytes_for_any_workers_and_other_seed_differs(
    corpus, vocab_file, data_dir, tmp_path
):
    def shard_bytes(folder):
        return {path.name: path.read_bytes() for path in sorted(folder.glob("*.npy"))}

    build(corpus, tmp_path / "again", vocab_file)
    build(corpus, tmp_path / "parallel", vocab_file, workers=2)
    build(corpus, tmp_path / "seed1", vocab_file, seed=1)
    assert shard_bytes(tmp_path / "again") == shard_bytes(data_dir)
    assert shard_bytes(tmp_path / "parallel") == shard_bytes(data_dir)
    assert not np.array_equal(all_rows(tmp_path / "seed1"), all_rows(data_dir))


def test_one_heldout_example_even_when_fewer_than_k(tmp_path, vocab_file):
    (tmp_path / "two.txt").write_text(
        f"the cat sat.\n{DOCUMENT_MARKER}\nthe dog ran.\n", encoding="utf-8"
    )
    build(tmp_path / "two.txt", tmp_path / "data", vocab_file, heldout_fraction=0.01)
    manifest = read_manifest(tmp_path / "data")
    assert manifest["heldout"]["examples"] == 1
    assert manifest["shards"] == [{"file": "train-00000.npy", "examples": 1}]


def test_existing_non_empty_out_dir_is_an_error_and_untouched(corpus, vocab_file, tmp_path):
    out_dir = tmp_path / "data"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match=re.escape(str(out_dir))):
        build(corpus, out_dir, vocab_file)
    assert [path.name for path in out_dir.iterdir()] == ["keep.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


def test_existing_empty_out_dir_is_filled(corpus, vocab_file, tmp_path):
    (tmp_path / "data").mkdir()
    build(corpus, tmp_path / "data", vocab_file)
    assert read_manifest(tmp_path / "data")["counts"]["files"] == 3


# "file" builds in worker processes: the large tier.
@pytest.mark.parametrize("vocab", [pytest.param("file", marks=pytest.mark.large), "trained"])
def test_bad_file_error_names_file_and_line_and_leaves_nothing(corpus, vocab_file, tmp_path, vocab):
    texts = tmp_path / "texts"
    shutil.copytree(corpus, texts)
    (texts / "zz_bad.txt").write_bytes(b"a fine line\n\xff\xfe not utf-8\n")
    out = tmp_path / "out"
    # workers=2 runs the files in worker processes: their errors must arrive intact.
    arguments = (
        dict(vocab_file=vocab_file, workers=2)
        if vocab == "file"
        else dict(vocab_size=200, workers=1)
    )
    with pytest.raises(ValueError, match=r"zz_bad\.txt, line 2: not valid UTF-8"):
        build_pretraining_data(texts, out, max_length=MAX_LENGTH, progress=False, **arguments)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["texts"]


def test_ctrl_c_leaves_nothing(corpus, vocab_file, tmp_path, monkeypatch):
    import keras_electra.data.corpus_builder as corpus_builder

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus_builder, "_consume", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(corpus, tmp_path / "out", vocab_file)
    assert list(tmp_path.iterdir()) == []


def test_empty_corpus_is_an_error_naming_it(tmp_path, vocab_file):
    (tmp_path / "blank.txt").write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'blank.txt'}: no examples")):
        build(tmp_path / "blank.txt", tmp_path / "data", vocab_file)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "vocab",
    [
        dict(),
        dict(vocab_file="vocab.txt", vocab_size=200),
        dict(tokenizer=tokenizer_of(["cat"]), vocab_size=200),
    ],
)
def test_exactly_one_vocabulary_argument(corpus, tmp_path, vocab):
    with pytest.raises(ValueError, match="`vocab_file`, `vocab_size` or `tokenizer`"):
        build_pretraining_data(corpus, tmp_path / "data", **vocab)


def test_read_manifest_errors_name_the_file(data_dir, tmp_path):
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"{tmp_path}: no manifest.json: not a keras-elec")
    ):
        read_manifest(tmp_path)

    def broken_copy(name):
        copy = tmp_path / name
        shutil.copytree(data_dir, copy)
        return copy

    copy = broken_copy("missing_shard")
    (copy / "train-00001.npy").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"train-00001\.npy: listed in .*manifest\.json but missing"
    ):
        read_manifest(copy)

    copy = broken_copy("other_vocab")
    with open(copy / "vocab.txt", "a", encoding="utf-8") as file:
        file.write("extra\n")
    with pytest.raises(ValueError, match=r"vocab\.txt: sha256 .* differs from the manifest"):
        open_shards(copy)

    copy = broken_copy("bad_shape")
    np.save(copy / "heldout.npy", np.zeros((1, MAX_LENGTH), "int32"))
    with pytest.raises(ValueError, match=r"heldout\.npy: shape \(1, 24\) and dtype int32 disagree"):
        read_manifest(copy)

    copy = broken_copy("future_version")
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "format_version": 2}))
    with pytest.raises(ValueError, match=r"manifest\.json: format_version 2 is not supported"):
        read_manifest(copy)


def test_segment_ids_and_mask():
    cls, sep, pad = 2, 3, 0
    token_ids = np.array(
        [
            [cls, 7, 8, sep, 9, sep, pad, pad],
            [cls, 7, sep, pad, pad, pad, pad, pad],
            [cls, sep, 9, 9, 9, 9, 9, sep],
        ],
        "uint16",
    )
    segment_ids, padding_mask = segment_ids_and_mask(token_ids, sep, pad)
    np.testing.assert_array_equal(
        segment_ids, [[0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1, 1, 1]]
    )
    np.testing.assert_array_equal(
        padding_mask, [[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]]
    )
    assert segment_ids.dtype == padding_mask.dtype == np.int32


@pytest.mark.large
def test_real_books(tmp_path):
    books = shared_data("corpus", "gutenberg_books")
    corpus = [books / "pg11_alices_adventures_in_wonderland.txt", books / "pg16_peter_pan.txt"]
    options = dict(vocab_size=2000, max_length=64, strip_gutenberg=True, workers=1, progress=False)
    summary = build_pretraining_data(corpus, tmp_path / "data", **options)
    assert summary["tokens"] > 50_000 and summary["unk_percent"] < 1
    manifest = read_manifest(tmp_path / "data")
    assert manifest["strip_gutenberg"] and manifest["counts"]["files"] == 2
    rows = all_rows(tmp_path / "data")
    assert rows.shape == (summary["examples"], 64)
    text = ElectraTokenizer.from_vocab_file(tmp_path / "data" / "vocab.txt").decode(
        rows[:50].ravel()
    )
    assert "gutenberg" not in text.lower()
