"""The benchmark's metrics: AUC, "days earlier" and the first-half share, as the city computed them.

"Days earlier" (the data folder's README and the city's ``simulated_date_diff_mean``): keep the real number
of inspections done on each day of the period, give those slots to the inspections in the model's order
(highest score first), and average ``real date - simulated date`` over the inspections that found a critical
violation. Ties in score keep the order of ``tie_key`` (the city's rows were keyed by Inspection_ID).

First-half share (the city's ``31_xgboost_model_evaluation.R``): the first half of the period is the days
whose cumulative inspection count stays below half of all inspections; the share is the part of all
critical findings that fall on those days, by real date (no model) or by simulated date (the model's order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from radar.models import evaluate_scores, metrics_by_group


def _frame(dates: Any, scores: Any, positives: Any, tie_key: Any = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(pd.Series(np.asarray(dates))).dt.normalize(),
            "score": np.asarray(scores, dtype=float),
            "positive": np.asarray(positives, dtype=int),
            "tie": np.arange(len(np.asarray(scores))) if tie_key is None else np.asarray(tie_key),
        }
    )
    if frame["date"].isna().any() or frame["score"].isna().any():
        raise ValueError("dates and scores must be complete")
    if not frame["positive"].isin((0, 1)).all():
        raise ValueError("positives must be 0 or 1")
    return frame


def simulated_dates(dates: Any, scores: Any, tie_key: Any = None) -> np.ndarray:
    """The date each inspection would get if the period's real daily slots were filled in score order.

    Returns datetime64[ns] values aligned with the input order.
    """
    frame = _frame(dates, scores, np.zeros(len(np.asarray(scores)), dtype=int), tie_key)
    slots = np.sort(frame["date"].to_numpy())
    # highest score first; equal scores keep the tie-key order (a stable sort on the tie key first)
    by_tie = frame.sort_values("tie", kind="stable")
    order = by_tie.index[np.argsort(-by_tie["score"].to_numpy(), kind="stable")]
    out = np.empty(len(frame), dtype="datetime64[ns]")
    out[order.to_numpy()] = slots
    return out


def days_earlier(dates: Any, scores: Any, positives: Any, tie_key: Any = None) -> float:
    """Mean of (real date - simulated date) in days over the inspections with a critical violation."""
    frame = _frame(dates, scores, positives, tie_key)
    if frame["positive"].sum() == 0:
        return float("nan")
    sim = simulated_dates(frame["date"], frame["score"], frame["tie"])
    diff = (frame["date"].to_numpy() - sim) / np.timedelta64(1, "D")
    return float(diff[frame["positive"].to_numpy() == 1].mean())


def first_half_days(dates: Any) -> set[pd.Timestamp]:
    """The days of the period's first half: cumulative inspections through the day < half of all."""
    d = pd.to_datetime(pd.Series(np.asarray(dates))).dt.normalize()
    per_day = d.value_counts().sort_index()
    cum = per_day.cumsum()
    return set(cum.index[cum < len(d) / 2])


def first_half_share(dates: Any, scores: Any | None, positives: Any, tie_key: Any = None) -> float:
    """Share of the critical findings made in the first half of the period.

    ``scores=None`` measures the real order; otherwise the simulated order of the scores.
    """
    frame = _frame(dates, np.zeros(len(np.asarray(dates))) if scores is None else scores, positives, tie_key)
    total = frame["positive"].sum()
    if total == 0:
        return float("nan")
    when = (
        frame["date"]
        if scores is None
        else pd.Series(simulated_dates(frame["date"], frame["score"], frame["tie"]))
    )
    first = first_half_days(frame["date"])
    in_first = when.isin(first).to_numpy()
    return float(frame["positive"].to_numpy()[in_first].sum() / total)


def benchmark_metrics(dates: Any, scores: Any, positives: Any, tie_key: Any = None) -> dict[str, float]:
    """AUC (and the other ranking metrics of ``evaluate_scores``), days earlier and first-half share."""
    m = evaluate_scores(np.asarray(positives), np.asarray(scores, dtype=float), k=100)
    real = first_half_share(dates, None, positives)
    share = first_half_share(dates, scores, positives, tie_key)
    return {
        "auc": m["auc"],
        "auc_pr": m["auc_pr"],
        "lift_at_10pct": m["lift_at_10pct"],
        "days_earlier": days_earlier(dates, scores, positives, tie_key),
        "first_half_share": share,
        "first_half_share_real": real,
        "first_half_gain": share / real - 1.0 if real else float("nan"),
        "n": m["n"],
        "positives": m["positives"],
    }


def fairness_table(frame: pd.DataFrame, group_col: str, score_col: str = "score") -> pd.DataFrame:
    """Per group (inspector or district): size, critical rate, mean score, AUC, and how the model moves it.

    ``frame``: ``date``, ``label``, ``Inspection_ID``, the group and the score. ``first_half_real`` /
    ``first_half_model``: the group's share of inspections falling in the period's first half in the real
    and in the model's order; a model that only learned "inspector X finds more" pulls X's whole caseload
    forward, which this shows. ``days_earlier``: mean days gained on the group's critical findings.
    """
    base = metrics_by_group(frame, group_col, label_col="label", score_col=score_col, k=10)
    sim = simulated_dates(frame["date"], frame[score_col], frame["Inspection_ID"])
    first = first_half_days(frame["date"])
    work = pd.DataFrame(
        {
            group_col: frame[group_col].to_numpy(),
            "real_first": frame["date"].isin(first).to_numpy(),
            "model_first": pd.Series(sim).isin(first).to_numpy(),
            "gain": (frame["date"].to_numpy() - sim) / np.timedelta64(1, "D"),
            "label": frame["label"].to_numpy(),
        }
    )
    agg = work.groupby(group_col, dropna=False).agg(
        first_half_real=("real_first", "mean"), first_half_model=("model_first", "mean")
    )
    gains = work[work["label"] == 1].groupby(group_col, dropna=False)["gain"].mean().rename("days_earlier")
    out = base.set_index(group_col)[["n", "positives", "base_rate", "mean_score", "auc"]]
    out = out.join(agg).join(gains).reset_index()
    return out


def within_group_auc(y_true: Any, scores: Any, groups: Any) -> float:
    """AUC inside each group, averaged with the groups' critical findings as weights.

    Ranking inspections across inspectors mostly sorts the inspectors; this says how well a score ranks
    the inspections one inspector (or one district) does. Groups with a single class are left out.
    """
    frame = pd.DataFrame(
        {
            "y": np.asarray(y_true, dtype=int),
            "s": np.asarray(scores, dtype=float),
            "g": np.asarray(groups, dtype=object),
        }
    )
    aucs, weights = [], []
    for _, part in frame.groupby("g", dropna=False):
        if part["y"].nunique() == 2:
            aucs.append(evaluate_scores(part["y"], part["s"], k=1)["auc"])
            weights.append(part["y"].sum())
    return float(np.average(aucs, weights=weights)) if aucs else float("nan")
