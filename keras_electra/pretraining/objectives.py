"""The pretraining objectives: ELECTRA's and the baselines it is compared with (docs/electra.md,
"Objectives"; paper section 3.2 and Table 5).

Each objective is a few choices of one pipeline, not a trainer of its own: what the encoder
sees at the chosen positions ([MASK] or the generator's samples), which head it trains, and
over which tokens that head's loss is taken.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Objective:
    """What one objective computes in a pretraining step.

    Args:
        name: str. As `ElectraPretrainer(objective=...)` and `--objective` spell it.
        generator: bool. Whether a generator fills the chosen positions with samples (and is
            trained by its MLM loss); without one the encoder sees BERT's corruption.
        encoder_head: str. "rtd" (a logit per token: replaced or not), "mlm" (the identity of
            the chosen tokens) or "copy-mlm" (the identity of every token, through the paper's
            copy mechanism).
        rtd_on_chosen_only: bool. ELECTRA 15%: the discriminator's loss over the chosen
            positions only, not every token.
        mask_token_rate: float or None. Share of the chosen positions given [MASK]; None takes the
            pretrainer's `mask_token_rate` (ELECTRA's 85%).
        random_token_rate: float. Share given a uniformly random token (BERT's 10%).

    Example:

    ```python
    from keras_electra.pretraining.objectives import objective
    assert objective("mlm").random_token_rate == 0.1
    ```
    """

    name: str
    generator: bool
    encoder_head: str
    rtd_on_chosen_only: bool = False
    mask_token_rate: float | None = None
    random_token_rate: float = 0.0

    @property
    def has_replaced_token_head(self):
        """Whether the encoder has the replaced-token head: RTD's, or All-Tokens MLM's copy probability."""
        return self.encoder_head in ("rtd", "copy-mlm")

    @property
    def has_encoder_mlm_head(self):
        """Whether the encoder has an MLM head, of the chosen tokens or (All-Tokens MLM) of every one."""
        return self.encoder_head in ("mlm", "copy-mlm")

    @property
    def predicts_every_token(self):
        """Whether the encoder's MLM head predicts every token, not only the chosen ones."""
        return self.encoder_head == "copy-mlm"


OBJECTIVES = {
    one.name: one
    for one in (
        Objective("electra", generator=True, encoder_head="rtd"),
        Objective(
            "mlm", generator=False, encoder_head="mlm", mask_token_rate=0.8, random_token_rate=0.1
        ),
        Objective("electra-15", generator=True, encoder_head="rtd", rtd_on_chosen_only=True),
        Objective("replace-mlm", generator=True, encoder_head="mlm"),
        Objective("all-tokens-mlm", generator=True, encoder_head="copy-mlm"),
    )
}


def objective(name):
    """The `Objective` called `name`, or a ValueError listing the names."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective={name!r}: expected one of {', '.join(OBJECTIVES)}.")
    return OBJECTIVES[name]
