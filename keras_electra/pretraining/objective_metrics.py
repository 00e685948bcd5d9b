"""What a pretraining step reports for its objective (docs/electra.md, "Objectives": "What each reports")."""

import keras
from keras import ops


class ObjectiveMetrics:
    """Mixin for `ElectraPretrainer`: the metrics of what its objective computes, built and updated.

    The trackers are the model's own attributes, so that Keras resets and reports them with its
    other metrics; the model's `_objective` (an `Objective`) says which exist. `compute_loss`
    updates the loss trackers, `compute_metrics` the rest.

    Example:

    ```python
    class Pretrainer(ObjectiveMetrics, keras.Model):
        ...
    ```
    """

    def _build_metrics(self):
        """The trackers of what this objective computes: the generator's MLM, replaced token detection
        (also for All-Tokens MLM, whose copy probability is one minus it) and an encoder MLM head."""
        kind = self._objective
        if kind.generator:
            self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
            self.mlm_accuracy = keras.metrics.SparseCategoricalAccuracy(name="mlm_accuracy")
        if kind.encoder_head == "rtd":
            self.disc_loss_tracker = keras.metrics.Mean(name="disc_loss")
        if kind.has_replaced_token_head:
            self.disc_metrics = [
                keras.metrics.BinaryAccuracy(name="disc_accuracy"),
                keras.metrics.Precision(name="disc_precision"),
                keras.metrics.Recall(name="disc_recall"),
                keras.metrics.AUC(name="disc_auc"),
            ]
        if kind.has_encoder_mlm_head:
            self.encoder_mlm_loss_tracker = keras.metrics.Mean(name="encoder_mlm_loss")
            self.encoder_mlm_accuracy = keras.metrics.SparseCategoricalAccuracy(
                name="encoder_mlm_accuracy"
            )
        if kind.generator:
            self.replaced_fraction = keras.metrics.Mean(name="replaced_fraction")

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        kind = self._objective
        padding_mask = ops.cast(x["padding_mask"], "float32")
        weights = y_pred["mlm_weights"]
        if kind.generator:
            self.mlm_accuracy.update_state(
                y_pred["mlm_labels"], y_pred["mlm_logits"], sample_weight=weights
            )
        if kind.has_replaced_token_head:
            labels, probs = y_pred["disc_labels"], ops.sigmoid(y_pred["disc_logits"])
            for metric in self.disc_metrics:
                metric.update_state(labels, probs, sample_weight=padding_mask)
        if kind.has_encoder_mlm_head:
            logits = y_pred["encoder_logits"]
            if kind.predicts_every_token:  # scored at the chosen positions, as the other objectives
                logits = ops.take_along_axis(logits, y_pred["mlm_positions"][:, :, None], axis=1)
            self.encoder_mlm_accuracy.update_state(
                y_pred["mlm_labels"], logits, sample_weight=weights
            )
        if kind.generator:
            self.replaced_fraction.update_state(y_pred["disc_labels"], sample_weight=padding_mask)
        return self.get_metrics_result()
