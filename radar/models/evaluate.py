"""Evaluation of risk scores: ranking, targeting and calibration metrics.

Every metric takes the observed outcome ``y_true`` (0/1) and a risk score (higher = riskier). A slice with
a single class (no adverse event at all, or only adverse events) has no defined AUC: the metric is NaN and
a ``SingleClassWarning`` says why, so a monthly report on a quiet district never crashes.

``precision_at_k`` and ``lift_at`` count rows (inspection capacity is counted in entities); the other
metrics accept ``sample_weight``, e.g. inverse inclusion probabilities of random spot checks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

ArrayLike = Sequence[float] | np.ndarray | pd.Series

LIFT_SHARE = 0.10  # lift is reported for the riskiest 10 % (the usual targeting budget)


class SingleClassWarning(UserWarning):
    """A metric needs both outcomes in the slice and got only one: it returns NaN."""


def _arrays(
    y_true: ArrayLike, y_score: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(y_score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"y_true and y_score must be 1-d of equal length (got {y.shape} and {s.shape})")
    if np.isnan(s).any():
        raise ValueError("y_score contains NaN: score every row before evaluating")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold only 0 and 1")
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if w is not None and w.shape != y.shape:
        raise ValueError("sample_weight must have the length of y_true")
    return y, s, w


def _two_classes(y: np.ndarray, metric: str) -> bool:
    if y.size == 0 or y.min() == y.max():
        warnings.warn(
            f"{metric}: the slice holds {y.size} rows of a single class; returning NaN",
            SingleClassWarning,
            stacklevel=3,
        )
        return False
    return True


def roc_auc(y_true: ArrayLike, y_score: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Area under the ROC curve: the chance a random adverse case outranks a random clean one."""
    y, s, w = _arrays(y_true, y_score, sample_weight)
    if not _two_classes(y, "roc_auc"):
        return math.nan
    return float(roc_auc_score(y, s, sample_weight=w))


def pr_auc(y_true: ArrayLike, y_score: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Area under the precision-recall curve (average precision); the honest ranking metric for rare events."""
    y, s, w = _arrays(y_true, y_score, sample_weight)
    if not _two_classes(y, "pr_auc"):
        return math.nan
    return float(average_precision_score(y, s, sample_weight=w))


def precision_at_k(y_true: ArrayLike, y_score: ArrayLike, k: int) -> float:
    """Share of adverse cases among the ``k`` highest scores.

    Scores tied at the cut-off are shared out at their group's rate (the expected precision when the tie is
    broken at random), so the result does not depend on row order.
    """
    y, s, _ = _arrays(y_true, y_score)
    if k < 1:
        raise ValueError("k must be at least 1")
    if y.size == 0:
        return math.nan
    k = min(k, y.size)
    threshold = np.sort(s)[::-1][k - 1]
    above = s > threshold
    tied = s == threshold
    n_above = int(above.sum())
    tied_rate = y[tied].mean()
    return float((y[above].sum() + (k - n_above) * tied_rate) / k)


def lift_at(y_true: ArrayLike, y_score: ArrayLike, share: float = LIFT_SHARE) -> float:
    """Precision in the riskiest ``share`` of rows divided by the base rate (1.0 = no better than random)."""
    y, s, _ = _arrays(y_true, y_score)
    if not 0 < share <= 1:
        raise ValueError("share must lie in (0, 1]")
    if y.size == 0 or y.sum() == 0:
        warnings.warn(
            "lift_at: no adverse case in the slice; returning NaN", SingleClassWarning, stacklevel=2
        )
        return math.nan
    k = max(1, round(share * y.size))
    return precision_at_k(y, s, k) / float(y.mean())


def brier(y_true: ArrayLike, y_score: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Mean squared error of the probability (lower is better); defined on a single-class slice too."""
    y, s, w = _arrays(y_true, y_score, sample_weight)
    if y.size == 0:
        return math.nan
    return float(np.average((s - y) ** 2, weights=w))


def calibration_table(
    y_true: ArrayLike, y_score: ArrayLike, n_bins: int = 10, sample_weight: ArrayLike | None = None
) -> pd.DataFrame:
    """Equal-count score bins (deciles by default), lowest scores first, with mean score vs observed rate.

    Rows are binned by their position in score order (ties broken by row order), so heavy ties cannot
    collapse the bins as quantile edges would.
    """
    y, s, w = _arrays(y_true, y_score, sample_weight)
    w = np.ones_like(y) if w is None else w
    cols = ["bin", "n", "weight", "mean_score", "observed_rate", "min_score", "max_score"]
    if y.size == 0:
        return pd.DataFrame(columns=cols)
    order = np.argsort(s, kind="stable")
    bins = np.empty(y.size, dtype=int)
    bins[order] = np.arange(y.size) * n_bins // y.size
    frame = pd.DataFrame({"bin": bins + 1, "y": y, "s": s, "w": w, "ws": w * s, "wy": w * y})
    g = frame.groupby("bin")
    table = pd.DataFrame(
        {
            "n": g.size(),
            "weight": g["w"].sum(),
            "mean_score": g["ws"].sum() / g["w"].sum(),
            "observed_rate": g["wy"].sum() / g["w"].sum(),
            "min_score": g["s"].min(),
            "max_score": g["s"].max(),
        }
    ).reset_index()
    return table[cols]


def evaluate_scores(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int = 100,
    sample_weight: ArrayLike | None = None,
) -> dict[str, float]:
    """All headline metrics of one score on one slice, as a flat dict ready for MLflow.

    Keys: ``n, positives, base_rate, mean_score, auc, auc_pr, precision_at_k, lift_at_10pct, brier``.
    """
    y, s, w = _arrays(y_true, y_score, sample_weight)
    n = int(y.size)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SingleClassWarning)
        out = {
            "n": float(n),
            "positives": float(y.sum()),
            "base_rate": float(np.average(y, weights=w)) if n else math.nan,
            "mean_score": float(np.average(s, weights=w)) if n else math.nan,
            "auc": roc_auc(y, s, w),
            "auc_pr": pr_auc(y, s, w),
            "precision_at_k": precision_at_k(y, s, k) if n else math.nan,
            "lift_at_10pct": lift_at(y, s, LIFT_SHARE) if n and y.sum() > 0 else math.nan,
            "brier": brier(y, s, w),
        }
    if any(issubclass(c.category, SingleClassWarning) for c in caught):
        # one warning for the slice, not one per metric
        warnings.warn(
            f"evaluate_scores: slice of {n} rows has a single class; ranking metrics are NaN",
            SingleClassWarning,
            stacklevel=2,
        )
    return out


def metrics_by_group(
    frame: pd.DataFrame,
    group_col: str,
    label_col: str = "label",
    score_col: str = "risk_score",
    k: int = 100,
) -> pd.DataFrame:
    """``evaluate_scores`` per group (e.g. district or inspector): targeting must work everywhere, not on average."""
    rows = []
    with warnings.catch_warnings():
        # a quiet district with no adverse case is expected here, its NaN says enough
        warnings.simplefilter("ignore", SingleClassWarning)
        for key, part in frame.groupby(group_col, sort=True, dropna=False):
            rows.append({group_col: key, **evaluate_scores(part[label_col], part[score_col], k=k)})
    return pd.DataFrame(rows)
