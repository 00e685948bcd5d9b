"""tokenizer.json: the model's tokenizer as Hugging Face `tokenizers` saves one, so that `tokenizers`
alone turns text into the export's inputs.

Beside the WordPiece vocabulary, the normaliser and the pre-tokeniser, it carries what the task
model's preprocessor adds: `[CLS] A [SEP] (B [SEP])` with segment ids 0 then 1, truncation to the
export's length, and padding with [PAD]. One difference remains (docs/serving.md): when both texts of
a pair must be cut, `tokenizers`' "longest_first" may leave the first text one token shorter than
BERT's rule does (`truncate_pair`), so `keras-electra predict` packs pairs itself.
"""

import json

from tokenizers import processors

from keras_electra.data.atomic import write_atomic
from keras_electra.data.electra_tokenizer import CLS, PAD, SEP, ElectraTokenizer, _build_tokenizer


def write_tokenizer_json(tokenizer, path, max_length, pad_to_max_length):
    """Writes the `ElectraTokenizer` `tokenizer` as tokenizer.json at `path`: inputs of at most
    `max_length` tokens, padded to `max_length` (`pad_to_max_length`, for exports of a fixed length)
    or to the longest of a batch."""
    # ElectraTokenizer's own pipeline, built from its vocabulary as it builds it.
    hugging_face = _build_tokenizer(
        {token: index for index, token in enumerate(tokenizer.vocabulary)}, tokenizer.lowercase
    )
    special = [(CLS, tokenizer.cls_token_id), (SEP, tokenizer.sep_token_id)]
    hugging_face.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}", pair=f"{CLS} $A {SEP} $B:1 {SEP}:1", special_tokens=special
    )
    hugging_face.enable_truncation(max_length, strategy="longest_first")
    hugging_face.enable_padding(
        pad_id=tokenizer.pad_token_id,
        pad_token=PAD,
        length=max_length if pad_to_max_length else None,
    )
    text = hugging_face.to_str(pretty=True)
    write_atomic(path, lambda file: file.write(text.encode("utf-8")))


def read_tokenizer_json(path):
    """The `ElectraTokenizer` of a tokenizer.json that `write_tokenizer_json` wrote."""
    try:
        saved = json.loads(path.read_text("utf-8"))
        vocabulary = saved["model"]["vocab"]
        lowercase = saved["normalizer"]["lowercase"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a WordPiece tokenizer.json ({error!r})") from None
    return ElectraTokenizer(sorted(vocabulary, key=vocabulary.get), lowercase=lowercase)
