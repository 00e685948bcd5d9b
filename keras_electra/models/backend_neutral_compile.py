class BackendNeutralCompile:
    """Mixin for models that override `compile`: a saved `jit_compile="auto"` stays "auto".

    Keras saves "auto" as the saving backend resolved it (True under JAX), so a file written
    under JAX would turn on `torch.compile` when loaded under torch, or XLA under TensorFlow.
    Keeping "auto" lets the loading backend decide. Call `_remember_jit_compile` from `compile`.
    """

    def _remember_jit_compile(self, jit_compile):
        self._jit_compile_choice = jit_compile

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None and getattr(self, "_jit_compile_choice", None) == "auto":
            config["jit_compile"] = "auto"
        return config
