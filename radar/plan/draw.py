"""Risk-stratified double-random draws (双随机): entities by lottery within strata, then inspectors.

The procedure (``DRAW_METHOD``), which anyone can repeat from the published seed:

1. Population: the active, in-scope, graded entities, sorted by ``(uscc, entity_id)`` as text.
2. Strata: the grade, or grade x county-level district. Stratum h holds N_h entities.
3. Sample size per stratum (:func:`stratum_sample_size`): ``n_h = floor(r_h * N_h + 1/2)`` in exact
   decimal arithmetic on the policy's ratio r_h (round half up, 四舍五入), at least 1 when r_h > 0,
   at least ``ceil(floor_probability * N_h)``, at most N_h.
4. Lottery: ``numpy.random.PCG64(seed).random_raw(N)`` gives the k-th entity of the sorted population
   the k-th 64-bit number. In each stratum the n_h entities with the smallest numbers are drawn (ties,
   which have probability about N^2 / 2^64, go to the earlier entity). That is a simple random sample
   without replacement, so each entity's inclusion probability is exactly n_h / N_h.
5. Inspectors: the same stream continues into :func:`radar.plan.inspectors.assign_inspectors`.

Only the bit generator's raw output is used, never ``Generator`` methods, whose streams numpy does not
promise to keep across versions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd

from radar.config import GRADES, PlanPolicy
from radar.errors import RadarError
from radar.lake import as_of_str
from radar.plan.inspectors import JOINER, assign_inspectors, prepare_inspectors
from radar.plan.population import county_code, prepare_population, text

DRAW_METHOD = "radar-pcg64-lottery/1"
Strata = Literal["grade", "grade_district"]
STRATA: tuple[str, ...] = ("grade", "grade_district")
# Seeds are stored as int64 in the lake.
MAX_SEED = 2**63 - 1

# The plan's columns, in the order they are written. The first ones are the contract (DESIGN §4).
PLAN_COLUMNS = (
    "plan_id",
    "entity_id",
    "uscc",
    "name",
    "district_code",
    "industry_section",
    "grade",
    "stratum",
    "stratum_size",
    "stratum_drawn",
    "inclusion_probability",
    "inspectors",
    "inspector_ids",
    "seed",
    "as_of",
    "strata_by",
    "scope_districts",
    "scope_industries",
    "draw_method",
)
STRATUM_COLUMNS = (
    "stratum",
    "grade",
    "district_code",
    "population",
    "drawn",
    "ratio",
    "inclusion_probability",
    "floor_applied",
)


def _exact(x: float) -> Fraction:
    """A policy number as the decimal written in the YAML (0.03 is 3/100, not the nearest binary float)."""
    return Fraction(repr(float(x)))


def stratum_sample_size(population: int, ratio: float, floor_probability: float) -> int:
    """How many entities a stratum of ``population`` contributes: the rounding rule of a plan.

    ``round_half_up(ratio * population)``, raised to 1 when the ratio is positive (a grade with a ratio
    is never skipped because it is small) and to ``ceil(floor_probability * population)`` so that
    ``n / population >= floor_probability`` holds exactly, capped at the population.
    """
    if population <= 0:
        return 0
    n = math.floor(_exact(ratio) * population + Fraction(1, 2))
    if ratio > 0:
        n = max(n, 1)
    n = max(n, math.ceil(_exact(floor_probability) * population))
    return min(n, population)


def _stratum_labels(pop: pd.DataFrame, strata: Strata) -> list[str]:
    """Per entity its stratum: ``A``, or ``A/211302`` (grade/county code) when strata are by district."""
    if strata == "grade":
        return list(pop["grade"])
    districts = [county_code(d) or "unknown" for d in pop["district_code"]]
    return [f"{g}/{d}" for g, d in zip(pop["grade"], districts, strict=True)]


def draw_entities(
    population: pd.DataFrame,
    policy: PlanPolicy,
    bit_generator: np.random.PCG64,
    strata: Strata = "grade",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps 2-4 of the procedure on a population from :func:`prepare_population`.

    Returns the drawn entities (population columns plus ``stratum``, ``stratum_size``, ``stratum_drawn``,
    ``inclusion_probability`` and ``lottery``) in population order, and one row per stratum
    (:data:`STRATUM_COLUMNS`) in grade order. Consumes ``len(population)`` numbers of the stream.
    """
    if strata not in STRATA:
        raise RadarError(f"strata must be one of {', '.join(STRATA)}, not '{strata}'")
    n = len(population)
    labels = np.array(_stratum_labels(population, strata), dtype=object)
    strata_labels, code = np.unique(labels, return_inverse=True)
    lottery = bit_generator.random_raw(n).astype(np.uint64)

    sizes = np.bincount(code, minlength=len(strata_labels))
    rows = []
    for label, size in zip(strata_labels, sizes.tolist(), strict=True):
        grade, _, district = str(label).partition("/")
        ratio = policy.ratios[grade]
        drawn = stratum_sample_size(size, ratio, policy.floor_probability)
        rows.append(
            {
                "stratum": label,
                "grade": grade,
                "district_code": district,
                "population": size,
                "drawn": drawn,
                "ratio": ratio,
                "inclusion_probability": drawn / size,
                "floor_applied": drawn > stratum_sample_size(size, ratio, 0.0),
            }
        )
    quotas = np.array([r["drawn"] for r in rows], dtype=np.int64)
    rows.sort(key=lambda r: (GRADES.index(r["grade"]), r["district_code"]))
    table = pd.DataFrame(rows, columns=list(STRATUM_COLUMNS))

    # Within each stratum: smallest lottery number first, the earlier entity on a tie; the first
    # n_h of each stratum are drawn.
    order = np.lexsort((np.arange(n), lottery, code))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts[code[order]]
    chosen = np.flatnonzero(rank < quotas[code])  # in population order

    stratum_size = sizes[code[chosen]].astype(np.int64)
    stratum_drawn = quotas[code[chosen]]
    columns = {c: population[c].to_numpy()[chosen] for c in population.columns}
    columns |= {
        "stratum": labels[chosen],
        "stratum_size": stratum_size,
        "stratum_drawn": stratum_drawn,
        "inclusion_probability": stratum_drawn / stratum_size,
        "lottery": lottery[chosen],
    }
    return pd.DataFrame(columns, index=population.index[chosen]), table


@dataclass(frozen=True)
class Plan:
    """A drawn inspection plan: one row per drawn entity, the strata, the inspectors' workload, a summary."""

    plan_id: str
    seed: int
    as_of: str
    rows: pd.DataFrame
    strata: pd.DataFrame
    workload: pd.DataFrame
    summary: dict[str, Any]


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= MAX_SEED:
        raise RadarError(f"seed must be a whole number from 0 to {MAX_SEED}, not {seed!r}")
    return int(seed)


def _check_as_of(as_of: date | str) -> str:
    text = as_of_str(as_of)
    try:
        date.fromisoformat(text)
    except ValueError:
        raise RadarError(f"as-of date must be YYYY-MM-DD, not '{text}'") from None
    return text


def default_plan_id(as_of: str, seed: int) -> str:
    """The plan id used when none is given: as-of date and seed, so it names its own draw."""
    return f"PLAN-{as_of}-{seed}"


def _scope(values: Sequence[str] | None, upper: bool = False) -> list[str]:
    """A scope filter as recorded in the plan: normalised, deduplicated, sorted."""
    cleaned = {text(v).upper() if upper else text(v) for v in values or []}
    return sorted(v for v in cleaned if v)


def draw_plan(
    scores: Any,
    inspectors: Any,
    policy: PlanPolicy,
    seed: int,
    as_of: date | str,
    plan_id: str | None = None,
    districts: list[str] | None = None,
    industries: list[str] | None = None,
    strata: Strata = "grade",
) -> Plan:
    """Draw an inspection plan: entities by risk stratum, then inspectors with recusal.

    ``scores`` is the scores table (pandas or polars; ``score/scores`` in the lake), ``inspectors`` the
    inspector library, ``policy`` the ``plan:`` section of conf/policy.yaml. The result depends only on
    ``seed``, the rows of both tables (not their order), the policy, the scope (``districts``,
    ``industries``) and ``strata``; ``plan_id`` and ``as_of`` are labels. See the module docstring.
    """
    seed = _check_seed(seed)
    as_of = _check_as_of(as_of)
    plan_id = plan_id or default_plan_id(as_of, seed)
    population = prepare_population(scores, districts, industries)
    library = prepare_inspectors(inspectors, policy)

    bit_generator = np.random.PCG64(seed)
    drawn, table = draw_entities(population, policy, bit_generator, strata)
    assignment = assign_inspectors(drawn, library, policy, bit_generator)

    grade_rank = drawn["grade"].map(GRADES.index)
    rows = drawn.assign(
        plan_id=plan_id,
        inspectors=assignment.inspector_names,
        inspector_ids=assignment.inspector_ids,
        seed=np.int64(seed),
        as_of=as_of,
        strata_by=strata,
        scope_districts=JOINER.join(_scope(districts)),
        scope_industries=JOINER.join(_scope(industries, upper=True)),
        draw_method=DRAW_METHOD,
        _grade_rank=grade_rank,
    )
    # Highest risk first, then the population's own order: a stable, readable plan.
    rows = rows.sort_values(["_grade_rank", "stratum"], ascending=[False, True], kind="stable")
    rows = rows[list(PLAN_COLUMNS)].reset_index(drop=True)

    summary = _summary(plan_id, seed, as_of, strata, districts, industries, policy, len(population), table)
    summary |= _workload_summary(rows, assignment.workload, policy)
    return Plan(plan_id, seed, as_of, rows, table, assignment.workload, summary)


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """A record with numpy scalars turned into Python ones, for JSON."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in record.items()}


def _summary(
    plan_id: str,
    seed: int,
    as_of: str,
    strata: Strata,
    districts: list[str] | None,
    industries: list[str] | None,
    policy: PlanPolicy,
    population: int,
    table: pd.DataFrame,
) -> dict[str, Any]:
    """The plan's JSON summary: what was drawn, from what, under which policy and rounding rule."""
    return {
        "plan_id": plan_id,
        "as_of": as_of,
        "seed": seed,
        "draw_method": DRAW_METHOD,
        "strata_by": strata,
        "scope": {"districts": _scope(districts), "industries": _scope(industries, upper=True)},
        "policy": policy.model_dump(),
        "rounding": "n_h = round_half_up(ratio_h * N_h), >= 1 if ratio_h > 0, >= ceil(floor * N_h), <= N_h",
        "population": population,
        "drawn": int(table["drawn"].sum()),
        "strata": [
            _plain(row) | {"inclusion_probability_exact": f"{row['drawn']}/{row['population']}"}
            for row in table.to_dict(orient="records")
        ],
    }


def _workload_summary(rows: pd.DataFrame, workload: pd.DataFrame, policy: PlanPolicy) -> dict[str, Any]:
    """The inspectors' side of the summary, with a warning where recusal could not be checked."""
    checks = workload["checks"]
    warnings = []
    no_district = int((rows["district_code"] == "").sum())
    if no_district and policy.recusal != "none":
        warnings.append(
            f"{no_district} drawn entit(y/ies) have no district_code: recusal could not be checked for "
            "them and any inspector could be assigned"
        )
    return {
        "inspectors": {
            "library": len(workload),
            "per_check": policy.inspectors_per_check,
            "recusal": policy.recusal,
            "checks_min": int(checks.min()),
            "checks_max": int(checks.max()),
            "checks_mean": float(checks.mean()),
            "workload": [_plain(r) for r in workload.to_dict(orient="records")],
        },
        "warnings": warnings,
    }
