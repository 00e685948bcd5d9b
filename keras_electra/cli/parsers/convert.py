"""`keras-electra convert`'s flags."""

from keras_electra.cli import arguments
from keras_electra.cli.parsers import choices


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="convert checkpoints: Hugging Face, TF1, keras-hub -> ours; ours -> Hugging Face",
        description="SRC is a Hugging Face ELECTRA directory (or a BERT-family one: only its encoder is read, "
        "as a backbone, its pooler and any head left out), a checkpoint of the authors' TF1 code (its prefix, "
        "or a directory with a `checkpoint` file), a keras-hub ElectraBackbone preset directory, or a .keras "
        "file of ours. A foreign SRC becomes DST, a .keras file, with SRC's vocab.txt and "
        "tokenizer_config.json beside it; a .keras SRC becomes DST, a new Hugging Face directory (config.json, "
        "model.safetensors, the tokenizer files and summary.json; a pretrainer gives discriminator/ and "
        "generator/); --to huggingface takes any SRC there. Nothing is left half-written. A TF1 checkpoint does "
        "not store the number of attention heads: it is the authors' rule, max(1, hidden size // 64).",
    )
    parser.add_argument("src", type=arguments.existing_checkpoint, metavar="SRC")
    parser.add_argument("dst", metavar="DST")
    parser.add_argument(
        "--to",
        choices=("keras", "huggingface"),
        help="default: huggingface for a .keras SRC, keras otherwise",
    )
    parser.add_argument(
        "--model",
        choices=choices.MODELS,
        help="what to build from SRC: Hugging Face's default is config.json's architectures (BERT's: "
        "backbone; pretrainer needs --generator), TF1's is pretrainer",
    )
    parser.add_argument(
        "--generator",
        type=arguments.existing_dir,
        metavar="DIR",
        help="a Hugging Face generator: SRC (its discriminator) and DIR make one pretrainer",
    )
    parser.set_defaults(run=arguments.Command("keras_electra.cli.convert"))
