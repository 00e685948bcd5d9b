"""Exports for serving (docs/serving.md): `keras-electra export` writes them, `keras-electra predict`
runs them.

An export is a directory: the model in one format (`layout.MODEL_FILES`), `tokenizer.json` (Hugging
Face `tokenizers`: text -> the model's inputs) and `serving.json` (what the model takes and gives).
Only `exporter.py` imports Keras (and `tf2onnx_ops.py`, which it calls, tf2onnx); the other
modules run an export with onnxruntime (or TensorFlow, or LiteRT), `tokenizers` and NumPy, in a
process without Keras.
"""
