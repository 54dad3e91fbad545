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


def test_stored_reference_bins_give_the_psi_of_the_raw_samples() -> None:
    import json

    from radar.models.drift import bin_counts, drift_from_reference, reference_bins

    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.poisson(1, 3000).astype(float)})
    ref.loc[:99, "b"] = np.nan
    cur = pd.DataFrame({"a": rng.normal(0.8, 1.0, size=1000), "b": rng.poisson(1, 1000).astype(float)})
    stored = json.loads(json.dumps(reference_bins(ref, ["a", "b", "not_there"], bins=10)))  # survives JSON
    assert set(stored["features"]) == {"a", "b"} and stored["n_reference"] == 3000
    # counted in two parts (as Spark partitions would) and summed
    counts = pd.concat([bin_counts(cur.iloc[:400], stored), bin_counts(cur.iloc[400:], stored)])
    counts = counts.groupby(["feature", "bin"], as_index=False)["count"].sum()
    out = drift_from_reference(stored, counts, n_current=len(cur)).set_index("feature")
    for f in ("a", "b"):
        expected, _ = psi(ref[f].to_numpy(), cur[f].to_numpy(), bins=10)
        assert abs(out.loc[f, "psi"] - expected) < 1e-4
    assert bool(out.loc["a", "drifted"]) and not bool(out.loc["b", "drifted"])
    assert out.loc["a", "n_reference"] == 3000 and out.loc["a", "n_current"] == 1000


def test_weighted_reference_counts_undo_negative_presampling() -> None:
    from radar.models.drift import reference_bins

    # 100 rows of x=1 kept with weight 1 and 10 rows of x=0 standing for 100 (weight 10)
    ref = pd.DataFrame({"x": [1.0] * 100 + [0.0] * 10, "w": [1.0] * 100 + [10.0] * 10})
    stored = reference_bins(ref, ["x"], bins=2, weight_col="w")
    counts = stored["features"]["x"]["counts"]
    assert abs(counts[0] / sum(counts) - 0.5) < 1e-9  # half the population has x=0, not 1/11
    unweighted = reference_bins(ref, ["x"], bins=2)["features"]["x"]["counts"]
    assert abs(unweighted[0] / sum(unweighted) - 10 / 110) < 1e-9


def test_score_drift_flags_a_shifted_score_distribution() -> None:
    from radar.models.drift import score_drift

    rng = np.random.default_rng(5)
    prev = rng.beta(1, 20, 4000)
    assert not score_drift(prev, rng.beta(1, 20, 4000)).drifted
    moved = score_drift(prev, rng.beta(3, 20, 4000))
    assert moved.drifted and moved.feature == "risk_score" and moved.n_reference == 4000
