"""BERT WordPiece tokenizer for ELECTRA, on Hugging Face `tokenizers` (Rust).

The data pipeline must run where TensorFlow is absent, so this builds on the
`tokenizers` library rather than on TensorFlow Text / keras-hub; the
normalisation, pre-tokenisation and WordPiece steps are the library's BERT
components, which match Google's and Hugging Face's BERT tokenizers.
"""

import hashlib
import json
import os
from pathlib import Path

import tokenizers
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

from keras_electra.data.atomic import write_atomic

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
# Order matters for `train`: the trainer assigns ids in this order, so [PAD] gets id 0.
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
MAX_INPUT_CHARS_PER_WORD = 100


def _build_tokenizer(vocab, lowercase):
    """A Rust tokenizer with BERT's uncased (or cased) normalisation and no special-token template.

    Special tokens are deliberately not registered as added tokens: a literal "[SEP]" in corpus
    text must not become a separator id (as in Google's original BERT/ELECTRA tokenizer).
    """
    tokenizer = tokenizers.Tokenizer(
        models.WordPiece(vocab, unk_token=UNK, max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD)
    )
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=lowercase, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return tokenizer


def _check_vocabulary(tokens, source=None):
    """Raise ValueError on a vocabulary that would silently mis-tokenize.

    With `source` (a file name) positions are reported as 1-based line numbers, otherwise as ids.
    """
    where = f"{source}: " if source else "vocabulary: "

    def position(index):
        return f"line {index + 1}" if source else f"id {index}"

    if not tokens:
        raise ValueError(f"{where}the vocabulary is empty")
    first_seen = {}
    for index, token in enumerate(tokens):
        if not isinstance(token, str) or "\n" in token or "\r" in token:
            raise ValueError(
                f"{where}{position(index)}: token {token!r} is not a single-line string"
            )
        if token in first_seen:
            raise ValueError(
                f"{where}duplicate token {token!r} on {position(first_seen[token])} and {position(index)}"
            )
        first_seen[token] = index
    missing = [token for token in SPECIAL_TOKENS if token not in first_seen]
    if missing:
        raise ValueError(f"{where}missing special token(s) {' '.join(missing)}")


def check_vocabulary_fits(tokenizer, table_size, table):
    """Refuses a vocabulary larger than a model's word-embedding table of `table_size` rows (`table`
    names it in the message): its last ids would index past the table, which JAX answers with NaN and
    the other backends with an error mid-run. A smaller vocabulary is accepted, since tables padded
    past the vocabulary are common."""
    if tokenizer.vocab_size > table_size:
        source = tokenizer.vocab_file or "the vocabulary"
        raise ValueError(
            f"{source}: {tokenizer.vocab_size:,} tokens, more than the {table_size:,} rows of the word-embedding "
            f"table of {table}: ids from {table_size:,} up would fall outside it; not the model's vocabulary?"
        )


def _read_vocab_lines(path):
    """Tokens of a vocab.txt, kept exactly: only the line ending ("\\n" or "\\r\\n") is removed.

    Splitting bytes on b"\\n" (not `str.splitlines`) keeps tokens such as U+2028 or U+0085 intact,
    and lets a decoding error name its line.
    """
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    tokens = []
    for number, line in enumerate(lines, start=1):
        try:
            token = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: line {number} is not valid UTF-8 ({error.reason})") from None
        tokens.append(token[:-1] if token.endswith("\r") else token)
    return tokens


def _word_list(words):
    """`words` as a list of str, refusing a bare string (which would be split into characters)."""
    if isinstance(words, str):
        raise TypeError("`words` must be a list of strings, not a single string")
    words = list(words)
    for index, word in enumerate(words):
        if not isinstance(word, str):
            raise TypeError(f"word {index} is {type(word).__name__}, not str: {word!r}")
    return words


class ElectraTokenizer:
    """BERT WordPiece tokenizer: text to ids without special tokens, ids back to text.

    Args:
        vocabulary: list of tokens, the index of each being its id. Must contain
            [PAD] [UNK] [CLS] [SEP] [MASK].
        lowercase: lower-case and strip accents (uncased models), as BERT's `do_lower_case`.

    Example:

    ```python
    tokenizer = keras_electra.ElectraTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"])
    tokenizer.encode("The cat sat")  # [5, 6, 7]
    tokenizer.decode([5, 6, 7])  # "the cat sat"
    ```
    """

    def __init__(self, vocabulary, lowercase=True):
        vocabulary = list(vocabulary)
        _check_vocabulary(vocabulary)
        self._vocabulary = vocabulary
        self._lowercase = bool(lowercase)
        self._ids = {token: index for index, token in enumerate(vocabulary)}
        self._special_ids = frozenset(self._ids[token] for token in SPECIAL_TOKENS)
        self._tokenizer = _build_tokenizer(self._ids, self._lowercase)
        # The file the vocabulary was read from (`from_vocab_file`), for error messages; None otherwise.
        self.vocab_file = None

    @classmethod
    def from_vocab_file(cls, path, lowercase=True):
        """Load a standard BERT `vocab.txt` (one UTF-8 token a line, line N is id N - 1)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: vocabulary file not found")
        tokens = _read_vocab_lines(path)
        _check_vocabulary(tokens, source=path)
        tokenizer = cls(tokens, lowercase=lowercase)
        tokenizer.vocab_file = path
        return tokenizer

    @classmethod
    def train(cls, files=None, vocab_size=30522, lowercase=True, min_frequency=2, *, texts=None):
        """Learn a WordPiece vocabulary from text `files` (paths) or from an iterable of strings `texts`.

        The text is normalised and pre-tokenised exactly as at encoding time, so that every
        learned piece is reachable by `encode`. The same text gives the same vocabulary every run,
        at the price of reading it twice (a one-pass iterator of `texts` is held in memory).
        """
        if (files is None) == (texts is None):
            raise ValueError("pass exactly one of `files` or `texts`")
        if files is not None:
            files = [str(f) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)]
            for name in files:
                if not os.path.isfile(name):
                    raise FileNotFoundError(f"{name}: training file not found")
        elif iter(texts) is texts:
            texts = list(texts)

        def learn(size, numbered_first):
            tokenizer = _build_tokenizer({}, bool(lowercase))
            trainer = trainers.WordPieceTrainer(
                vocab_size=size,
                min_frequency=min_frequency,
                special_tokens=[*SPECIAL_TOKENS, *numbered_first],
                continuing_subword_prefix="##",
                show_progress=False,
            )
            if files is not None:
                tokenizer.train(files, trainer)
            else:
                tokenizer.train_from_iterator(texts, trainer)
            ids = tokenizer.get_vocab(with_added_tokens=True)
            return sorted(ids, key=ids.get)

        # Hugging Face's trainer numbers the one-character continuing pieces ("##e") in hash-map
        # order and breaks ties between equally frequent merges by those numbers, so each training
        # gave a different vocabulary (tokenizers issue 1794). The first pass, with no merges, finds
        # those pieces; the second numbers them first, sorted, so that every tie breaks one way.
        continuing = sorted(t for t in learn(0, ()) if t.startswith("##") and len(t) == 3)
        return cls(learn(vocab_size, continuing), lowercase=lowercase)

    @classmethod
    def from_directory(cls, directory):
        """Load what `save` wrote: `vocab.txt`, and `do_lower_case` from `tokenizer_config.json`
        (cased or uncased as Hugging Face records it; uncased when the file is absent)."""
        directory = Path(directory)
        config_file = directory / "tokenizer_config.json"
        lowercase = True
        if config_file.is_file():
            try:
                lowercase = bool(
                    json.loads(config_file.read_text("utf-8")).get("do_lower_case", True)
                )
            except (json.JSONDecodeError, AttributeError) as error:
                raise ValueError(f"{config_file}: not a JSON object ({error})") from None
        return cls.from_vocab_file(directory / "vocab.txt", lowercase=lowercase)

    def save(self, directory):
        """Write `vocab.txt` and `tokenizer_config.json` into `directory`, as Hugging Face lays them out."""
        directory = Path(directory)
        self.save_vocabulary(directory / "vocab.txt")
        config = json.dumps(
            {"do_lower_case": self._lowercase, "tokenizer_class": "ElectraTokenizer"}, indent=2
        )
        write_atomic(
            directory / "tokenizer_config.json", lambda file: file.write(config.encode("utf-8"))
        )

    @classmethod
    def from_preset(cls, preset):
        """The tokenizer of a keras-hub preset (a directory, handle or preset name; docs/conversion.md,
        "keras-hub presets")."""
        from keras_electra.conversion.keras_hub_presets import load_tokenizer_preset

        return load_tokenizer_preset(preset)

    def save_to_preset(self, preset_dir):
        """Writes this tokenizer as a keras-hub preset, which `keras_hub.models.ElectraTokenizer.from_preset`
        loads once the directory holds a backbone too (`ElectraBackbone.save_to_preset`): keras-hub reads
        a tokenizer only beside one. Needs keras-hub."""
        from keras_electra.conversion.keras_hub_presets import save_tokenizer_preset

        save_tokenizer_preset(self, preset_dir)

    def save_vocabulary(self, path):
        """Write vocab.txt atomically, so a crash never leaves a truncated vocabulary next to a model."""
        text = "".join(token + "\n" for token in self._vocabulary)
        return write_atomic(path, lambda file: file.write(text.encode("utf-8")))

    @property
    def vocabulary(self):
        """All tokens in id order (a copy: for single lookups use `id_to_token`)."""
        return list(self._vocabulary)

    def id_to_token(self, token_id):
        return self._vocabulary[token_id]

    def token_to_id(self, token):
        return self._ids[token]

    @property
    def vocab_size(self):
        return len(self._vocabulary)

    @property
    def lowercase(self):
        return self._lowercase

    @property
    def pad_token_id(self):
        return self._ids[PAD]

    @property
    def unk_token_id(self):
        return self._ids[UNK]

    @property
    def cls_token_id(self):
        return self._ids[CLS]

    @property
    def sep_token_id(self):
        return self._ids[SEP]

    @property
    def mask_token_id(self):
        return self._ids[MASK]

    def vocabulary_hash(self):
        """sha256 of the vocabulary, to pin in manifests which vocabulary a dataset or model used."""
        return hashlib.sha256("\n".join(self._vocabulary).encode("utf-8")).hexdigest()

    def tokenize(self, text):
        return self._tokenizer.encode(text, add_special_tokens=False).tokens

    def encode(self, text):
        """Token ids of `text`, without [CLS]/[SEP]: packing into sequences is the caller's job."""
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts):
        """Token ids of each text, encoded in parallel by the Rust encoder."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [encoding.ids for encoding in encodings]

    def encode_with_offsets(self, text):
        """Token ids of `text` (no [CLS]/[SEP]) and each token's (start, end) character span in `text`.

        Spans index the ORIGINAL string, before lower-casing, accent stripping and the other
        normalisation: `text[start:end]` is what a token came from ("Café" -> "cafe" spans all four
        characters, "##" pieces span their part of the word). Whitespace between words, and characters
        the normaliser drops (control characters, zero-width spaces) where they stand between words,
        lie outside every span.
        """
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return encoding.ids, [tuple(offset) for offset in encoding.offsets]

    def encode_batch_with_offsets(self, texts):
        """`encode_with_offsets` of each text, encoded in parallel: a list of (ids, offsets)."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [
            (encoding.ids, [tuple(offset) for offset in encoding.offsets]) for encoding in encodings
        ]

    def encode_words(self, words):
        """Token ids of pre-split `words` and, for each token, the index of the word it came from.

        Each word is still split on whitespace and punctuation and into WordPiece pieces ("a.b" gives
        three tokens of one word). A word that normalises to nothing (only control characters or
        whitespace, or, uncased, only combining accents) gives no token: its index is absent from the
        word indices, which callers that need one token a word must handle.
        """
        encoding = self._tokenizer.encode(
            _word_list(words), is_pretokenized=True, add_special_tokens=False
        )
        return encoding.ids, list(encoding.word_ids)

    def encode_words_batch(self, sentences):
        """`encode_words` of each list of words, encoded in parallel: a list of (ids, word indices)."""
        encodings = self._tokenizer.encode_batch(
            [_word_list(words) for words in sentences],
            is_pretokenized=True,
            add_special_tokens=False,
        )
        return [(encoding.ids, list(encoding.word_ids)) for encoding in encodings]

    def decode(self, ids):
        """Text of `ids`, with "##" pieces joined back and special tokens skipped."""
        ids = [int(i) for i in ids]
        invalid = [i for i in ids if not 0 <= i < len(self._vocabulary)]
        if invalid:
            raise ValueError(
                f"ids outside the vocabulary [0, {len(self._vocabulary)}): {invalid[:5]}"
            )
        tokens = [self._vocabulary[i] for i in ids if i not in self._special_ids]
        return self._tokenizer.decoder.decode(tokens)
