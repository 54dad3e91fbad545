"""The calibrated match model: a logistic regression over the pair features of :mod:`radar.resolve.compare`.

It is fitted on every run from the records the exact rules linked by identifier: each such record, its code
set aside, is blocked and compared like an unlinked one; its candidate pairs are positives (the entity its
code names) and negatives (the other candidates). A share of them (``orphan_rate``) lose their true entity
from the candidates, as records of entities missing from the registry do, so that a best-looking candidate
is not taken for granted. The model is a few dozen numbers: it travels to the executors inside the scoring
function and is published with the run's figures, with each link's top reasons.

A second stage (:func:`fit_rival_model`) then weighs each candidate against the record's others: its
first-stage log-odds, its lead over the runner-up, whether it is the best, how many candidates there are and
how many come close; and, for the best candidate only, how common its name is, how far its name leads, how many
records used the name for it and whether the place was left out of the name. The first stage cannot tell a
name shared by many entities from a shop sign that brought up sixty operators of one surname; the lead can: a
candidate that clearly stands out among many is accepted, one of several close ones is not.

The second stage may also be gradient-boosted trees (:func:`fit_gbm_model`, ``second_stage.kind: gbm``) over the
same out-of-fold rival features (and the first-stage features with ``gbm.first_stage_features``): they give the
probability, the logistic second stage still gives the reasons.
"""

from __future__ import annotations

import itertools
import zlib
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from radar.resolve.compare import FEATURE_LABELS, FEATURES, RIVAL_FEATURES, rivals


@dataclass(frozen=True)
class MatchModel:
    """Weights of the logistic match model (scikit-learn style ``predict_proba``)."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def logit(self, X: pd.DataFrame) -> np.ndarray:
        """The log-odds of a match for each row of ``X`` (its columns include ``features``)."""
        m = X[list(self.features)].to_numpy(dtype=float)
        return m @ np.asarray(self.coef, dtype=float) + self.intercept

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(match) of each row."""
        return 1.0 / (1.0 + np.exp(-self.logit(X)))

    def reasons(self, row: dict[str, Any], top: int = 4) -> list[dict[str, Any]]:
        """The features that moved one pair's log-odds most, with their Chinese labels (waterfall-style)."""
        parts = [
            (f, float(row.get(f, 0.0)) * c) for f, c in zip(self.features, self.coef, strict=True) if row.get(f)
        ]
        parts.sort(key=lambda x: -abs(x[1]))
        return [
            {"feature": f, "label": FEATURE_LABELS.get(f, f), "contribution": round(v, 3)} for f, v in parts[:top]
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (published in the run report)."""
        return {
            "features": list(self.features),
            "coef": [round(c, 6) for c in self.coef],
            "intercept": round(self.intercept, 6),
            "meta": self.meta,
        }


def fit_match_model(
    X: pd.DataFrame, y: np.ndarray, c: float, seed: int, weights: np.ndarray | None = None,
    features: list[str] | tuple[str, ...] = tuple(FEATURES),
) -> MatchModel:
    """Fit the logistic model on labelled pairs (``X`` has every column of ``features``); ``weights`` per pair."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y, dtype=int)
    if y.min(initial=1) == y.max(initial=0):
        raise ValueError("the match model needs both matching and non-matching pairs to learn from")
    lr = LogisticRegression(C=c, max_iter=5000, random_state=seed)
    lr.fit(X[list(features)].to_numpy(dtype=float), y, sample_weight=weights)
    return MatchModel(
        tuple(features),
        tuple(float(v) for v in lr.coef_[0]),
        float(lr.intercept_[0]),
        {"pairs": len(y), "positives": int(y.sum())},
    )


def record_folds(rids: pd.Series, folds: int, seed: int) -> np.ndarray:
    """A fold number in [0, folds) for each pair, the same for every pair of a record (by hash of its id)."""
    return np.array([zlib.crc32(f"{seed}|{r}".encode()) % folds for r in rids], dtype=int)


def out_of_fold_rivals(
    X: pd.DataFrame, y: np.ndarray, c: float, seed: int, weights: np.ndarray, *, folds: int, cap: float, gap: float,
    pool: Executor | None = None,
) -> pd.DataFrame:
    """``X`` (rid and FEATURES) with the second-stage features (:func:`radar.resolve.compare.rivals`) of
    first-stage log-odds taken out of fold: the first stage fitted without the record's fold, so that they are
    as sure as they are on records the first stage never saw. ``pool``: an executor the folds are fitted on side
    by side (each fit stands alone, so the result is the same). Raises ValueError when a fold's first stage
    cannot be fitted (one class left)."""
    y = np.asarray(y, dtype=int)
    w = np.asarray(weights, dtype=float)
    fold = record_folds(X["rid"], folds, seed)

    def fold_logit(k: int) -> tuple[np.ndarray, np.ndarray]:
        held = fold == k
        return held, fit_match_model(X[~held], y[~held], c, seed, w[~held]).logit(X[held])

    present = [k for k in range(folds) if (fold == k).any()]
    z = np.zeros(len(X))
    for held, logit in pool.map(fold_logit, present) if pool is not None else map(fold_logit, present):
        z[held] = logit
    return rivals(X, z, cap, gap)


def fit_rival_model(
    X: pd.DataFrame, y: np.ndarray, c: float, seed: int, weights: np.ndarray, *, folds: int, cap: float, gap: float,
    oof: pd.DataFrame | None = None,
) -> MatchModel:
    """The second stage: a logistic model over how each candidate's first-stage log-odds stand against the
    record's other candidates (:data:`radar.resolve.compare.RIVAL_FEATURES`), fitted on the pairs the first
    stage learns from (``X`` has rid and FEATURES), their first-stage log-odds out of fold
    (:func:`out_of_fold_rivals`; ``oof``: already computed)."""
    if oof is None:
        oof = out_of_fold_rivals(X, y, c, seed, weights, folds=folds, cap=cap, gap=gap)
    model = fit_match_model(oof, y, c, seed, np.asarray(weights, dtype=float), features=RIVAL_FEATURES)
    model.meta.update(folds=folds, logit_cap=cap, close_gap=gap)
    return model


def gbm_features(first_stage_features: bool) -> tuple[str, ...]:
    """What the gradient-boosted second stage reads: the rival features, and (``first_stage_features``) every
    first-stage feature too."""
    extra = [f for f in FEATURES if f not in RIVAL_FEATURES] if first_stage_features else []
    return (*RIVAL_FEATURES, *extra)


@dataclass(frozen=True)
class GbmModel:
    """The gradient-boosted second stage: a fitted scikit-learn ``HistGradientBoostingClassifier`` over
    ``features``. Its probability of a row depends on that row's features alone (the record's rivals are in them),
    so it is the same however the rows are batched or partitioned; it is evaluated single-threaded."""

    features: tuple[str, ...]
    estimator: Any = field(compare=False, repr=False)
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(match) of each row of ``X`` (its columns include ``features``; a missing value is allowed)."""
        from threadpoolctl import threadpool_limits

        if len(X) == 0:
            return np.zeros(0)
        m = X[list(self.features)].to_numpy(dtype=float)
        with threadpool_limits(1):
            return self.estimator.predict_proba(m)[:, 1].astype(float)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (published in the run report): features, settings and figures, not the trees."""
        return {"kind": "gbm", "features": list(self.features), "meta": self.meta}


def fit_gbm_model(
    oof: pd.DataFrame, y: np.ndarray, weights: np.ndarray, settings: Any, seed: int
) -> GbmModel:
    """The gradient-boosted second stage (``settings``: :class:`radar.config.GbmSettings`), fitted on the same
    out-of-fold rival features as the logistic one (``oof``: :func:`out_of_fold_rivals`), single-threaded and
    seeded, without early stopping (no random validation split): the same pairs give the same trees. Raises
    ValueError when the pairs are all of one class."""
    import time

    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    y = np.asarray(y, dtype=int)
    if y.min(initial=1) == y.max(initial=0):
        raise ValueError("the second stage needs both matching and non-matching pairs to learn from")
    features = gbm_features(settings.first_stage_features)
    params = {
        "max_iter": settings.max_iter, "learning_rate": settings.learning_rate,
        "max_leaf_nodes": settings.max_leaf_nodes, "min_samples_leaf": settings.min_samples_leaf,
        "l2_regularization": settings.l2_regularization,
    }
    est = HistGradientBoostingClassifier(**params, early_stopping=False, random_state=seed)
    t0, c0 = time.perf_counter(), time.process_time()
    with threadpool_limits(1):
        est.fit(oof[list(features)].to_numpy(dtype=float), y, sample_weight=np.asarray(weights, dtype=float))
    return GbmModel(features, est, {"settings": {**params, "seed": seed, "early_stopping": False},
                                    "pairs": len(y), "positives": int(y.sum()), "trees": int(est.n_iter_),
                                    "fit_seconds": round(time.perf_counter() - t0, 2),
                                    "fit_cpu_seconds": round(time.process_time() - c0, 2)})


def calibration_table(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted against observed match rates in equal-width probability bins (a reliability table)."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    out = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in itertools.pairwise(edges):
        m = (p >= lo) & ((p < hi) | (hi == 1.0))
        if m.any():
            out.append({"from": round(lo, 2), "to": round(hi, 2), "pairs": int(m.sum()),
                        "predicted": round(float(p[m].mean()), 4), "observed": round(float(y[m].mean()), 4)})
    return out
