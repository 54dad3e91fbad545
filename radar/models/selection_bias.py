"""Honest evaluation on random draws: Horvitz-Thompson estimates next to the raw figures of every inspection.

Violations are observed only where someone inspected, and most inspections are not random: targeted checks
follow complaints, and a risk-stratified double-random plan draws risky entities more often. A problem rate
or a model metric computed on all inspections therefore describes the inspected, not the population, and
flatters the model that chose them. The random draws of a plan record each entity's inclusion probability
``pi``: weighting every randomly drawn inspection by ``1 / pi`` makes the sample stand for the population it
was drawn from (Horvitz-Thompson; ratios use the Hajek form, weighted total over weighted count). The
difference raw minus weighted is the selection bias of the raw figure.

Pure functions on pandas and numpy, no Spark. ``precision_at_k`` counts ``k`` entities of the population:
with weights, an inspection of weight ``w`` stands for ``w`` entities, so the riskiest ``k`` entities are those
whose cumulative weight in score order reaches ``k`` (tied scores share the cut at their group's rate).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from radar.models.evaluate import LIFT_SHARE, SingleClassWarning, pr_auc

ArrayLike = Sequence[float] | np.ndarray | pd.Series
METRICS = ("problem_rate", "auc_pr", "lift_at_10pct", "precision_at_k")


def _check(y: ArrayLike, s: ArrayLike, w: ArrayLike | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_, s_ = np.asarray(y, dtype=float), np.asarray(s, dtype=float)
    w_ = np.ones_like(y_) if w is None else np.asarray(w, dtype=float)
    if not (y_.shape == s_.shape == w_.shape) or y_.ndim != 1:
        raise ValueError("outcome, score and weight must be 1-d of equal length")
    if np.isnan(s_).any() or np.isnan(w_).any() or (w_ <= 0).any():
        raise ValueError("scores must be known and weights positive")
    if not np.isin(y_, (0.0, 1.0)).all():
        raise ValueError("the outcome must hold only 0 and 1")
    return y_, s_, w_


def inverse_inclusion_weights(inclusion_probability: ArrayLike) -> np.ndarray:
    """Horvitz-Thompson weights ``1 / pi``; every probability must lie in (0, 1]."""
    pi = np.asarray(inclusion_probability, dtype=float)
    if np.isnan(pi).any() or (pi <= 0).any() or (pi > 1).any():
        raise ValueError("inclusion probabilities must lie in (0, 1] (a random draw without one cannot be weighted)")
    return 1.0 / pi


def weighted_rate(y_true: ArrayLike, weight: ArrayLike | None = None) -> float:
    """The (Hajek) estimate of the population's problem rate: sum of w*y over sum of w."""
    y, _, w = _check(y_true, np.zeros(len(np.asarray(y_true))), weight)
    return float(np.sum(w * y) / np.sum(w)) if y.size else math.nan


def weighted_precision_at_k(y_true: ArrayLike, y_score: ArrayLike, k: float, weight: ArrayLike | None = None) -> float:
    """Share of problems among the ``k`` riskiest entities, each inspection standing for ``weight`` entities.

    Without weights this is the plain precision among the ``k`` highest-scored rows. A group of tied scores
    straddling the cut enters with the fraction of its weight that fits, at its own rate.
    """
    y, s, w = _check(y_true, y_score, weight)
    if k <= 0:
        raise ValueError("k must be positive")
    if y.size == 0:
        return math.nan
    frame = pd.DataFrame({"s": s, "w": w, "wy": w * y}).groupby("s", sort=True)[["w", "wy"]].sum()
    frame = frame.iloc[::-1]  # highest scores first
    before = frame["w"].cumsum().shift(fill_value=0.0).to_numpy()
    share = np.clip((k - before) / frame["w"].to_numpy(), 0.0, 1.0)  # fraction of each tie group inside the cut
    taken = float(np.sum(share * frame["w"].to_numpy()))
    return float(np.sum(share * frame["wy"].to_numpy()) / taken)


def weighted_lift_at(
    y_true: ArrayLike, y_score: ArrayLike, share: float = LIFT_SHARE, weight: ArrayLike | None = None
) -> float:
    """Problem rate among the riskiest ``share`` of the (weighted) population over the overall rate."""
    y, s, w = _check(y_true, y_score, weight)
    if not 0 < share <= 1:
        raise ValueError("share must lie in (0, 1]")
    base = float(np.sum(w * y) / np.sum(w)) if y.size else 0.0
    if base == 0:
        warnings.warn("weighted_lift_at: no problem in the slice; returning NaN", SingleClassWarning, stacklevel=2)
        return math.nan
    return weighted_precision_at_k(y, s, share * float(np.sum(w)), w) / base


def inspection_metrics(
    y_true: ArrayLike, y_score: ArrayLike, k: float, weight: ArrayLike | None = None
) -> dict[str, float]:
    """Problem rate, AUC-PR, lift@10% and precision@k of one score on a set of inspections (weighted or not)."""
    y, s, w = _check(y_true, y_score, weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleClassWarning)  # a NaN says it: no problem (or only problems) found
        return {
            "n": float(y.size),
            "problems": float(y.sum()),
            "population": float(w.sum()),
            "problem_rate": weighted_rate(y, w) if y.size else math.nan,
            "auc_pr": pr_auc(y, s, w) if y.size else math.nan,
            "lift_at_10pct": weighted_lift_at(y, s, LIFT_SHARE, w) if y.size else math.nan,
            "precision_at_k": weighted_precision_at_k(y, s, k, w) if y.size else math.nan,
        }


def selection_bias_report(
    inspections: pd.DataFrame,
    score_cols: Sequence[str],
    k: float,
    outcome_col: str = "problem_found",
    random_col: str = "random_draw",
    probability_col: str = "inclusion_probability",
) -> dict[str, Any]:
    """Raw and Horvitz-Thompson figures of each score, and the selection bias of the raw ones.

    ``inspections`` has one row per inspection in the evaluation window: the outcome (0/1), whether it came
    from a random draw, that draw's inclusion probability, and each score of the inspected entity. ``raw``
    uses every inspection unweighted; ``weighted`` uses only the random draws, weighted by 1/pi;
    ``selection_bias`` is raw minus weighted, per metric. ``k`` counts entities of the population: the
    weighted precision@k is the problem rate among the k riskiest entities (estimated), the raw one among the
    same share of the inspections (``k * inspections / population estimate``), as a naive analyst would
    cut the inspected list.
    """
    y = inspections[outcome_col].astype(float).to_numpy()
    rand = inspections[random_col].astype(bool).to_numpy()
    w = inverse_inclusion_weights(inspections.loc[rand, probability_col])
    out: dict[str, Any] = {
        "inspections": len(inspections),
        "random_draws": int(rand.sum()),
        "population_estimate": round(float(w.sum()), 1),
        "k": k,
    }
    for col in score_cols:
        s = inspections[col].astype(float).to_numpy()
        raw = inspection_metrics(y, s, max(1.0, k * len(y) / float(w.sum())))
        weighted = inspection_metrics(y[rand], s[rand], k, w)
        out[col] = {
            "raw": {m: _round(raw[m]) for m in METRICS},
            "weighted": {m: _round(weighted[m]) for m in METRICS},
            "selection_bias": {m: _round(raw[m] - weighted[m]) for m in METRICS},
        }
    return out


def _round(x: float) -> float:
    return round(float(x), 4) if not math.isnan(x) else math.nan
