"""Grades A/B/C/D from risk scores, then the policy lists' floors.

A is the lowest risk, D the highest. ``assign_grades`` cuts the scores so the grade mix matches
``grading.shares``; ``apply_floors`` lifts an entity on a policy list (serious violation, dishonest debtor,
abnormal operations) to at least its list's grade, whatever the model says, and records why.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

RISK_ORDER = ("D", "C", "B", "A")  # highest risk first: the order grades are filled in
SEVERITY = {"A": 0, "B": 1, "C": 2, "D": 3}
MODEL_REASON = "model"


def _check_shares(shares: Mapping[str, float]) -> None:
    if set(shares) != set(RISK_ORDER):
        raise ValueError(f"shares need exactly the grades {', '.join(RISK_ORDER)} (got {sorted(shares)})")
    if any(s < 0 for s in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-6:
        raise ValueError("shares must be >= 0 and sum to 1")


def assign_grades(scores: pd.Series, shares: Mapping[str, float]) -> pd.Series:
    """Grade by score rank so the mix matches ``shares`` (e.g. ``{D: .02, C: .08, B: .25, A: .65}``).

    Entities are ordered by score, highest first; the first ``round(n * share_D)`` positions are D, up to
    ``round(n * (share_D + share_C))`` C, and so on (cumulative rounding, so the counts sum to n).
    Ties: entities with the same score always get the same grade, the grade of the middle position of
    their tie group; the mix then deviates from the shares by at most half a tie group at each cut.
    A NaN score (not scored) gets no grade (<NA>).
    """
    _check_shares(shares)
    out = pd.Series(pd.NA, index=scores.index, dtype="object", name="grade")
    values = scores.to_numpy(dtype=float)
    scored = np.flatnonzero(~np.isnan(values))
    n = scored.size
    if n == 0:
        return out
    # descending score; stable so the result is the same for the same input order
    order = scored[np.argsort(-values[scored], kind="stable")]
    bounds = np.rint(np.cumsum([shares[g] for g in RISK_ORDER]) * n).astype(int)
    bounds[-1] = n
    by_position = np.asarray(RISK_ORDER)[np.searchsorted(bounds, np.arange(n), side="right")]
    sorted_scores = values[order]
    # tie groups: runs of equal scores in sorted order
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], n]
    group_grade = by_position[(starts + ends - 1) // 2]
    grades = np.repeat(group_grade, ends - starts)
    out.iloc[order] = grades
    return out


def apply_floors(grades: pd.Series, flags: pd.DataFrame, floors: Mapping[str, str]) -> pd.DataFrame:
    """Lift each entity to at least the grade of every policy list it is on.

    ``flags`` is aligned with ``grades`` (same index) and has one boolean column per key of ``floors``
    (``{"serious_violation": "D", "dishonest_debtor": "C", ...}``); NaN counts as not listed.
    Returns ``grade`` (final), ``grade_reason`` (``"model"``, or ``"floor:<list>"`` when a list raised the
    grade; the most severe floor wins, the first in ``floors`` among equals) and ``model_grade``.
    """
    missing = [f for f in floors if f not in flags.columns]
    if missing:
        raise ValueError(f"flags lack the policy-list columns: {', '.join(missing)}")
    bad = {f: g for f, g in floors.items() if g not in SEVERITY}
    if bad:
        raise ValueError(f"floors name unknown grades: {bad}")
    flags = flags.reindex(grades.index)
    # a copy: under pandas copy-on-write to_numpy() may hand out a read-only view
    final = grades.map(SEVERITY).to_numpy(dtype="float64", copy=True)  # NaN for ungraded
    reason = np.where(np.isnan(final), None, MODEL_REASON).astype(object)
    # apply the most severe floors first so, among equal floors, the first listed keeps the reason
    for name, floor in sorted(floors.items(), key=lambda kv: -SEVERITY[kv[1]]):
        on_list = flags[name].fillna(False).astype(bool).to_numpy()
        level = SEVERITY[floor]
        lifted = on_list & (np.isnan(final) | (final < level))
        final[lifted] = level
        reason[lifted] = f"floor:{name}"
    by_level = {v: k for k, v in SEVERITY.items()}
    final_grade = pd.Series(
        [by_level[int(v)] if not np.isnan(v) else pd.NA for v in final], index=grades.index, dtype="object"
    )
    return pd.DataFrame(
        {"grade": final_grade, "grade_reason": reason, "model_grade": grades.astype("object")}
    )


def grade_mix(grades: pd.Series) -> pd.Series:
    """Share of graded entities in each grade, A to D."""
    counts = grades.dropna().value_counts()
    total = counts.sum()
    return pd.Series({g: counts.get(g, 0) / total if total else np.nan for g in ("A", "B", "C", "D")})
