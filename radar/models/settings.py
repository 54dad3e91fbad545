"""Training settings read from ``conf/policy.yaml`` ``train:``.

``train_setting`` reads a key of the validated ``TrainPolicy``. The keys below were added for the models;
until ``radar/config.py`` declares them, their documented defaults apply (the same values as the pydantic
field defaults proposed for ``TrainPolicy``), so the models run against either version of the config.
"""

from __future__ import annotations

from typing import Any

# Defaults of the train: keys the models added (mirror of the proposed TrainPolicy field defaults).
TRAIN_DEFAULTS: dict[str, Any] = {
    "num_threads": 1,
    "calibration": "sigmoid",
    "calibration_months": 1,
    "gap_days": 180,
    "precision_at_k": 100,
    "rule_weights": {
        "penalty_count_365d": 2.0,
        "serious_violation_current": 5.0,
        "abnormal_list_current": 3.0,
        "dishonest_debtor_current": 4.0,
        "complaint_count_365d": 0.5,
    },
}


def train_setting(policy: Any, name: str) -> Any:
    """The value of ``train.<name>`` in the policy, or its documented default if the config lacks it."""
    value = getattr(policy, name, None)
    if value is not None:
        return value
    if name in TRAIN_DEFAULTS:
        return TRAIN_DEFAULTS[name]
    raise AttributeError(f"train policy has no setting {name!r}")
