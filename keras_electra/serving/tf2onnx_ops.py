"""TensorFlow ops that tf2onnx 1.17 cannot convert, written in ONNX ops, for Keras' ONNX export on the
TensorFlow backend. Imports TensorFlow's converter: only `exporter.py` imports it, when it exports."""

import functools

import numpy as np


@functools.cache
def register():
    """Registers `Erfc` (TensorFlow's exact GELU is `0.5 * x * erfc(-x / sqrt(2))`) as `1 - Erf`.

    `1 - erf(t)` loses erfc's relative precision where erf(t) is near 1: on GELU's negative side,
    where the GELU is near 0 and its absolute error stays below |x| times float32's epsilon.
    """
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:  # defining it registers it
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            node.type = "Erf"
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
            one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype))
            ctx.insert_new_node_on_output(
                "Sub", node.output[0], inputs=[one.output[0], node.output[0]]
            )
