"""Verify a published plan: redraw it from its own seed and scope, and compare row by row.

Anyone holding the scores table, the inspector library and the policy the plan was drawn under can
check that no entity was added, dropped or given other inspectors by hand (一公开: the draw is public).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from radar.config import PlanPolicy
from radar.errors import RadarError
from radar.plan.draw import DRAW_METHOD, PLAN_COLUMNS, STRATA, draw_plan
from radar.plan.inspectors import JOINER
from radar.plan.population import text

# Columns verification needs from a published plan; the others are compared when present.
REQUIRED_PLAN_COLUMNS = ("plan_id", "entity_id", "seed", "as_of")
_NUMERIC = {"inclusion_probability"}
_INTEGER = {"seed", "stratum_size", "stratum_drawn"}
# Differences listed in a message before it only counts the rest.
_EXAMPLES = 10


@dataclass(frozen=True)
class RowDifference:
    """One cell of the published plan that the redraw does not reproduce."""

    entity_id: str
    column: str
    published: str
    redrawn: str


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of :func:`verify_plan`.

    ``missing``: entities the redraw draws but the published plan lacks (dropped by hand?).
    ``unexpected``: entities in the published plan the redraw does not draw (added by hand?).
    ``differences``: cells of entities present in both that differ.
    """

    plan_id: str
    seed: int
    published_rows: int
    redrawn_rows: int
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    differences: tuple[RowDifference, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every published row is exactly what the seed draws, and nothing is missing."""
        return not (self.missing or self.unexpected or self.differences)

    @property
    def differing_entities(self) -> tuple[str, ...]:
        """Entity ids with at least one differing cell, sorted."""
        return tuple(sorted({d.entity_id for d in self.differences}))

    def message(self) -> str:
        """One readable paragraph: verified, or what does not match."""
        if self.ok:
            return (
                f"plan {self.plan_id}: verified. All {self.published_rows} rows match "
                f"the redraw from seed {self.seed}."
            )
        parts = [f"plan {self.plan_id}: NOT verified against the redraw from seed {self.seed}."]
        if self.missing:
            parts.append(
                f"{len(self.missing)} drawn entit(y/ies) missing from the plan: {_few(self.missing)}."
            )
        if self.unexpected:
            parts.append(
                f"{len(self.unexpected)} entit(y/ies) in the plan that the seed does not draw: "
                f"{_few(self.unexpected)}."
            )
        if self.differences:
            cells = [
                f"{d.entity_id}.{d.column}: '{d.published}' (redraw '{d.redrawn}')" for d in self.differences
            ]
            parts.append(
                f"{len(self.differences)} differing cell(s) in {len(self.differing_entities)} row(s): "
                f"{_few(cells)}."
            )
            columns = {d.column for d in self.differences}
            if columns <= {"inspectors", "inspector_ids"} and not (self.missing or self.unexpected):
                parts.append("Only inspectors differ: was the plan drawn with another inspector library?")
            elif columns & {"stratum_size", "stratum_drawn"}:
                parts.append(
                    "Stratum sizes differ: the scores or the sampling policy (plan.ratios, "
                    "plan.floor_probability) may not be those the plan was drawn with."
                )
        return " ".join(parts)


def _few(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(items[:_EXAMPLES])
    return shown + (f" and {len(items) - _EXAMPLES} more" if len(items) > _EXAMPLES else "")


def _published_frame(plan_rows: Any) -> pd.DataFrame:
    if isinstance(plan_rows, pd.DataFrame):
        frame = plan_rows.copy()
    elif hasattr(plan_rows, "to_pandas"):
        frame = plan_rows.to_pandas()
    else:
        frame = pd.DataFrame(list(plan_rows) if not isinstance(plan_rows, Mapping) else plan_rows)
    if frame.empty:
        raise RadarError("plan: no rows to verify")
    missing = [c for c in REQUIRED_PLAN_COLUMNS if c not in frame.columns]
    if missing:
        raise RadarError(f"plan: missing column(s) {', '.join(missing)}; cannot redraw it")
    return frame


def _canonical(value: Any, column: str) -> str:
    """A cell as comparable text: numbers in one spelling, whatever the CSV reader made of them."""
    t = text(value)
    if not t or column not in _INTEGER:
        return t
    try:
        return str(int(t))
    except ValueError:
        pass
    try:
        number = float(t)  # "42.0" from a reader that typed the column as float
    except ValueError:
        return t
    return str(int(number)) if number.is_integer() else t


def _same(published: str, redrawn: str, column: str) -> bool:
    if column in _NUMERIC:
        try:
            return math.isclose(float(published), float(redrawn), rel_tol=1e-12, abs_tol=0.0)
        except ValueError:
            return published == redrawn
    return published == redrawn


def published_parameter(frame: pd.DataFrame, column: str, default: str = "") -> str:
    """A draw parameter of a published plan (seed, as_of, scope...): the value most rows carry, so a
    tampered row shows up as a difference rather than changing the redraw."""
    if column not in frame.columns:
        return default
    counts = Counter(_canonical(v, column) for v in frame[column])
    # Most common first; text order breaks a tie so the choice is reproducible.
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def verify_plan(plan_rows: Any, scores: Any, inspectors: Any, policy: PlanPolicy) -> VerificationResult:
    """Redraw a published plan from its seed and scope and report whether every row matches.

    ``plan_rows``: the plan as read back (a DataFrame from :func:`radar.plan.files.read_plan_csv`, a
    polars frame, or a list of dicts). ``scores``, ``inspectors`` and ``policy`` must be those the plan
    was drawn from; a different one shows up as differences.
    """
    frame = _published_frame(plan_rows)
    method = published_parameter(frame, "draw_method", DRAW_METHOD)
    if method != DRAW_METHOD:
        raise RadarError(f"plan was drawn with method '{method}'; this radar verifies '{DRAW_METHOD}' only")
    seed_text = published_parameter(frame, "seed")
    try:
        seed = int(seed_text)
    except ValueError:
        raise RadarError(f"plan: seed '{seed_text}' is not a whole number") from None
    strata = published_parameter(frame, "strata_by", "grade")
    if strata not in STRATA:
        raise RadarError(f"plan: strata_by '{strata}' is not one of {', '.join(STRATA)}")
    districts = [d for d in published_parameter(frame, "scope_districts").split(JOINER) if d]
    industries = [i for i in published_parameter(frame, "scope_industries").split(JOINER) if i]
    plan_id = published_parameter(frame, "plan_id")

    redraw = draw_plan(
        scores,
        inspectors,
        policy,
        seed=seed,
        as_of=published_parameter(frame, "as_of"),
        plan_id=plan_id,
        districts=districts or None,
        industries=industries or None,
        strata=strata,  # type: ignore[arg-type]
    ).rows

    columns = [c for c in PLAN_COLUMNS if c in frame.columns and c != "entity_id"]
    published_ids = [_canonical(v, "entity_id") for v in frame["entity_id"]]
    counts = Counter(published_ids)
    # A published entity listed twice is itself a tampering sign: it counts as unexpected.
    repeated = {e for e, n in counts.items() if n > 1}
    published = frame.assign(_entity=published_ids).drop_duplicates("_entity").set_index("_entity")
    redrawn = redraw.set_index("entity_id")
    common = sorted(set(published.index) & set(redrawn.index))

    differences = []
    for column in columns:
        mine = [_canonical(v, column) for v in published.loc[common, column]]
        theirs = [_canonical(v, column) for v in redrawn.loc[common, column]]
        differences += [
            RowDifference(entity_id, column, a, b)
            for entity_id, a, b in zip(common, mine, theirs, strict=True)
            if not _same(a, b, column)
        ]
    differences.sort(key=lambda d: (d.entity_id, columns.index(d.column)))
    return VerificationResult(
        plan_id=plan_id,
        seed=seed,
        published_rows=len(frame),
        redrawn_rows=len(redraw),
        missing=tuple(sorted(set(redrawn.index) - set(published.index))),
        unexpected=tuple(sorted((set(published.index) - set(redrawn.index)) | repeated)),
        differences=tuple(differences),
    )
