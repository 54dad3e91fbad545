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
    cr, cc = _counts(ref, edges), _counts(cur, edges)
    keep = (cr + cc) > 0  # bins nobody falls in (e.g. no missing values at all) do not count
    cr, cc = cr[keep] + SMOOTHING, cc[keep] + SMOOTHING
    p, q = cr / cr.sum(), cc / cc.sum()
    return float(np.sum((q - p) * np.log(q / p))), int(keep.sum())


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
