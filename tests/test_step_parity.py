"""Our pretraining step is the reference's step (docs/electra.md, "Masking" to "Pretraining optimisation"),
checked against an independent implementation: a training loop in plain torch, written here, on Hugging
Face's `ElectraForPreTraining` and `ElectraForMaskedLM` loaded from the same tiny pair as ours.

The randomness is injected: both sides take the same batches, masked positions and Gumbel noise, drawn
here with numpy, so that any difference is the step's own (forward pass, losses, sampling, replacement,
labels, gradients, clipping, AdamW, schedule). Our masking and sampling keep their own statistical tests
(tests/test_masking.py, tests/test_sampling.py); here `mask_tokens` and `gumbel_sample` are replaced by
functions returning the draws. The step runs as Keras runs it on each backend: eager on torch, compiled
by JAX's jit and by `tf.function`, which is why the replacements find their step in the graph.

Where we depart from the authors on purpose, the reference takes our choice, each marked below: masked
positions are distinct, and Adam corrects its bias (docs/electra.md, "Masking", "Pretraining
optimisation"). Where Hugging Face departs from the authors, the reference takes the authors' rule
([PAD]'s embedding row trains like any other).

Float32 is enough on both sides: after 20 steps (warmup to 1e-3, then decay) the weights agree within
1e-6, so no float64 run is needed.
"""

import keras
import numpy as np
import pytest
from conftest import BACKEND, SPECIALS, to_numpy
from keras import ops

import keras_electra as ke
from keras_electra.pretraining import electra_pretrainer
from keras_electra.pretraining.masking import MASK_PROB, max_predictions
from keras_electra.pretraining.optimizer import pretraining_optimizer

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

PAD, UNK, CLS, SEP, MASK = range(5)
VOCAB = SPECIALS + [f"w{i}" for i in range(123)]  # 128 ids, the special ones first
FREQUENT = MASK + 1  # a word the batches use often and the generator favours
BATCH, LENGTH, STEPS = 8, 32, 20
NUM_PREDICTIONS = max_predictions(LENGTH, MASK_PROB)
# Warmup over 5 of the 20 steps, then decay to 0: the schedule's both halves are exercised.
PEAK_LR, WARMUP = 1e-3, 5
# The authors' optimisation hyper-parameters (docs/electra.md, "Pretraining optimisation").
BETA_1, BETA_2, EPSILON, WEIGHT_DECAY, CLIP_NORM = 0.9, 0.999, 1e-6, 0.01, 1.0
DISCRIMINATOR_WEIGHT, TEMPERATURE = 50.0, 1.0
# The authors' shapes, tiny: the generator narrower than the discriminator, both with E < H.
TOWERS = {
    "discriminator": dict(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256
    ),
    "generator": dict(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=1, intermediate_size=64
    ),
}
LOSSES = ("loss", "mlm_loss", "disc_loss")
METRICS = LOSSES + (
    "mlm_accuracy",
    "disc_accuracy",
    "disc_precision",
    "disc_recall",
    "disc_auc",
    "replaced_fraction",
)
# Measured on every backend (torch, JAX, TensorFlow on a CPU): losses within 2.8e-6 relative at every
# step, weights within 7.2e-7 after 20 steps (4.8e-7 on JAX and TensorFlow), step-0 metrics within 1e-7.
# The weights' bound is 1e-5, tighter than 1e-4: without weight decay they would be 1.9e-4 apart, and
# 3.1e-4 with LayerNorm parameters and biases decayed too.
TOLERANCES = dict(loss=1e-5, weight=1e-5, metric=1e-5)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Models this small run faster on one thread, and much faster while other work shares the machine:
    two threads waiting on each other made a step 10 to 40 times slower (Keras' torch backend runs on
    the same torch)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hf_config(tower):
    return transformers.ElectraConfig(
        vocab_size=len(VOCAB),
        embedding_size=32,
        max_position_embeddings=64,
        type_vocab_size=2,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-12,
        pad_token_id=PAD,
        **TOWERS[tower],
    )


def randomized(model):
    """Hugging Face starts biases at 0 and LayerNorms at 1: move them, so that decay or no decay and
    every gradient show."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                parameter.add_(torch.randn_like(parameter) * 0.1)
    return model


def informative_heads(discriminator, generator):
    """Heads whose step-0 metrics are neither 0 nor 1: a replaced-token logit spread around 0 on
    batches like ours (at Hugging Face's initialisation every token is called replaced), and a
    generator that favours the batches' frequent token (else its accuracy is 0 and its samples never
    equal the original)."""
    head = discriminator.discriminator_predictions.dense_prediction
    batch = {k: torch.as_tensor(v).long() for k, v in make_batch(np.random.default_rng(0)).items()}
    with torch.no_grad():
        head.weight.normal_(0.0, 1.0)
        logits = discriminator(
            input_ids=batch["token_ids"],
            token_type_ids=batch["segment_ids"],
            attention_mask=batch["padding_mask"],
        ).logits
        head.bias.sub_(logits[batch["padding_mask"] > 0].median())
        generator.generator_lm_head.bias[FREQUENT] += 4.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """`(discriminator directory, generator directory)`: a Hugging Face pair sharing its embeddings, as
    the authors release them, with a vocab.txt that gives the special ids."""
    torch.manual_seed(0)
    discriminator = randomized(transformers.ElectraForPreTraining(hf_config("discriminator")))
    generator = randomized(transformers.ElectraForMaskedLM(hf_config("generator")))
    informative_heads(discriminator, generator)
    # The generator's output matrix is tied to its word table, so it follows the copy.
    generator.electra.embeddings.load_state_dict(discriminator.electra.embeddings.state_dict())
    folder = tmp_path_factory.mktemp("step_parity")
    for name, model in (("discriminator", discriminator), ("generator", generator)):
        model.save_pretrained(folder / name)
        (folder / name / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return folder / "discriminator", folder / "generator"


def ours(pair):
    # No dropout=0.0 here: the pair's config already has no dropout, and an argument that config.json
    # also gives is passed twice by load_huggingface_pretrainer (a TypeError, whatever its docstring says).
    pretrainer = ke.load_huggingface_pretrainer(*pair, seed=0)
    assert pretrainer.dropout == 0.0
    assert pretrainer.special_token_ids == dict(
        pad_token_id=PAD, unk_token_id=UNK, cls_token_id=CLS, sep_token_id=SEP, mask_token_id=MASK
    )
    return pretrainer


# --- The injected randomness ----------------------------------------------------------------------


def make_batch(rng):
    """[CLS] A [SEP] B [SEP] rows of random lengths (the first one full), padded; 30% of the other
    tokens are FREQUENT."""
    token_ids, segment_ids, padding_mask = (np.zeros((BATCH, LENGTH), "int32") for _ in range(3))
    for row in range(BATCH):
        n = LENGTH if row == 0 else int(rng.integers(8, LENGTH))
        split = int(rng.integers(3, n - 2))
        token_ids[row, :n] = np.where(
            rng.random(n) < 0.3, FREQUENT, rng.integers(MASK + 1, len(VOCAB), n)
        )
        token_ids[row, [0, split - 1, n - 1]] = CLS, SEP, SEP
        segment_ids[row, split:n] = 1
        padding_mask[row, :n] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def mask_draws(rng, batch):
    """What `mask_tokens` returns for `batch`: n = max(1, min(N, round(0.15 t))) distinct positions
    among the real non-special tokens (distinct: our choice, the authors draw with replacement),
    85% of them [MASK], the rest unchanged; unused slots at position 0 with weight 0."""
    ids, mask = batch["token_ids"], batch["padding_mask"]
    positions = np.zeros((BATCH, NUM_PREDICTIONS), "int32")
    weights = np.zeros((BATCH, NUM_PREDICTIONS), "float32")
    masked = ids.copy()
    for row in range(BATCH):
        candidates = np.flatnonzero((mask[row] > 0) & ~np.isin(ids[row], (PAD, CLS, SEP, MASK)))
        count = np.round(np.float32(mask[row].sum()) * np.float32(MASK_PROB))
        count = min(int(np.clip(count, 1, NUM_PREDICTIONS)), len(candidates))
        chosen = rng.choice(candidates, count, replace=False)
        positions[row, :count], weights[row, :count] = chosen, 1.0
        masked[row, chosen[rng.random(count) < 0.85]] = MASK
    labels = np.take_along_axis(ids, positions, axis=1)
    return {"token_ids": masked, "positions": positions, "weights": weights, "labels": labels}


def make_steps(seed, steps):
    """`steps` pairs of a batch and its draws: masks and Gumbel noise `[B, N, vocabulary]`."""
    rng = np.random.default_rng(seed)
    result = []
    for _ in range(steps):
        batch = make_batch(rng)
        draws = mask_draws(rng, batch)
        draws["gumbel"] = rng.gumbel(size=(BATCH, NUM_PREDICTIONS, len(VOCAB))).astype("float32")
        result.append((batch, draws))
    return result


def inject(monkeypatch, steps):
    """Our step's `mask_tokens` and `gumbel_sample` return the draws of `steps`, the k-th step's at its
    k-th call. The step index is read from the step's own SeedGenerator, which each patched function
    advances once: a Python counter would be frozen into a step that JAX or TensorFlow compiled, where
    the generator's state is a model variable that the compiled step carries from one call to the next."""
    stacked = {key: np.stack([draws[key] for _, draws in steps]) for key in steps[0][1]}

    def step_index(seed):
        return ops.floor_divide(ops.cast(seed.next()[1], "int32"), 2)

    def mask_tokens(token_ids, padding_mask, *, seed, **_):
        index = step_index(seed)
        return {
            key: ops.take(ops.convert_to_tensor(stacked[key]), index, axis=0)
            for key in ("token_ids", "positions", "weights", "labels")
        }

    def gumbel_sample(logits, seed, temperature=1.0):
        noise = ops.take(ops.convert_to_tensor(stacked["gumbel"]), step_index(seed), axis=0)
        logits = ops.stop_gradient(ops.cast(logits, "float32"))
        return ops.cast(ops.argmax(logits / temperature + noise, axis=-1), "int32")

    monkeypatch.setattr(electra_pretrainer, "mask_tokens", mask_tokens)
    monkeypatch.setattr(electra_pretrainer, "gumbel_sample", gumbel_sample)


# --- The reference: the authors' run_pretraining.py step in plain torch ---------------------------


def reference_models(pair):
    """The Hugging Face pair with one embedding module, as in the authors' pretraining: the generator
    reads the discriminator's tables, and its output layer is that word table again."""
    load = dict(attn_implementation="eager")
    discriminator = transformers.ElectraForPreTraining.from_pretrained(pair[0], **load).eval()
    generator = transformers.ElectraForMaskedLM.from_pretrained(pair[1], **load).eval()
    generator.electra.embeddings = discriminator.electra.embeddings
    generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight
    # torch's padding_idx keeps the [PAD] row's lookups out of the gradient; the authors' lookup (a
    # gather) has no such rule, and it matters: the generator can sample [PAD] at a real position.
    discriminator.electra.embeddings.word_embeddings.padding_idx = None
    return discriminator, generator


def weighted_mean(values, weights):
    # The authors' form (run_pretraining.py): the sum over the weights, plus 1e-6.
    return (values * weights).sum() / (weights.sum() + 1e-6)


def reference_forward(discriminator, generator, batch, draws):
    """The losses and outputs of one step (`PretrainingModel.__init__`): the generator's logits at the
    chosen positions, its MLM loss, a Gumbel-max sample under no gradient written into the original
    sequence, and the discriminator's sigmoid cross-entropy over the real tokens."""
    b, d = ({key: torch.as_tensor(value) for key, value in x.items()} for x in (batch, draws))
    ids, segments, mask = b["token_ids"].long(), b["segment_ids"].long(), b["padding_mask"].long()
    positions, weights = d["positions"].long(), d["weights"]
    hidden = generator.electra(
        input_ids=d["token_ids"].long(), token_type_ids=segments, attention_mask=mask
    ).last_hidden_state
    gathered = hidden.gather(1, positions[..., None].expand(-1, -1, hidden.shape[-1]))
    mlm_logits = generator.generator_lm_head(generator.generator_predictions(gathered))
    losses = torch.nn.functional.cross_entropy(
        mlm_logits.flatten(0, 1), d["labels"].long().flatten(), reduction="none"
    )
    mlm = weighted_mean(losses.view_as(weights), weights)
    with torch.no_grad():
        sample = (mlm_logits / TEMPERATURE + d["gumbel"]).argmax(-1)
    rows, chosen = torch.arange(BATCH)[:, None].expand_as(positions), weights > 0
    corrupted = ids.clone()
    corrupted[rows[chosen], positions[chosen]] = sample[chosen]
    disc_labels = ((corrupted != ids) & (mask > 0)).float()
    disc_logits = discriminator(
        input_ids=corrupted, token_type_ids=segments, attention_mask=mask
    ).logits
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        disc_logits, disc_labels, reduction="none"
    )
    disc = weighted_mean(bce, mask.float())
    outputs = dict(mlm_logits=mlm_logits, disc_logits=disc_logits, disc_labels=disc_labels)
    return {"loss": mlm + DISCRIMINATOR_WEIGHT * disc, "mlm_loss": mlm, "disc_loss": disc}, outputs


def learning_rate(step):
    """`WarmupLinearDecay` at `step`: Keras evaluates the schedule at the optimizer's `iterations`
    before it counts the update, so the k-th update (from 0) takes step k, as the authors' global_step."""
    return PEAK_LR * min(1.0, step / WARMUP) * max(0.0, 1.0 - step / STEPS)


def adamw_update(parameters, moments, step):
    """The authors' `AdamWeightDecayOptimizer` after `tf.clip_by_global_norm` (g * clip / max(norm,
    clip)), by hand, with Keras' bias correction (our choice; the authors have none):
    w -= lr (c m / (sqrt(v) + eps) + wd w), c = sqrt(1 - beta2^t) / (1 - beta1^t), and no decay on
    LayerNorm parameters and biases (the authors' exclusion by name)."""
    lr, t = learning_rate(step), step + 1
    correction = (1 - BETA_2**t) ** 0.5 / (1 - BETA_1**t)
    with torch.no_grad():
        norm = torch.sqrt(sum((p.grad**2).sum() for _, p in parameters))
        scale = CLIP_NORM / torch.maximum(norm, torch.tensor(CLIP_NORM))
        for (name, parameter), (m, v) in zip(parameters, moments):
            grad = parameter.grad * scale
            m.mul_(BETA_1).add_(grad * (1 - BETA_1))
            v.mul_(BETA_2).add_(grad * grad * (1 - BETA_2))
            update = correction * m / (v.sqrt() + EPSILON)
            if not ("LayerNorm" in name or name.endswith("bias")):
                update = update + WEIGHT_DECAY * parameter
            parameter.sub_(lr * update)


def trained_parameters(discriminator, generator):
    """`(name, parameter)` of both towers, the shared embeddings once."""
    seen = {}
    for model in (discriminator, generator):
        for name, parameter in model.named_parameters():
            seen.setdefault(id(parameter), (name, parameter))
    return list(seen.values())


def state_of(discriminator, generator):
    return {
        name: {key: value.detach().numpy().copy() for key, value in model.state_dict().items()}
        for name, model in (("discriminator", discriminator), ("generator", generator))
    }


def reference_trajectory(pair, steps):
    """The reference loop: each step's losses, and both towers' weights after the last step."""
    discriminator, generator = reference_models(pair)
    parameters = trained_parameters(discriminator, generator)
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for _, p in parameters]
    losses = []
    for step, (batch, draws) in enumerate(steps):
        step_losses, _ = reference_forward(discriminator, generator, batch, draws)
        for _, parameter in parameters:
            parameter.grad = None
        step_losses["loss"].backward()
        adamw_update(parameters, moments, step)
        losses.append([step_losses[key].item() for key in LOSSES])
    return np.array(losses), state_of(discriminator, generator)


def reference_metrics(pair, batch, draws):
    """What our `evaluate` reports, from the Hugging Face models' outputs before any update."""
    with torch.no_grad():
        losses, outputs = reference_forward(*reference_models(pair), batch, draws)
    weights, mask = draws["weights"], batch["padding_mask"].astype("float32")
    labels, probs = outputs["disc_labels"].numpy(), torch.sigmoid(outputs["disc_logits"]).numpy()
    predicted = (probs > 0.5).astype("float32")  # Keras' thresholds count only above 0.5
    hits = outputs["mlm_logits"].argmax(-1).numpy() == draws["labels"]
    auc = keras.metrics.AUC()  # configured as ours: its metric is the model outputs' ranking
    auc.update_state(labels, probs, sample_weight=mask)
    true_positives = (mask * predicted * labels).sum()
    return {
        **{key: float(value) for key, value in losses.items()},
        "mlm_accuracy": (weights * hits).sum() / weights.sum(),
        "disc_accuracy": (mask * (predicted == labels)).sum() / mask.sum(),
        "disc_precision": true_positives / (mask * predicted).sum(),
        "disc_recall": true_positives / (mask * labels).sum(),
        "disc_auc": float(to_numpy(auc.result())),
        "replaced_fraction": (mask * labels).sum() / mask.sum(),
    }


# --- Ours, and the comparisons ------------------------------------------------------------------


def compiled(pair):
    pretrainer = ours(pair)
    pretrainer.compile(
        optimizer=pretraining_optimizer(
            learning_rate=PEAK_LR, warmup_steps=WARMUP, total_steps=STEPS
        )
    )
    return pretrainer


def seed_counter(pretrainer):
    return int(to_numpy(pretrainer.seed_generator.state)[1])


def our_trajectory(pretrainer, steps, folder):
    """Each step's losses, and the weights after the last step exported under Hugging Face's names."""
    assert seed_counter(pretrainer) == 0
    losses = []
    for batch, _ in steps:
        # train_on_batch resets the metrics before its step on every backend, so its logs are that
        # step's losses; fit's would be running means over the epoch.
        logs = pretrainer.train_on_batch(batch, return_dict=True)
        losses.append([float(logs[key]) for key in LOSSES])
    assert seed_counter(pretrainer) == 2 * len(steps)  # each step took its draws once, in order
    ke.save_huggingface(pretrainer, folder)
    return np.array(losses), {
        name: safetensors_numpy.load_file(folder / name / "model.safetensors")
        for name in ("discriminator", "generator")
    }


def weight_errors(ours, theirs):
    """`{tower/key: max |difference|}` over the weights of `ours`."""
    return {
        f"{tower}/{key}": float(np.max(np.abs(value - theirs[tower][key])))
        for tower, weights in ours.items()
        for key, value in weights.items()
    }


def check_every_parameter_exported(ours, theirs):
    # The tied output matrix is the word table, which is compared under its own name.
    assert set(ours["discriminator"]) == set(theirs["discriminator"])
    assert set(ours["generator"]) == set(theirs["generator"]) - {"generator_lm_head.weight"}


def test_training_steps_match_the_reference(pair, monkeypatch, tmp_path):
    steps = make_steps(seed=1, steps=STEPS)
    inject(monkeypatch, steps)
    our_losses, our_weights = our_trajectory(compiled(pair), steps, tmp_path)
    expected_losses, expected_weights = reference_trajectory(pair, steps)
    loss_error = float(np.max(np.abs(our_losses - expected_losses) / np.abs(expected_losses)))
    check_every_parameter_exported(our_weights, expected_weights)
    errors = weight_errors(our_weights, expected_weights)
    worst = max(errors, key=errors.get)
    print(f"{BACKEND}: loss {loss_error:.2e} relative, weights {errors[worst]:.2e} ({worst})")
    moved = weight_errors(expected_weights, state_of(*reference_models(pair)))
    assert max(moved.values()) > 1e-3  # the 20 updates changed the weights: not a vacuous match
    assert loss_error <= TOLERANCES["loss"], (our_losses, expected_losses)
    assert errors[worst] <= TOLERANCES["weight"], worst


def test_step_zero_metrics_match_the_reference(pair, monkeypatch):
    batch, draws = make_steps(seed=2, steps=1)[0]
    inject(monkeypatch, [(batch, draws)])
    got = compiled(pair).evaluate(batch, batch_size=BATCH, return_dict=True, verbose=0)
    expected = reference_metrics(pair, batch, draws)
    # Relative for the losses (the total is near 40), absolute for the rates.
    errors = {k: abs(got[k] - expected[k]) / max(1.0, abs(expected[k])) for k in METRICS}
    print(BACKEND, {k: f"{got[k]:.4f} ({errors[k]:.1e})" for k in METRICS})
    assert 0 < expected["mlm_accuracy"] < 1
    assert 0 < expected["disc_precision"] < 1 and 0 < expected["disc_recall"] < 1
    # Some samples equal the original: the rule that labels them original is exercised.
    assert expected["replaced_fraction"] * batch["padding_mask"].sum() < draws["weights"].sum()
    assert max(errors.values()) <= TOLERANCES["metric"], errors
