"""Risk models: training, time-ordered evaluation, explanations, grades and the MLflow registry.

The analysts' API works on pandas without Spark; the Spark jobs call the same functions per partition.
MLflow is imported only by ``radar.models.registry``.
"""

from radar.models.anomaly import anomaly_scores
from radar.models.estimator import FeatureFrame, RiskModel, RuleScore, logistic_baseline
from radar.models.evaluate import (
    SingleClassWarning,
    brier,
    calibration_table,
    evaluate_scores,
    lift_at,
    metrics_by_group,
    pr_auc,
    precision_at_k,
    roc_auc,
)
from radar.models.explain import explain
from radar.models.grading import apply_floors, assign_grades, grade_mix
from radar.models.selection_bias import selection_bias_report
from radar.models.train import (
    TrainResult,
    backtest,
    data_hash,
    negative_subsample,
    rolling_origin_splits,
    time_split,
    train_and_evaluate,
)

__all__ = [
    "FeatureFrame",
    "RiskModel",
    "RuleScore",
    "SingleClassWarning",
    "TrainResult",
    "anomaly_scores",
    "apply_floors",
    "assign_grades",
    "backtest",
    "brier",
    "calibration_table",
    "data_hash",
    "evaluate_scores",
    "explain",
    "grade_mix",
    "lift_at",
    "logistic_baseline",
    "metrics_by_group",
    "negative_subsample",
    "pr_auc",
    "precision_at_k",
    "roc_auc",
    "rolling_origin_splits",
    "selection_bias_report",
    "time_split",
    "train_and_evaluate",
]
