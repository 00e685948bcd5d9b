"""Layer-wise learning-rate decay for fine-tuning (docs/electra.md, "Fine-tuning")."""

import math
import re

from keras_electra.optimization.electra_adamw import resolve_multiplier


def check_decay(decay, argument="decay"):
    """`decay` as a float, or a ValueError naming `argument`."""
    if (
        isinstance(decay, bool)
        or not isinstance(decay, (int, float))
        or not math.isfinite(decay)
        or not 0 < decay <= 1
    ):
        raise ValueError(f"{argument} must be a number in (0, 1]; got {argument}={decay!r}.")
    return float(decay)


def _find_backbone(model):
    # Imported here: keras_electra.models imports nothing from optimization,
    # but keep optimization importable on its own.
    from keras_electra.models.electra_backbone import ElectraBackbone

    if isinstance(model, ElectraBackbone):
        return model
    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, ElectraBackbone):
        return backbone
    raise TypeError(
        "layer_decay_multipliers: expected an ElectraBackbone (or a model with one "
        f"as its `backbone` attribute); got {type(model).__name__}."
    )


def _path_prefix(layer):
    """The path prefix that all of `layer`'s variables share, ending in
    `<layer name>/` (e.g. `encoder_layer_3/`, or `task/encoder_layer_3/` for
    a backbone created inside a task model's name scope)."""
    paths = [variable.path.split("/") for variable in layer.weights]
    if not paths:
        raise ValueError(
            f"layer_decay_multipliers: layer {layer.name!r} has no variables; is the backbone built?"
        )
    common = []
    for parts in zip(*(parts[:-1] for parts in paths)):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    if layer.name not in common:
        raise ValueError(
            f"layer_decay_multipliers: the variables of layer {layer.name!r} do not share a "
            f"path prefix naming it: {sorted('/'.join(p) for p in paths)}."
        )
    return "/".join(common[: common.index(layer.name) + 1]) + "/"


def layer_decay_multipliers(backbone, decay, authors_form=False):
    """Learning-rate multiplier rules of layer-wise decay, for `ElectraAdamW`.

    With the encoder layers numbered 1 (bottom) to L (top), docs/electra.md, "Fine-tuning":
    the task head (any variable outside the backbone) keeps the full learning
    rate, layer i gets `decay ** (L + 1 - i)` and the embeddings (the
    word/position/segment tables, their LayerNorm and `embeddings_project`)
    `decay ** (L + 1)`. `authors_form=True` gives every layer and the
    embeddings one more factor of decay (top layer `decay ** 2`, embeddings
    `decay ** (L + 2)`), as in the authors' code, which their published
    fine-tuning results used. The reference uses decay 0.8 (0.9 for large).

    Args:
        backbone: an `ElectraBackbone`, or a model whose `backbone` attribute
            is one.
        decay: the per-layer factor, in (0, 1].
        authors_form: use the authors' form (one extra factor of decay).

    Returns:
        A list of `[pattern, multiplier]` pairs, one per encoder layer and
        per embedding layer: `(?:^|/)` + the layer's variable-path prefix, so a
        rule matches the layer's variables however deeply the task model
        nests the backbone. Pass it as `ElectraAdamW(learning_rate_multipliers=...)`.
        The task model must not contain other layers named `embedding`,
        `embeddings_project` or `encoder_layer_<i>`.
    """
    decay = check_decay(decay)
    backbone = _find_backbone(backbone)
    num_layers = len(backbone.encoder_layers)
    extra = 1 if authors_form else 0

    groups = [(backbone.embedding, decay ** (num_layers + 1 + extra))]
    if backbone.embeddings_project is not None:
        groups.append((backbone.embeddings_project, decay ** (num_layers + 1 + extra)))
    for i, layer in enumerate(backbone.encoder_layers, start=1):
        groups.append((layer, decay ** (num_layers + 1 - i + extra)))
    rules = [
        ["(?:^|/)" + re.escape(_path_prefix(layer)), multiplier] for layer, multiplier in groups
    ]

    # Every backbone variable must get its own layer's multiplier (a pattern
    # that also matched another layer's variables would break this).
    for layer, multiplier in groups:
        for variable in layer.weights:
            got = resolve_multiplier(rules, variable.path)
            if got != multiplier:
                raise RuntimeError(
                    f"layer_decay_multipliers: {variable.path} resolves to {got}, expected {multiplier}."
                )
    return rules
