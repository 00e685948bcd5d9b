"""Sizes and parameter counts against the table of docs/electra.md, "Models and sizes"; the
fine-tuning rate of a width (docs/fine-tuning.md)."""

import math

import pytest

import keras_electra as ke
from keras_electra.models.presets import (
    finetuning_learning_rate,
    finetuning_learning_rate_choice,
    nearest_size,
)

# size: (layers, H, E, heads, FFN, generator H, generator heads, generator FFN, params in M)
REFERENCE = {
    "small": (12, 256, 128, 4, 1024, 64, 1, 256, 14),
    "base": (12, 768, 768, 12, 3072, 256, 4, 1024, 110),
    "large": (24, 1024, 1024, 16, 4096, 256, 4, 1024, 335),
}
V, MAX_POS = 30522, 512
# Building the base and large models is most of this file's time: those two are in the large tier.
SIZES = [
    size if size == "small" else pytest.param(size, marks=pytest.mark.large)
    for size in sorted(REFERENCE)
]


def encoder_params(layers, hidden, ffn):
    per_layer = (
        4 * (hidden * hidden + hidden)
        + (hidden * ffn + ffn)
        + (ffn * hidden + hidden)
        + 2 * (2 * hidden)
    )
    return layers * per_layer


def shared_embedding_params(embedding):
    return V * embedding + MAX_POS * embedding + 2 * embedding + 2 * embedding


def projection_params(embedding, hidden):
    return 0 if embedding == hidden else embedding * hidden + hidden


def discriminator_params(layers, hidden, embedding, ffn):
    head = hidden * hidden + hidden + hidden + 1
    return (
        shared_embedding_params(embedding)
        + projection_params(embedding, hidden)
        + encoder_params(layers, hidden, ffn)
        + head
    )


def generator_params(layers, hidden, embedding, ffn):
    head = hidden * embedding + embedding + 2 * embedding + V  # dense, LayerNorm, output bias
    return (
        shared_embedding_params(embedding)
        + projection_params(embedding, hidden)
        + encoder_params(layers, hidden, ffn)
        + head
    )


@pytest.mark.parametrize("size", SIZES)
def test_sizes_follow_the_reference(size):
    layers, hidden, embedding, heads, ffn, g_hidden, g_heads, g_ffn, _ = REFERENCE[size]
    config = ke.pretrainer_config(size)
    assert (config["num_layers"], config["hidden_dim"], config["embedding_dim"]) == (
        layers,
        hidden,
        embedding,
    )
    assert (config["num_heads"], config["intermediate_dim"]) == (heads, ffn)
    pre = ke.ElectraPretrainer.from_size(size, vocab_size=1000)
    gen = pre.generator.backbone
    assert (gen.hidden_dim, gen.num_heads, gen.intermediate_dim, gen.num_layers) == (
        g_hidden,
        g_heads,
        g_ffn,
        layers,
    )
    assert pre.mask_prob == (0.25 if size == "large" else 0.15)


@pytest.mark.parametrize("size", SIZES)
def test_parameter_counts(size):
    layers, hidden, embedding, heads, ffn, g_hidden, g_heads, g_ffn, millions = REFERENCE[size]
    expected_disc = discriminator_params(layers, hidden, embedding, ffn)
    expected_gen = generator_params(layers, g_hidden, embedding, g_ffn)
    # The table gives the paper's rounded figures (base: 109.5M is quoted as 110M).
    assert abs(expected_disc / 1e6 - millions) / millions < 0.04

    pre = ke.ElectraPretrainer.from_size(size, vocab_size=V)
    disc = pre.discriminator.count_params() + pre.discriminator_head.count_params()
    assert disc == expected_disc
    assert pre.generator.count_params() == expected_gen
    # Shared tables counted once.
    assert pre.count_params() == expected_disc + expected_gen - shared_embedding_params(embedding)


@pytest.mark.parametrize("size", sorted(REFERENCE))
def test_parameter_counts_match_transformers(size):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    layers, hidden, embedding, heads, ffn, g_hidden, g_heads, g_ffn, _ = REFERENCE[size]

    def hf_config(h, n_heads, f):
        return transformers.ElectraConfig(
            vocab_size=V,
            embedding_size=embedding,
            hidden_size=h,
            num_hidden_layers=layers,
            num_attention_heads=n_heads,
            intermediate_size=f,
        )

    with torch.device("meta"):
        hf_disc = transformers.ElectraForPreTraining(hf_config(hidden, heads, ffn))
        hf_gen = transformers.ElectraForMaskedLM(hf_config(g_hidden, g_heads, g_ffn))
    assert hf_disc.num_parameters() == discriminator_params(layers, hidden, embedding, ffn)
    assert hf_gen.num_parameters() == generator_params(layers, g_hidden, embedding, g_ffn)


def test_every_hyperparameter_can_be_overridden():
    pre = ke.ElectraPretrainer.from_size(
        "tiny",
        vocab_size=500,
        hidden_dim=192,
        num_layers=3,
        generator_hidden_fraction=1 / 3,
        mask_prob=0.2,
        max_sequence_length=64,
        mask_token_id=7,
        seed=4,
    )
    assert (pre.hidden_dim, pre.num_heads, pre.intermediate_dim) == (192, 3, 768)
    assert (pre.generator_hidden_dim, pre.generator_num_heads, pre.generator_num_layers) == (
        64,
        1,
        3,
    )
    assert pre.discriminator.embedding.max_sequence_length == 64
    assert pre.special_token_ids["mask_token_id"] == 7 and pre.mask_prob == 0.2


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="size='medium'"):
        ke.ElectraPretrainer.from_size("medium")
    with pytest.raises(ValueError, match="unk_token_id=100"):
        ke.ElectraPretrainer.from_size("tiny", vocab_size=50)


# docs/electra.md, "Models and sizes" and "Fine-tuning" (tiny: ours), written out here so that the
# rule is checked against the docs, not against presets.py's own tables.
AUTHORS_WIDTHS = {"small": 256, "base": 768, "large": 1024}
WIDTHS = {"tiny": 128, **AUTHORS_WIDTHS}
FINETUNING_RATES = {"tiny": 1e-3, "small": 3e-4, "base": 1e-4, "large": 5e-5}


def log_distances(hidden):
    return {size: abs(math.log(hidden) - math.log(width)) for size, width in AUTHORS_WIDTHS.items()}


def expected_size(hidden):
    exact = [size for size, width in WIDTHS.items() if width == hidden]
    distances = log_distances(hidden)
    return exact[0] if exact else min(distances, key=distances.get)


@pytest.mark.parametrize("hidden", [128, 256, 384, 512, 768, 900, 1024, 2048])
def test_nearest_size_is_the_nearest_of_the_authors_widths_on_a_log_scale(hidden):
    size, reason = nearest_size(hidden)
    assert size == expected_size(hidden)
    assert f"hidden size {hidden}" in reason
    assert ("matches no preset" in reason) == (hidden not in WIDTHS.values())
    assert str(WIDTHS[size]) in reason
    rate, rate_reason = finetuning_learning_rate_choice(hidden)
    assert rate == finetuning_learning_rate(hidden) == FINETUNING_RATES[size]
    assert reason in rate_reason


def test_nearest_size_measures_on_a_log_scale_and_never_ties_on_a_whole_width():
    # 384 is 1.5x 256 and 2x short of 768; 512 is 2x 256 and 1.5x short of 768.
    assert log_distances(384)["small"] < log_distances(384)["base"]
    assert nearest_size(384).size == "small"
    assert log_distances(512)["base"] < log_distances(512)["small"]
    assert nearest_size(512).size == "base"
    # On a linear scale 480 is nearer 256 (224 away) than 768 (288 away); on a log scale it is not.
    assert nearest_size(480).size == "base"
    # Only tiny's own width takes tiny's rate; a narrower encoder takes small's.
    assert (nearest_size(128).size, nearest_size(64).size, nearest_size(160).size) == (
        "tiny",
        "small",
        "small",
    )
    for hidden in range(1, 4097):
        first, second = sorted(log_distances(hidden).values())[:2]
        assert second - first > 1e-6, hidden
        assert nearest_size(hidden).size == expected_size(hidden), hidden
    with pytest.raises(ValueError, match="hidden_dim=0"):
        nearest_size(0)
