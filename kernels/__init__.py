"""Triton kernels of keras-electra, installed as `keras_electra_kernels`."""
