"""Drift: PSI with thresholds that account for sample size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radar.models.drift import feature_drift, psi, psi_threshold


def test_same_distribution_does_not_alarm_and_a_shift_does() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.poisson(2, 2000).astype(float)})
    same = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.poisson(2, 2000).astype(float)})
    shifted = pd.DataFrame({"a": rng.normal(1.0, 1.0, size=2000), "b": rng.poisson(2, 2000).astype(float)})
    assert not feature_drift(ref, same, ["a", "b"])["drifted"].any()
    out = feature_drift(ref, shifted, ["a", "b"])
    assert out.loc[0, "feature"] == "a" and bool(out.loc[0, "drifted"])  # largest PSI first
    assert not bool(out.set_index("feature").loc["b", "drifted"])


def test_small_samples_raise_the_threshold_instead_of_false_alarms() -> None:
    big = psi_threshold(100_000, 100_000, 10, 0.25, 0.999)
    small = psi_threshold(30, 30, 10, 0.25, 0.999)
    assert big == 0.25 and small > 0.25
    rng = np.random.default_rng(2)
    alarms = 0
    for _ in range(50):  # same distribution, tiny samples: PSI is noisy but the threshold holds
        a, b = rng.normal(size=30), rng.normal(size=30)
        value, bins = psi(a, b)
        alarms += value > psi_threshold(30, 30, bins, 0.25, 0.999)
    assert alarms <= 2


def test_missing_values_are_a_bin_of_their_own() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=1000)
    cur = ref.copy()
    cur[: 500] = np.nan
    value, _ = psi(ref, cur)
    assert value > 0.5


def test_hand_computed_psi() -> None:
    # two bins split at 0.5: reference 50/50, current 80/20 -> PSI = 0.3*ln(0.8/0.5) + (-0.3)*ln(0.2/0.5)
    ref = np.array([0.0] * 50 + [1.0] * 50)
    cur = np.array([0.0] * 80 + [1.0] * 20)
    value, _ = psi(ref, cur, bins=2)
    expected = 0.3 * np.log(0.8 / 0.5) - 0.3 * np.log(0.2 / 0.5)
    assert abs(value - expected) < 0.02  # the half-count smoothing of each bin moves it slightly
