"""The check-object library (检查对象名录库) a plan draws from: the scores table, validated and in a stable order.

The draw must give the same plan on any machine from the same inputs, so nothing here may depend on the
row order of the input frame or on how a reader typed a column: every key column becomes NFKC text, and
the population is sorted by ``(uscc, entity_id)`` compared as Unicode code points.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from radar.config import GRADES
from radar.errors import RadarError

# Columns the plan copies from the scores table (industry_section only when present).
REQUIRED_SCORE_COLUMNS = ("entity_id", "uscc", "name", "district_code", "grade")
# The population's stable order: USCC first (what the public sees), entity_id to break ties and blanks.
SORT_KEY = ("uscc", "entity_id")
# GB/T 2260 county-level codes have six digits; finer codes (townships) start with their county's code.
COUNTY_CODE_LENGTH = 6
_TRUE_TEXT = {"true", "t", "1", "yes", "y", "是"}
_FALSE_TEXT = {"false", "f", "0", "no", "n", "否"}


def text(value: Any) -> str:
    """A cell as NFKC text without surrounding spaces; missing values as ``""``, ``211302.0`` as ``211302``."""
    if type(value) is str:  # the common case, kept fast: NFKC leaves ASCII unchanged
        return (value if value.isascii() else unicodedata.normalize("NFKC", value)).strip()
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            value = int(value)
    elif not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def text_column(values: Iterable[Any]) -> list[str]:
    """:func:`text` over a column."""
    return [text(v) for v in values]


def county_code(district_code: str) -> str:
    """The county-level part of a district code: recusal compares districts at this level."""
    return district_code[:COUNTY_CODE_LENGTH]


def to_pandas(frame: Any) -> pd.DataFrame:
    """A pandas copy of a pandas or polars frame (polars frames have ``to_pandas``)."""
    if isinstance(frame, pd.DataFrame):
        return frame.copy()
    if hasattr(frame, "to_pandas"):
        return frame.to_pandas()
    return pd.DataFrame(frame)


def _is_active(values: pd.Series) -> list[bool]:
    """``is_active`` as booleans; a blank counts as active (an entity stays in the library until it leaves)."""
    out = []
    for v in values:
        t = text(v).lower()
        if t in _TRUE_TEXT or t == "":
            out.append(True)
        elif t in _FALSE_TEXT:
            out.append(False)
        else:
            raise RadarError(f"scores: is_active holds '{v}', expected true/false")
    return out


def prepare_population(
    scores: Any,
    districts: Sequence[str] | None = None,
    industries: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The entities a plan draws from, validated, normalised to text and sorted by :data:`SORT_KEY`.

    Inactive entities (``is_active`` false) leave the library. ``districts`` keeps entities whose
    district code starts with one of the codes (a county code keeps its townships); ``industries`` keeps
    the named GB/T 4754 sections. Every entity must carry a grade A-D: an ungraded entity would lose
    its floor probability silently, so it stops the draw instead.
    """
    frame = to_pandas(scores)
    missing = [c for c in REQUIRED_SCORE_COLUMNS if c not in frame.columns]
    if industries and "industry_section" not in frame.columns:
        missing.append("industry_section")
    if missing:
        raise RadarError(f"scores: missing column(s) {', '.join(missing)} (needed to draw a plan)")

    pop = pd.DataFrame({c: text_column(frame[c]) for c in REQUIRED_SCORE_COLUMNS})
    pop["grade"] = pop["grade"].str.upper()
    pop["industry_section"] = (
        text_column(frame["industry_section"]) if "industry_section" in frame.columns else [""] * len(frame)
    )
    pop["industry_section"] = pop["industry_section"].str.upper()
    if "is_active" in frame.columns:
        pop = pop[_is_active(frame["is_active"])]

    if districts:
        wanted = tuple(sorted({text(d) for d in districts if text(d)}))
        pop = pop[[code.startswith(wanted) for code in pop["district_code"]]]
    if industries:
        wanted_sections = {text(i).upper() for i in industries if text(i)}
        pop = pop[pop["industry_section"].isin(wanted_sections)]

    if (pop["entity_id"] == "").any():
        raise RadarError(f"scores: {int((pop['entity_id'] == '').sum())} row(s) have no entity_id")
    dupes = pop["entity_id"][pop["entity_id"].duplicated()]
    if len(dupes):
        raise RadarError(
            f"scores: entity_id is not unique ({len(dupes)} repeats, e.g. {sorted(dupes)[0]}); "
            "pass one as-of date's scores"
        )
    bad = pop[~pop["grade"].isin(GRADES)]
    if len(bad):
        example = bad.sort_values("entity_id").iloc[0]
        raise RadarError(
            f"scores: {len(bad)} entit(y/ies) have no grade in {'/'.join(GRADES)} "
            f"(e.g. {example['entity_id']} with '{example['grade']}'); every entity needs a grade "
            "to keep its floor probability"
        )
    if pop.empty:
        raise RadarError(
            "scores: no active entity is left to draw from (check --district/--industry filters)"
        )

    # Python's sort compares str by code point: the same order on every machine and locale.
    keys = list(zip(*(pop[k] for k in SORT_KEY), strict=True))
    order = sorted(range(len(pop)), key=keys.__getitem__)
    return pop.iloc[order].reset_index(drop=True)
