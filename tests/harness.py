"""The checks every public layer and model of keras-electra goes through, on the current backend.

`run_layer_test` (a layer class and its arguments) and `run_model_test` (a function building the model
under a dtype policy) run them all; each check is also a function of its own, for tests that need one:

- `check_call`: finite outputs, the same twice at inference, and the shapes and dtypes a symbolic call
  on `keras.KerasTensor`s predicts;
- `check_config_round_trip`: a JSON-serializable config; `from_config(get_config())` gives the same
  config and, given the same weights, the same outputs;
- `check_keras_file`: a `.keras` file loads back with the class, config, weights and outputs it saved
  (a layer is saved inside a functional model over its inputs, as layers are saved in practice);
- `check_mixed_precision`: under "mixed_bfloat16" and "mixed_float16" every layer computes in the low
  dtype over float32 variables, floating outputs come out in it (or in float32 where the class keeps
  them so), finite and near the float32 outputs; integer outputs do not change;
- `check_reference`: the outputs match `reference(obj, *args)`, a backend-neutral NumPy computation
  (tests/references.py, written from docs/electra.md).

Before the checks the trainable weights are moved off their initial values (zero biases, unit LayerNorm
scales), so that a reference or a round trip that lost a bias would show.
"""

import json

import keras
import numpy as np

# The low dtype of each mixed policy, and how far its outputs may stray from float32's, relative to the
# largest float32 output: bfloat16 keeps 8 bits of mantissa, float16 11. The tiny models' worst cases
# measured are 0.04 (a classifier's logits under torch) and 0.002: a broken cast or overflow is far off.
MIXED_POLICIES = {"mixed_bfloat16": ("bfloat16", 0.1), "mixed_float16": ("float16", 0.02)}


def default_call(obj, *args):
    return obj(*args)


def run_layer_test(cls, init_kwargs, args, tmp_path, owner_passed=(), **options):
    """Every check on `cls(**init_kwargs)` called on `args` (a tuple of positional arguments), and
    every argument of `init_kwargs` in its config with the value given; the `options` are
    `run_checks'`. Returns the layer checked.

    `owner_passed` names the arguments the config leaves out because an owner passes them (the MLM
    head's tied table, a preprocessor's tokenizer): they are passed to `from_config` again.
    """

    def build(dtype=None):
        return cls(**init_kwargs, dtype=dtype)

    layer = build()
    config = layer.get_config()
    owner_kwargs = {name: init_kwargs[name] for name in owner_passed}
    for name, value in init_kwargs.items():
        if name in owner_passed:
            assert name not in config, name
        else:
            assert name in config and config[name] == value, f"{name}={value!r} not in the config"
    run_checks(build, layer, args, tmp_path, owner_kwargs, **options)
    return layer


def run_model_test(build, args, tmp_path, **options):
    """Every check on `build()` called on `args`; `build(dtype)` builds the model under a dtype policy,
    and the `options` are `run_checks'`. Returns the model checked."""
    model = build()
    run_checks(build, model, args, tmp_path, {}, **options)
    return model


def run_checks(
    build,
    obj,
    args,
    tmp_path,
    owner_kwargs,
    reference=None,
    atol=2e-5,
    call=default_call,
    float32_outputs=False,
    float32_layers=(),
    keras_file=True,
):
    """The checks of the module's docstring on `obj`, which `build(dtype)` builds again.

    Args:
        owner_kwargs: dict. The constructor's arguments its config leaves out (see `run_layer_test`).
        reference: None, or `reference(obj, *args)`: the expected outputs, computed in NumPy.
        atol: float. How far the outputs may be from the reference's.
        call: `call(obj, *args)` gives the outputs compared (by default `obj(*args)`; the pretrainer's
            are its towers', which draw no masks).
        float32_outputs: bool. Floating outputs stay float32 under mixed policies (the task logits).
        float32_layers: names of the layers that compute in float32 under mixed policies.
        keras_file: bool. False for a layer that cannot load alone: the MLM head, whose tied table
            its owner saves (a preprocessor's tokenizer comes back from the file's assets).
    """
    _build(obj, args, call)
    perturb(obj)
    check_call(obj, args, call)
    check_config_round_trip(obj, args, call, owner_kwargs)
    if keras_file:
        check_keras_file(obj, args, tmp_path, call)
    check_mixed_precision(build, obj, args, call, float32_outputs, float32_layers)
    if reference is not None:
        check_reference(obj, args, call, reference, atol)


def perturb(obj, seed=0, scale=0.1):
    """Adds N(0, scale) noise to every trainable weight."""
    rng = np.random.default_rng(seed)
    for variable in obj.trainable_weights:
        value = keras.ops.convert_to_numpy(variable)
        variable.assign(value + rng.normal(0.0, scale, value.shape).astype(value.dtype))


def numpy_tree(outputs):
    """`outputs` (a tensor, array or nested structure of them) as NumPy; floating values as float32."""

    def to_numpy(x):
        if _is_floating(x):
            x = keras.ops.cast(x, "float32")
        return np.asarray(keras.ops.convert_to_numpy(x))

    return keras.tree.map_structure(to_numpy, outputs)


def _is_floating(x):
    return "float" in keras.backend.standardize_dtype(x.dtype)


def _pairs(actual, expected):
    """The leaves of two structures, side by side, after checking the structures are the same."""
    keras.tree.assert_same_structure(actual, expected)
    return zip(keras.tree.flatten(actual), keras.tree.flatten(expected))


def assert_same_outputs(actual, expected):
    for got, want in _pairs(numpy_tree(actual), numpy_tree(expected)):
        np.testing.assert_array_equal(got, want)


def check_call(obj, args, call=default_call):
    """Finite outputs, the same twice at inference; a symbolic call predicts the eager one's shapes and
    dtypes (where the arguments are arrays: the preprocessors take text). Returns the outputs."""
    raw = call(obj, *args)
    outputs = numpy_tree(raw)
    for value in keras.tree.flatten(outputs):
        assert np.isfinite(value).all()
    assert_same_outputs(call(obj, *args), outputs)
    if _takes_arrays(args):
        eager = raw if call is default_call else obj(*args)
        for spec, value in _pairs(obj(*_symbolic(args)), eager):
            assert tuple(spec.shape) == tuple(value.shape)
            assert spec.dtype == keras.backend.standardize_dtype(value.dtype)
    return outputs


def check_config_round_trip(obj, args, call=default_call, owner_kwargs=None):
    """`from_config(get_config())`: the same config, and with the same weights the same outputs."""
    config = obj.get_config()
    json.dumps(keras.saving.serialize_keras_object(obj))
    clone = type(obj).from_config({**config, **(owner_kwargs or {})})
    assert clone.get_config() == config
    _build(clone, args, call)
    assert [v.shape for v in clone.weights] == [v.shape for v in obj.weights]
    clone.set_weights(obj.get_weights())
    assert_same_outputs(call(clone, *args), call(obj, *args))
    return clone


def round_trip(model, path, **load_options):
    """`model` (or a layer) saved to `path` (a .keras file) and loaded back."""
    keras.saving.save_model(model, path)
    return keras.saving.load_model(path, **load_options)


def assert_same_weights(a, b):
    assert [v.path for v in a.weights] == [v.path for v in b.weights]
    for va, vb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(va), keras.ops.convert_to_numpy(vb), err_msg=va.path
        )


def check_keras_file(obj, args, tmp_path, call=default_call):
    """A `.keras` file of `obj` loads back with its class, config, weights and outputs; returns the
    loaded copy (for a layer: the layer inside the loaded functional model)."""
    saved = obj if _saved_alone(obj, args) else _functional_model(obj, args)
    loaded_model = round_trip(saved, tmp_path / f"{obj.name}.keras")
    loaded = loaded_model if saved is obj else loaded_model.get_layer(obj.name)
    assert type(loaded) is type(obj)
    assert loaded.get_config() == obj.get_config()
    assert_same_weights(obj, loaded)
    if saved is obj:
        assert_same_outputs(call(loaded, *args), call(obj, *args))
    else:
        assert_same_outputs(loaded_model(list(args)), saved(list(args)))
    return loaded


def _saved_alone(obj, args):
    """Models are saved themselves, and so are layers of text (the preprocessors), which have no
    tensor inputs to build a functional model over."""
    return isinstance(obj, keras.Model) or not _takes_arrays(args)


def _takes_arrays(args):
    return all(isinstance(a, np.ndarray) for a in keras.tree.flatten(args))


def _symbolic(args):
    return keras.tree.map_structure(lambda a: keras.KerasTensor(a.shape, a.dtype.name), args)


def _build(obj, args, call):
    """Creates `obj`'s variables: by a symbolic call where its arguments are arrays (no compute)."""
    if obj.built:
        return
    if _takes_arrays(args):
        obj(*_symbolic(args))
    else:
        call(obj, *args)


def _functional_model(layer, args):
    inputs = [keras.Input(a.shape[1:], dtype=a.dtype.name) for a in args]
    return keras.Model(inputs, layer(*inputs))


def layers_of(model):
    """Every layer under `model` (itself excluded), each once."""
    found, stack = {}, [model]
    while stack:
        for layer in stack.pop()._flatten_layers(include_self=False, recursive=False):
            if id(layer) not in found:
                found[id(layer)] = layer
                stack.append(layer)
    return list(found.values())


def assert_computes_in(model, policy, float32_layers=()):
    """`model` and all its layers (inputs and `float32_layers` aside) compute under `policy`,
    and every variable is float32."""
    assert model.dtype_policy.name == policy
    wrong = [
        (layer.name, layer.dtype_policy.name)
        for layer in layers_of(model)
        if not isinstance(layer, keras.layers.InputLayer)
        and layer.name not in float32_layers
        and layer.dtype_policy.name != policy
    ]
    assert not wrong, f"layers not under {policy}: {wrong}"
    assert {v.dtype for v in model.trainable_weights} <= {"float32"}


def check_mixed_precision(
    build, obj, args, call=default_call, float32_outputs=False, float32_layers=()
):
    """`build(policy)` with `obj`'s weights, under each mixed policy: see the module's docstring."""
    expected = numpy_tree(call(obj, *args))
    scale = max(
        [np.abs(v).max() for v in keras.tree.flatten(expected) if v.dtype.kind == "f"] + [0]
    )
    for policy, (low, tolerance) in MIXED_POLICIES.items():
        mixed = build(policy)
        _build(mixed, args, call)
        mixed.set_weights(obj.get_weights())
        assert_computes_in(mixed, policy, float32_layers)
        outputs = mixed(*args)
        for value in keras.tree.flatten(outputs):
            if _is_floating(value):
                dtype = keras.backend.standardize_dtype(value.dtype)
                assert dtype == ("float32" if float32_outputs else low), (policy, dtype)
        if call is not default_call:
            outputs = call(mixed, *args)
        for got, want in _pairs(numpy_tree(outputs), expected):
            if want.dtype.kind == "f":
                assert np.isfinite(got).all(), policy
                np.testing.assert_allclose(got, want, atol=tolerance * scale, err_msg=policy)
            else:
                np.testing.assert_array_equal(got, want, err_msg=policy)


def check_reference(obj, args, call, reference, atol):
    """The outputs match `reference(obj, *args)`, computed in NumPy (float64)."""
    for got, want in _pairs(numpy_tree(call(obj, *args)), reference(obj, *args)):
        np.testing.assert_allclose(got, want, atol=atol)
