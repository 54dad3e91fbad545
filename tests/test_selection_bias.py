"""Horvitz-Thompson evaluation on random draws, on a population small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from radar.models.selection_bias import (
    inverse_inclusion_weights,
    selection_bias_report,
    weighted_lift_at,
    weighted_precision_at_k,
    weighted_rate,
)


def _inspections() -> pd.DataFrame:
    """A population of 100: 10 risky-looking entities (score 0.9, 5 with a problem) and 90 others (score 0.1,
    9 with a problem): the true problem rate is 14 %.

    The random draw takes every risky entity (pi = 1) and 10 of the others (pi = 1/9), one with a problem;
    5 targeted checks of risky entities all find a problem (targeted checks have no inclusion probability).
    """
    rows = [(1, 0.9, True, 1.0)] * 5 + [(0, 0.9, True, 1.0)] * 5
    rows += [(1, 0.1, True, 1 / 9)] + [(0, 0.1, True, 1 / 9)] * 9
    rows += [(1, 0.9, False, math.nan)] * 5
    return pd.DataFrame(rows, columns=["problem_found", "risk_score", "random_draw", "inclusion_probability"])


def test_weighted_figures_recover_the_population_and_raw_ones_are_biased() -> None:
    out = selection_bias_report(_inspections(), ["risk_score"], k=10)
    assert out["inspections"] == 25 and out["random_draws"] == 20 and out["population_estimate"] == 100.0
    m = out["risk_score"]
    # the population's truth: 14 problems in 100 entities; among the 10 riskiest, 5
    assert m["weighted"]["problem_rate"] == pytest.approx(0.14)
    assert m["weighted"]["precision_at_k"] == pytest.approx(0.5)
    assert m["weighted"]["lift_at_10pct"] == pytest.approx(0.5 / 0.14, abs=1e-3)
    # average precision: recall 5/14 at precision 0.5, then the remaining 9/14 at precision 0.14
    assert m["weighted"]["auc_pr"] == pytest.approx(5 / 14 * 0.5 + 9 / 14 * 0.14, abs=1e-4)
    # what every inspection shows unweighted: 11 problems in 25, 10 of the 15 high scores; precision@k takes
    # the same 10 % of the inspected list (2.5 inspections, all among the tied high scores)
    assert m["raw"]["problem_rate"] == pytest.approx(11 / 25)
    assert m["raw"]["precision_at_k"] == pytest.approx(10 / 15, abs=1e-4)
    out40 = selection_bias_report(_inspections(), ["risk_score"], k=40)["risk_score"]
    # 40 % of the population: the 10 risky entities and 30 of the others; 40 % of the 25 inspections: 10
    # of the 15 high scores (tied, rate 2/3), not every inspection
    assert out40["weighted"]["precision_at_k"] == pytest.approx((5 + 30 * 0.1) / 40)
    assert out40["raw"]["precision_at_k"] == pytest.approx(10 / 15, abs=1e-4)
    assert m["selection_bias"]["problem_rate"] == pytest.approx(11 / 25 - 0.14, abs=1e-4)
    assert m["selection_bias"]["precision_at_k"] == pytest.approx(10 / 15 - 0.5, abs=1e-3)


def test_ignoring_the_weights_gives_a_different_answer() -> None:
    df = _inspections()
    rnd = df[df["random_draw"]]
    w = inverse_inclusion_weights(rnd["inclusion_probability"])
    assert weighted_rate(rnd["problem_found"], w) == pytest.approx(0.14)
    assert weighted_rate(rnd["problem_found"]) == pytest.approx(0.30)  # random draws, unweighted: still biased
    assert weighted_precision_at_k(rnd["problem_found"], rnd["risk_score"], 10, w) == pytest.approx(0.5)
    # unweighted the 10 highest rows are the same, but lift divides by the biased base rate
    assert weighted_lift_at(rnd["problem_found"], rnd["risk_score"], 0.1, w) == pytest.approx(0.5 / 0.14)
    assert weighted_lift_at(rnd["problem_found"], rnd["risk_score"], 0.1) == pytest.approx(0.5 / 0.3, abs=1e-3)


def test_a_weighted_cut_through_a_tie_takes_the_groups_rate() -> None:
    y = np.array([1, 0, 1, 0])
    s = np.array([0.9, 0.5, 0.5, 0.1])
    w = np.array([2.0, 3.0, 1.0, 4.0])
    # k=4: the 0.9 row (2 entities, all problems) + half of the tied group (4 entities, rate 1/4)
    assert weighted_precision_at_k(y, s, 4, w) == pytest.approx((2 + 2 * 0.25) / 4)
    # the order of the rows does not matter
    order = [3, 2, 1, 0]
    assert weighted_precision_at_k(y[order], s[order], 4, w[order]) == pytest.approx(0.625)


def test_a_random_draw_needs_a_probability_in_0_1() -> None:
    with pytest.raises(ValueError, match="inclusion probabilities"):
        inverse_inclusion_weights([0.5, 0.0])
    bad = _inspections()
    bad.loc[0, "inclusion_probability"] = math.nan
    with pytest.raises(ValueError, match="inclusion probabilities"):
        selection_bias_report(bad, ["risk_score"], k=10)
