import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_electra")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup multiplied by linear decay to zero at `total_steps`.

    lr(step) = peak * min(1, step / warmup_steps) * max(0, 1 - step / total_steps)
    (no warmup factor when warmup_steps is 0),
    the authors' schedule for pretraining and fine-tuning (docs/electra.md, "Pretraining optimisation", "Fine-tuning").

    Args:
        peak_learning_rate: float. The rate at the end of warmup.
        warmup_steps: int. Steps of linear warmup; 0 for none.
        total_steps: int. The step at which the rate reaches 0.

    Example:

    ```python
    schedule = keras_electra.WarmupLinearDecay(5e-4, warmup_steps=10_000, total_steps=1_000_000)
    float(schedule(5_000))  # 2.4875e-04
    ```
    """

    def __init__(self, peak_learning_rate, warmup_steps, total_steps):
        if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"WarmupLinearDecay: need total_steps > 0 and 0 <= warmup_steps <= "
                f"total_steps; got warmup_steps={warmup_steps}, total_steps={total_steps}."
            )
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        # No warmup means no warmup factor at all (the authors' rule), not a zero first step.
        warmup = ops.minimum(1.0, step / self.warmup_steps) if self.warmup_steps else 1.0
        decay = ops.maximum(0.0, 1.0 - step / self.total_steps)
        return self.peak_learning_rate * warmup * decay

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }
