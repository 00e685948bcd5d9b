"""`export --format onnx --quantize int8`: the ONNX model's weight matrices in 8-bit integers, by ONNX
Runtime's own dynamic quantization (docs/serving.md, "Quantized export").

Each MatMul with a constant weight matrix (the attention projections, the feed-forward layers, the
embedding projection and the heads) becomes `DynamicQuantizeLinear` + `MatMulInteger`: the weights are
stored as int8 with one scale per matrix, and each call quantizes its activations to uint8 from their
own range. The embedding tables, attention's score and context products, LayerNorm and the softmax
stay float32. Imports no Keras.
"""

import logging

from keras_electra.extras import require

QUANTIZED_OPS = ("MatMul",)


def quantize_onnx(path):
    """Replaces the float32 ONNX model at `path` by its form with int8 weight matrices."""
    target = path.with_name(f"{path.stem}.int8{path.suffix}")
    quantization = require("onnxruntime.quantization", "--quantize int8")
    root = logging.getLogger()
    level = root.level
    # ONNX Runtime logs a warning that suggests its pre-processing (shape inference and graph
    # optimisation), which leaves this graph's quantized form unchanged (checked with 1.32).
    root.setLevel(logging.ERROR)
    try:
        quantization.quantize_dynamic(
            str(path),
            str(target),
            weight_type=quantization.QuantType.QInt8,
            op_types_to_quantize=list(QUANTIZED_OPS),
        )
    finally:
        root.setLevel(level)
    target.replace(path)
