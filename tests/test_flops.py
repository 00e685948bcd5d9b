"""`pretraining_step_flops` against the matrix-product FLOPs torch counts on the Hugging Face models of the
same sizes, forward and backward (docs/electra.md, "Equal compute")."""

import numpy as np
import pytest
from conftest import BACKEND

from keras_electra.models.presets import pretrainer_config
from keras_electra.pretraining.flops import pretraining_step_flops
from keras_electra.pretraining.masking import max_predictions

if BACKEND != "torch":  # before torch is imported: other passes never load it for this file
    pytest.skip("measured with torch's FLOP counter: the torch pass", allow_module_level=True)
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

BATCH, LENGTH, VOCAB = 2, 128, 30522


def full_config(size):
    config = {**pretrainer_config(size), "vocab_size": VOCAB, "mask_prob": 0.15}
    config.setdefault("generator_num_layers", config["num_layers"])
    config.setdefault("generator_intermediate_dim", 4 * config["generator_hidden_dim"])
    return config


def huggingface_model(cls, config, hidden_dim, num_layers, intermediate_dim):
    return cls(
        transformers.ElectraConfig(
            vocab_size=VOCAB,
            embedding_size=config["embedding_dim"],
            hidden_size=hidden_dim,
            num_hidden_layers=num_layers,
            num_attention_heads=max(1, hidden_dim // 64),
            intermediate_size=intermediate_dim,
            max_position_embeddings=512,
        )
    )


def measured(loss):
    """FLOPs torch counts for `loss()` and its backward pass."""
    with FlopCounterMode(display=False) as counter:
        loss().backward()
    return counter.get_total_flops()


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_the_count_matches_torch_on_the_huggingface_towers(size):
    config = full_config(size)
    rng = np.random.default_rng(0)
    ids = torch.tensor(rng.integers(5, VOCAB, (BATCH, LENGTH)))
    chosen = max_predictions(LENGTH, config["mask_prob"])
    positions = torch.tensor(np.stack([rng.permutation(LENGTH)[:chosen] for _ in range(BATCH)]))
    discriminator = huggingface_model(
        transformers.ElectraForPreTraining,
        config,
        config["hidden_dim"],
        config["num_layers"],
        config["intermediate_dim"],
    )
    generator = huggingface_model(
        transformers.ElectraForMaskedLM,
        config,
        config["generator_hidden_dim"],
        config["generator_num_layers"],
        config["generator_intermediate_dim"],
    )

    bert = huggingface_model(
        transformers.ElectraForMaskedLM,
        config,
        config["hidden_dim"],
        config["num_layers"],
        config["intermediate_dim"],
    )

    def masked_lm_loss(
        model, every_token=False
    ):  # the chosen positions only, as ElectraMaskedLMHead gathers first
        hidden = model.electra(ids).last_hidden_state
        if not every_token:
            hidden = torch.gather(hidden, 1, positions[..., None].expand(-1, -1, hidden.shape[-1]))
        return model.generator_lm_head(model.generator_predictions(hidden)).sum()

    def all_tokens_loss():  # an MLM head over every token + the copy probability's head
        hidden = bert.electra(ids).last_hidden_state
        logits = bert.generator_lm_head(bert.generator_predictions(hidden))
        return logits.sum() + discriminator.discriminator_predictions(hidden).sum()

    electra = pretraining_step_flops({**config, "objective": "electra"}, BATCH, LENGTH)
    assert electra["encoder"] + electra["encoder_head"] == pytest.approx(
        measured(lambda: discriminator(ids).logits.sum()), rel=0.02
    )
    assert electra["generator"] == pytest.approx(
        measured(lambda: masked_lm_loss(generator)), rel=0.02
    )
    assert electra["total"] == electra["generator"] + electra["encoder"] + electra["encoder_head"]
    mlm = pretraining_step_flops({**config, "objective": "mlm"}, BATCH, LENGTH)
    assert mlm["generator"] == 0
    assert mlm["total"] == pytest.approx(measured(lambda: masked_lm_loss(bert)), rel=0.02)
    # The Table-5 variants: ELECTRA 15% only reweighs the loss; the others add an encoder MLM head.
    assert pretraining_step_flops({**config, "objective": "electra-15"}, BATCH, LENGTH) == electra
    replace = pretraining_step_flops({**config, "objective": "replace-mlm"}, BATCH, LENGTH)
    assert replace["generator"] == electra["generator"]
    assert replace["total"] - replace["generator"] == pytest.approx(mlm["total"], rel=0.02)
    all_tokens = pretraining_step_flops({**config, "objective": "all-tokens-mlm"}, BATCH, LENGTH)
    assert all_tokens["total"] - all_tokens["generator"] == pytest.approx(
        measured(all_tokens_loss), rel=0.02
    )
