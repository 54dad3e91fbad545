"""The inspector library (执法检查人员名录库) and the second random draw: inspectors for each drawn entity.

Assignment rule (reproducible from the seed): drawn entities are served hardest first (fewest eligible
inspectors, then by lottery number); each takes ``inspectors_per_check`` inspectors from those it may
receive, the least loaded first, ties broken by fresh 64-bit numbers from the plan's PCG64 stream. So who
checks whom is random, nobody can be chosen by hand, and workloads stay within about one check of each
other as far as recusal allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from radar.config import PlanPolicy
from radar.errors import RadarError
from radar.plan.population import county_code, text_column, to_pandas

INSPECTOR_COLUMNS = ("inspector_id", "name", "cert_no", "department", "home_district_code")
# Joins several inspectors in one plan cell (names and ids alike).
JOINER = ";"
# How many entities an error message names before it only counts the rest.
_EXAMPLES = 5


def prepare_inspectors(inspectors: Any, policy: PlanPolicy) -> pd.DataFrame:
    """The inspector library validated, normalised to text and sorted by inspector_id."""
    frame = to_pandas(inspectors)
    missing = [c for c in INSPECTOR_COLUMNS if c not in frame.columns]
    if missing:
        raise RadarError(f"inspector library: missing column(s) {', '.join(missing)}")
    lib = pd.DataFrame({c: text_column(frame[c]) for c in INSPECTOR_COLUMNS})
    if (lib["inspector_id"] == "").any():
        raise RadarError(
            f"inspector library: {int((lib['inspector_id'] == '').sum())} row(s) have no inspector_id"
        )
    dupes = lib["inspector_id"][lib["inspector_id"].duplicated()]
    if len(dupes):
        raise RadarError(f"inspector library: inspector_id {sorted(dupes)[0]} appears more than once")
    if JOINER in "".join(lib["inspector_id"]) + "".join(lib["name"]):
        raise RadarError(
            f"inspector library: ids and names may not contain '{JOINER}' (it joins them in the plan)"
        )
    if policy.recusal == "same_district_home":
        blank = lib[lib["home_district_code"] == ""]
        if len(blank):
            raise RadarError(
                f"inspector library: {len(blank)} inspector(s) have no home_district_code "
                f"(e.g. {blank['inspector_id'].iloc[0]}); recusal (plan.recusal = same_district_home) needs it"
            )
    if len(lib) < policy.inspectors_per_check:
        raise RadarError(
            f"inspector library: {len(lib)} inspector(s), but every check needs "
            f"{policy.inspectors_per_check} (plan.inspectors_per_check)"
        )
    return lib.sort_values("inspector_id", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Assignment:
    """Inspectors per drawn entity (aligned with the entities passed in) and the workload: the library
    (:data:`INSPECTOR_COLUMNS`) with each inspector's number of ``checks`` in this plan."""

    inspector_ids: list[str]
    inspector_names: list[str]
    workload: pd.DataFrame


def _eligibility(
    districts: list[str], library: pd.DataFrame, policy: PlanPolicy
) -> tuple[np.ndarray, list[str]]:
    """Per entity, which inspectors it may receive (rows of a boolean matrix) and the county codes compared."""
    counties = [county_code(d) for d in districts]
    n_inspectors = len(library)
    if policy.recusal == "none":
        return np.ones((len(districts), n_inspectors), dtype=bool), counties
    home = np.array([county_code(d) for d in library["home_district_code"]], dtype=object)
    by_county = {c: home != c for c in sorted(set(counties))}
    # An entity without a district cannot be matched to anyone's home: every inspector stays eligible,
    # and the draw reports it as a warning.
    by_county[""] = np.ones(n_inspectors, dtype=bool)
    matrix = np.array([by_county[c] for c in counties], dtype=bool).reshape(len(districts), n_inspectors)
    return matrix, counties


def _raise_infeasible(
    entities: pd.DataFrame, counts: np.ndarray, counties: list[str], policy: PlanPolicy
) -> None:
    short = np.flatnonzero(counts < policy.inspectors_per_check)
    if not len(short):
        return
    examples = []
    for i in short[:_EXAMPLES]:
        row = entities.iloc[i]
        examples.append(
            f"{row['entity_id']} (USCC {row['uscc'] or '-'}, district {row['district_code'] or '-'}): "
            f"{counts[i]} eligible inspector(s) from outside district {counties[i]}"
        )
    more = f"; and {len(short) - _EXAMPLES} more" if len(short) > _EXAMPLES else ""
    raise RadarError(
        f"cannot assign {policy.inspectors_per_check} inspectors (plan.inspectors_per_check) to "
        f"{len(short)} drawn entit(y/ies) without breaking recusal (plan.recusal = {policy.recusal}): "
        + "; ".join(examples)
        + more
        + ". Add inspectors whose home district differs to the inspector library, or check their "
        "home_district_code."
    )


def assign_inspectors(
    entities: pd.DataFrame,
    library: pd.DataFrame,
    policy: PlanPolicy,
    bit_generator: np.random.PCG64,
) -> Assignment:
    """Draw ``inspectors_per_check`` inspectors for every drawn entity, honouring recusal.

    ``entities`` needs ``entity_id``, ``uscc``, ``district_code`` and ``lottery`` (its uint64 lottery
    number); ``library`` comes from :func:`prepare_inspectors`. Raises :class:`RadarError` naming the
    entities that cannot get enough eligible inspectors, before anything is assigned.
    """
    k = policy.inspectors_per_check
    eligible, counties = _eligibility(list(entities["district_code"]), library, policy)
    counts = eligible.sum(axis=1)
    _raise_infeasible(entities, counts, counties, policy)

    n_inspectors = len(library)
    loads = np.zeros(n_inspectors, dtype=np.int64)
    chosen: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(entities)
    lottery = entities["lottery"].to_numpy(dtype=np.uint64)
    # Hardest first: an entity with few eligible inspectors goes before those inspectors fill up.
    order = np.lexsort((np.arange(len(entities)), lottery, counts))
    for i in order:
        tiebreak = bit_generator.random_raw(n_inspectors)  # one number per inspector, every entity
        candidates = np.flatnonzero(eligible[i])
        ranked = candidates[np.lexsort((tiebreak[candidates], loads[candidates]))]
        pick = np.sort(ranked[:k])  # inspector_id order inside a cell, whatever the draw order
        loads[pick] += 1
        chosen[i] = pick

    ids = library["inspector_id"].to_numpy(dtype=object)
    names = library["name"].to_numpy(dtype=object)
    workload = library[list(INSPECTOR_COLUMNS)].copy()
    workload["checks"] = loads
    return Assignment(
        inspector_ids=[JOINER.join(ids[p]) for p in chosen],
        inspector_names=[JOINER.join(names[p]) for p in chosen],
        workload=workload,
    )
