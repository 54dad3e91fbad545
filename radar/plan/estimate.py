"""Design-based estimates from random-draw results: how many violators the whole population holds.

Targeted inspections find violations where the model looks, so their hit rate says nothing about the
population (DESIGN §6). A random draw with recorded inclusion probabilities does: weighting each checked
entity by 1 / pi_i (Horvitz-Thompson) gives an unbiased estimate of the population total.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from radar.errors import RadarError
from radar.plan.population import text


def _found_flags(found: Any) -> np.ndarray:
    values = pd.Series(found).tolist()
    flags = []
    for v in values:
        t = text(v).lower()
        if t in {"true", "1", "1.0", "yes", "是"}:
            flags.append(1.0)
        elif t in {"false", "0", "0.0", "no", "否"}:
            flags.append(0.0)
        elif t == "":
            raise RadarError(
                "horvitz_thompson: a drawn entity has no result; every drawn entity's result is needed "
                "(dropping unchecked ones biases the estimate)"
            )
        else:
            raise RadarError(f"horvitz_thompson: result '{v}' is not true/false")
    return np.array(flags, dtype=float)


def _with_replacement_variance(u: np.ndarray) -> float:
    """Variance of sum(u) treating the draw as with replacement: conservative for sampling without."""
    n = len(u)
    if n < 2:
        return math.nan
    return float(n / (n - 1) * np.sum((u - u.mean()) ** 2))


def _stratified_variance(y: np.ndarray, pi: np.ndarray, stratum: np.ndarray) -> tuple[float, int]:
    """Exact unbiased variance estimate of the HT total under stratified simple random sampling.

    Returns the variance and the number of strata where it cannot be estimated (one entity drawn out
    of several); those add nothing, so the standard error is then understated.
    """
    variance = 0.0
    unestimable = 0
    for h in pd.unique(stratum):
        in_h = stratum == h
        pi_h = pi[in_h]
        if not np.allclose(pi_h, pi_h[0], rtol=1e-12, atol=0.0):
            raise RadarError(f"horvitz_thompson: inclusion probabilities differ inside stratum '{h}'")
        n_h = int(in_h.sum())
        f_h = float(pi_h[0])
        population_h = n_h / f_h
        if f_h >= 1.0:
            continue  # a census stratum has no sampling error
        if n_h < 2:
            unestimable += 1
            continue
        s2 = float(np.var(y[in_h], ddof=1))
        variance += population_h**2 * (1.0 - f_h) * s2 / n_h
    return variance, unestimable


def horvitz_thompson(
    found: Any,
    inclusion_probability: Any,
    stratum: Any | None = None,
    level: float = 0.95,
) -> dict[str, Any]:
    """Estimate how many entities in the population violate, and the violation rate, from a random draw.

    ``found``: per checked entity whether a violation was found (booleans, aligned by position with
    ``inclusion_probability``). Pass ``stratum`` (the plan's ``stratum`` column) for the exact variance
    of a stratified draw; without it the variance treats the draw as with replacement (conservative).

    Returns ``checked``, ``found``, ``population_estimate`` (sum of 1/pi), ``violations_estimate``
    (sum of y/pi, unbiased), ``violations_se``, ``violations_ci`` and the same for ``violation_rate``
    (violations / population; unbiased when strata are whole, since the population estimate is then
    exact), ``level``, ``variance_method`` and ``strata_without_variance``.
    """
    y = _found_flags(found)
    pi = pd.to_numeric(pd.Series(inclusion_probability), errors="coerce").to_numpy(dtype=float)
    if len(y) != len(pi):
        raise RadarError(f"horvitz_thompson: {len(y)} results but {len(pi)} inclusion probabilities")
    if not len(y):
        raise RadarError("horvitz_thompson: no checked entities")
    if np.isnan(pi).any() or (pi <= 0).any() or (pi > 1).any():
        raise RadarError("horvitz_thompson: every inclusion probability must lie in (0, 1]")

    weights = 1.0 / pi
    total = float(np.sum(y * weights))
    population = float(np.sum(weights))
    rate = total / population

    unestimable = 0
    if stratum is None:
        method = "with_replacement_approximation"
        var_total = _with_replacement_variance(y * weights)
        # Linearised ratio: the rate's variance is that of sum((y - rate) / pi), over population^2.
        var_rate = _with_replacement_variance((y - rate) * weights) / population**2
    else:
        labels = np.array([text(s) for s in pd.Series(stratum).tolist()], dtype=object)
        if len(labels) != len(y):
            raise RadarError(f"horvitz_thompson: {len(y)} results but {len(labels)} strata")
        method = "stratified_srswor"
        var_total, unestimable = _stratified_variance(y, pi, labels)
        # Whole strata make sum(1/pi) the exact population, so the rate is the total over a constant.
        var_rate = var_total / population**2

    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    se_total = math.sqrt(var_total) if not math.isnan(var_total) else math.nan
    se_rate = math.sqrt(var_rate) if not math.isnan(var_rate) else math.nan
    return {
        "checked": len(y),
        "found": int(y.sum()),
        "population_estimate": population,
        "violations_estimate": total,
        "violations_se": se_total,
        "violations_ci": (max(0.0, total - z * se_total), min(population, total + z * se_total)),
        "violation_rate": rate,
        "violation_rate_se": se_rate,
        "violation_rate_ci": (max(0.0, rate - z * se_rate), min(1.0, rate + z * se_rate)),
        "level": level,
        "variance_method": method,
        "strata_without_variance": unestimable,
    }
