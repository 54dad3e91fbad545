"""Drift between the population a model was trained on and the one it scores: per-feature PSI and score drift.

The population stability index of a feature compares its distribution in a reference sample (the training
snapshots) with the current one over the reference's quantile bins:
``PSI = sum((cur - ref) * ln(cur / ref))``. With finite samples PSI is positive even when nothing changed:
under no drift ``PSI`` is approximately ``(1/n_ref + 1/n_cur) * chi2(bins - 1)`` (it is the symmetrised
Kullback-Leibler divergence of two multinomial samples). So the alarm threshold is the larger of the
conventional level (``psi_threshold``, e.g. 0.25) and the ``quantile`` of that null distribution: small
samples do not raise false alarms, large ones are held to the conventional level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

SMOOTHING = 0.5  # added to every bin count (Jeffreys): empty bins keep the log finite without exploding PSI
MIN_PER_BIN = 5  # fewer bins for small samples, so each expects at least this many observations


@dataclass(frozen=True)
class DriftResult:
    """Drift of one feature (or the score)."""

    feature: str
    psi: float
    threshold: float
    n_reference: int
    n_current: int
    bins: int
    drifted: bool


def _edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Quantile bin edges of the reference (distinct), open at both ends."""
    qs = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(qs)


def _counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Count of values per bin; missing values get a bin of their own (the last)."""
    missing = np.isnan(values)
    idx = np.searchsorted(edges, values[~missing], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return np.append(counts, missing.sum())


def psi(reference: Sequence[float], current: Sequence[float], bins: int = 10) -> tuple[float, int]:
    """The population stability index and the number of bins used (quantile bins of the reference)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    bins = max(2, min(bins, min(len(ref), len(cur)) // MIN_PER_BIN))
    finite = ref[~np.isnan(ref)]
    edges = _edges(finite, bins) if finite.size else np.array([])
    # bins nobody falls in (e.g. no missing values at all) do not count
    return psi_from_counts(_counts(ref, edges), _counts(cur, edges))


def psi_threshold(n_reference: int, n_current: int, bins: int, level: float, quantile: float) -> float:
    """The alarm threshold: the conventional ``level`` or the no-drift PSI's ``quantile``, whichever is larger."""
    if n_reference == 0 or n_current == 0:
        return float("inf")
    dof = max(bins - 1, 1)
    null = (1.0 / n_reference + 1.0 / n_current) * chi2.ppf(quantile, dof)
    return float(max(level, null))


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    bins: int = 10,
    level: float = 0.25,
    quantile: float = 0.999,
) -> pd.DataFrame:
    """PSI and the alarm of each feature present in both frames, largest PSI first."""
    rows = []
    for f in features:
        if f not in reference.columns or f not in current.columns:
            continue
        value, used = psi(reference[f].to_numpy(float), current[f].to_numpy(float), bins)
        n_ref, n_cur = len(reference), len(current)
        thr = psi_threshold(n_ref, n_cur, used, level, quantile)
        rows.append(DriftResult(f, round(value, 5), round(thr, 5), n_ref, n_cur, used, value > thr).__dict__)
    out = pd.DataFrame(rows, columns=list(DriftResult.__dataclass_fields__))
    return out.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- reference bins stored with a model
REFERENCE_FORMAT = 1  # version of the stored reference (``reference_bins``) layout


def psi_from_counts(reference_counts: Sequence[float], current_counts: Sequence[float]) -> tuple[float, int]:
    """PSI of two count vectors over the same bins (the last may be the missing-value bin) and the bins used.

    Bins nobody falls in do not count; every other bin gets the Jeffreys half count, as in :func:`psi`.
    """
    cr = np.asarray(reference_counts, dtype=float)
    cc = np.asarray(current_counts, dtype=float)
    if cr.shape != cc.shape:
        raise ValueError(f"reference and current counts need the same bins (got {cr.shape} and {cc.shape})")
    keep = (cr + cc) > 0
    if not keep.any() or cr.sum() == 0 or cc.sum() == 0:
        return 0.0, int(keep.sum())
    cr, cc = cr[keep] + SMOOTHING, cc[keep] + SMOOTHING
    p, q = cr / cr.sum(), cc / cc.sum()
    return float(np.sum((q - p) * np.log(q / p))), int(keep.sum())


def reference_bins(
    reference: pd.DataFrame, features: Sequence[str], bins: int = 10, weight_col: str | None = None
) -> dict:
    """The reference distribution of each feature, small enough to store with a model (JSON-ready).

    Per feature: the quantile edges of the reference (as :func:`psi` draws them) and the count of rows in
    each bin, the last bin holding missing values. With ``weight_col`` (e.g. the inverse sampling rate of
    pre-sampled negatives) the counts are weighted, scaled to the number of rows.
    """
    n = len(reference)
    used = max(2, min(bins, n // MIN_PER_BIN))
    weighted = weight_col is not None and weight_col in reference.columns
    w = reference[weight_col].to_numpy(float) if weighted else np.ones(n)
    scale = n / w.sum() if n and w.sum() > 0 else 1.0
    out: dict[str, dict] = {}
    for f in features:
        if f not in reference.columns:
            continue
        values = reference[f].to_numpy(float)
        finite = values[~np.isnan(values)]
        edges = _edges(finite, used) if finite.size else np.array([])
        counts = _weighted_counts(values, edges, w) * scale
        out[f] = {"edges": [float(e) for e in edges], "counts": [round(float(c), 6) for c in counts]}
    return {"format": REFERENCE_FORMAT, "bins": used, "n_reference": n, "features": out}


def _weighted_counts(values: np.ndarray, edges: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted count per bin (missing values last), like :func:`_counts`."""
    missing = np.isnan(values)
    idx = np.searchsorted(edges, values[~missing], side="right")
    counts = np.bincount(idx, weights=weights[~missing], minlength=len(edges) + 1)
    return np.append(counts, weights[missing].sum())


def bin_counts(current: pd.DataFrame, reference: dict) -> pd.DataFrame:
    """Counts of ``current`` rows in each stored reference bin: columns ``feature, bin, count``.

    Additive over row subsets, so Spark can run it per partition and sum the counts.
    """
    rows = []
    for f, ref in reference["features"].items():
        if f not in current.columns:
            continue
        counts = _counts(current[f].to_numpy(float), np.asarray(ref["edges"], dtype=float))
        rows.extend({"feature": f, "bin": i, "count": float(c)} for i, c in enumerate(counts) if c)
    return pd.DataFrame(rows, columns=["feature", "bin", "count"]).astype({"bin": "int64", "count": "float64"})


def drift_from_reference(
    reference: dict,
    current_counts: pd.DataFrame,
    n_current: int,
    level: float = 0.25,
    quantile: float = 0.999,
) -> pd.DataFrame:
    """PSI and alarm of each stored feature against the current bin counts (``bin_counts``, summed).

    The columns are those of :func:`feature_drift`; a feature with no current column is left out.
    """
    n_ref = int(reference["n_reference"])
    rows = []
    for f, ref in reference["features"].items():
        ref_counts = np.asarray(ref["counts"], dtype=float)
        cur = np.zeros_like(ref_counts)
        part = current_counts[current_counts["feature"] == f]
        np.add.at(cur, part["bin"].to_numpy(int), part["count"].to_numpy(float))
        if cur.sum() == 0:
            continue  # the feature is not in the current snapshot
        value, used = psi_from_counts(ref_counts, cur)
        thr = psi_threshold(n_ref, n_current, used, level, quantile)
        rows.append(DriftResult(f, round(value, 5), round(thr, 5), n_ref, n_current, used, value > thr).__dict__)
    out = pd.DataFrame(rows, columns=list(DriftResult.__dataclass_fields__))
    return out.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


def score_drift(
    previous: Sequence[float], current: Sequence[float], bins: int = 10, level: float = 0.25,
    quantile: float = 0.999, name: str = "risk_score",
) -> DriftResult:
    """Drift of the score distribution: this run's scores against the previous run's, PSI over its deciles."""
    prev, cur = np.asarray(previous, dtype=float), np.asarray(current, dtype=float)
    value, used = psi(prev, cur, bins)
    thr = psi_threshold(len(prev), len(cur), used, level, quantile)
    return DriftResult(name, round(value, 5), round(thr, 5), len(prev), len(cur), used, value > thr)
