"""The options of docs/electra.md, "Local mixing": `ElectraLocalMixing` against a position-by-position
NumPy loop, the replaced-token bias against the base rate it stands for, both kept by `.keras` files
and refused by the Hugging Face export."""

import argparse
import math

import numpy as np
import pytest
from conftest import VOCAB, make_batch, to_numpy
from harness import check_keras_file
from model_outputs import eval_outputs
from references import numpy_backbone, numpy_local_mixing, tiny_backbone, w

import keras_electra as ke
from keras_electra.cli.model_options import add_model_arguments, model_options
from keras_electra.pretraining.flops import pretraining_step_flops


def random_weights(layer, rng):
    for variable in layer.weights:
        variable.assign(rng.normal(0, 0.5, variable.shape).astype("float32"))


@pytest.mark.parametrize("window", [1, 3, 5])
def test_local_mixing_matches_the_numpy_loop(rng, window):
    x = rng.normal(size=(3, 9, 6)).astype("float32")
    mask = np.ones((3, 9), "int32")
    mask[1, 6:] = 0  # padding must not leak into the last real tokens
    mask[2, 2:] = 0
    layer = ke.ElectraLocalMixing(window, seed=0)
    layer(x, mask)
    random_weights(layer, rng)
    expected = numpy_local_mixing(x.astype("float64"), mask, layer)
    np.testing.assert_allclose(to_numpy(layer(x, mask)), expected, atol=1e-5)


def test_even_empty_or_negative_windows_are_refused_by_name():
    for window in (0, 2, 4):
        with pytest.raises(ValueError, match=f"window={window}"):
            ke.ElectraLocalMixing(window)
    for window in (-1, 2):
        with pytest.raises(ValueError, match=f"local_mixing_window={window}"):
            tiny_backbone(vocab_size=VOCAB, local_mixing_window=window)


def test_backbone_with_local_mixing_matches_numpy_bert(rng):
    backbone = tiny_backbone(vocab_size=VOCAB, local_mixing_window=3)
    inputs = make_batch(rng, batch_size=4, length=16)
    backbone(inputs, training=False)
    random_weights(backbone.local_mixing, rng)
    real = inputs["padding_mask"] > 0
    out = to_numpy(backbone(inputs, training=False)["sequence_output"])
    np.testing.assert_allclose(out[real], numpy_backbone(backbone, inputs)[real], atol=2e-5)
    assert len(backbone.local_mixing.weights) == 2 and backbone.local_mixing.kernel.shape == (3, 8)


@pytest.mark.large
def test_only_the_discriminator_mixes_and_training_moves_its_kernel(rng):
    pre = ke.ElectraPretrainer.from_size(
        "tiny", vocab_size=VOCAB, seed=0, num_layers=1, local_mixing_window=3
    )
    assert pre.generator.backbone.local_mixing is None
    before = w(pre.discriminator.local_mixing.kernel)
    pre.compile(learning_rate=1e-3, warmup_steps=1, total_steps=100)
    pre.fit(
        make_batch(rng, batch_size=4, length=16), batch_size=4, epochs=2, shuffle=False, verbose=0
    )
    assert np.abs(w(pre.discriminator.local_mixing.kernel) - before).max() > 1e-5


def test_the_prior_logit_is_the_base_rate_of_replacements(rng):
    assert ke.replaced_token_prior_logit(0.15) == pytest.approx(math.log(0.15 / 0.85))
    bias = ke.replaced_token_prior_logit(0.15)
    pre = ke.ElectraPretrainer.from_size(
        "tiny", vocab_size=VOCAB, seed=0, discriminator_output_bias=bias
    )
    assert w(pre.discriminator_head.dense_prediction.bias) == pytest.approx([bias])
    inputs = make_batch(rng, batch_size=4, length=32)
    hidden = pre.discriminator(inputs, training=False)["sequence_output"]
    probabilities = 1 / (1 + np.exp(-to_numpy(pre.discriminator_head(hidden))))
    # The hidden layer's 0.02-scale weights move the logit little: every token starts near 15%.
    assert abs(probabilities[inputs["padding_mask"] > 0].mean() - 0.15) < 0.03


def test_the_cli_prior_follows_the_size_masking_rate():
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    for size, rate in (("tiny", 0.15), ("large", 0.25)):  # the paper's masking rates (Table 6)
        args = parser.parse_args(["--discriminator-bias", "prior"])
        args.size = size
        assert model_options(args)["discriminator_output_bias"] == pytest.approx(
            math.log(rate / (1 - rate))
        )
    args = parser.parse_args(["--local-mixing", "5", "--dropout", "0"])
    args.size = "tiny"
    assert model_options(args) == {
        "local_mixing_window": 5,
        "discriminator_output_bias": 0.0,
        "dropout": 0.0,
    }


@pytest.mark.large
def test_options_survive_a_keras_file(tmp_path, rng):
    pre = ke.ElectraPretrainer.from_size(
        "tiny",
        vocab_size=VOCAB,
        seed=0,
        local_mixing_window=3,
        discriminator_output_bias=-1.5,
        dropout=0.0,
    )
    inputs = make_batch(rng, batch_size=2, length=16)
    random_weights(pre.discriminator.local_mixing, rng)
    # The class, config, weights (the mixing kernel among them) and the towers' outputs come back,
    # for the pretrainer and for its discriminator alone.
    loaded = check_keras_file(pre, (inputs,), tmp_path, call=eval_outputs)
    assert (loaded.local_mixing_window, loaded.discriminator_output_bias, loaded.dropout) == (
        3,
        -1.5,
        0.0,
    )
    check_keras_file(pre.discriminator, (inputs,), tmp_path)


def test_huggingface_export_names_the_option_and_writes_nothing(tmp_path):
    for model in (
        tiny_backbone(local_mixing_window=3),
        ke.ElectraClassifier(tiny_backbone(local_mixing_window=3), 2),
        ke.ElectraPretrainer.from_size("tiny", vocab_size=VOCAB, seed=0, local_mixing_window=3),
    ):
        with pytest.raises(ValueError, match="local_mixing_window=3"):
            ke.save_huggingface(model, tmp_path / "hf")
        assert not (tmp_path / "hf").exists()


def test_the_flop_count_adds_the_mixing_multiply_adds():
    config = ke.ElectraPretrainer.from_size("tiny", vocab_size=8192).get_config()
    plain = pretraining_step_flops(config, 32, 128)
    mixed = pretraining_step_flops({**config, "local_mixing_window": 3}, 32, 128)
    # One multiply and one add a channel per window position and token, run three times in training.
    assert mixed["encoder"] - plain["encoder"] == 3 * 2 * 32 * 128 * config["embedding_dim"] * 3
