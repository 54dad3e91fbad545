"""Reading a plan's inputs and writing the plan: CSV for people (Excel), JSON summary, lake table.

All file handling of ``radar.plan`` lives here; the draw, verification and estimation are pure.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from radar.errors import InputError
from radar.lake import Lake
from radar.plan.draw import Plan

SCORES_TABLE = "score/scores"
PLANS_TABLE = "plan/plans"
# The inspector library a plan was drawn with, and each inspector's checks: kept so the plan can be
# verified later even after the library changes.
INSPECTORS_TABLE = "plan/inspectors"
# Excel opens UTF-8 as the local code page unless the file starts with a BOM.
CSV_ENCODING = "utf-8-sig"
# Chinese exports come as UTF-8 (with or without BOM) or GB18030.
_READ_ENCODINGS = ("utf-8-sig", "gb18030")


def _read_text_csv(path: Path | str, what: str) -> pd.DataFrame:
    """A CSV with every cell as text (codes keep their leading zeros, USCCs stay exact)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} not found")
    for encoding in _READ_ENCODINGS:
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise InputError(f"{path}: {what} is not a readable CSV: {e}") from None
    raise InputError(f"{path}: {what} is neither UTF-8 nor GB18030")


def read_inspectors(path: Path | str) -> pd.DataFrame:
    """The inspector library CSV (inspector_id, name, cert_no, department, home_district_code)."""
    return _read_text_csv(path, "inspector library")


def read_plan_csv(path: Path | str) -> pd.DataFrame:
    """A plan CSV as written by :func:`write_plan_csv`, every cell as text (for :func:`verify_plan`)."""
    return _read_text_csv(path, "plan")


def read_scores(lake: Lake | Path | str, as_of: date | str | None = None) -> tuple[pd.DataFrame, str]:
    """The scores table of an as-of date (default: the newest published) and that date."""
    lake = lake if isinstance(lake, Lake) else Lake(lake).open()
    as_of = as_of or lake.latest_as_of(SCORES_TABLE)
    if as_of is None:
        raise InputError(
            f"{lake.root}: no scores published yet (table {SCORES_TABLE}); run 'radar run' first"
        )
    return lake.read_polars(SCORES_TABLE, as_of).to_pandas(), str(as_of)


def summary_path(csv_path: Path | str) -> Path:
    """Where the JSON summary of a plan CSV goes: ``plan.csv`` -> ``plan.summary.json``."""
    return Path(csv_path).with_suffix(".summary.json")


def _write_atomic(path: Path, write: Any) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a plan."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_plan_csv(plan: Plan, out: Path | str) -> tuple[Path, Path]:
    """Write the plan as CSV (UTF-8 with BOM) and its summary as JSON next to it; return both paths."""
    out = Path(out)
    # pandas writes floats with repr, so inclusion probabilities read back to the same float.
    _write_atomic(out, lambda p: plan.rows.to_csv(p, index=False, encoding=CSV_ENCODING))
    summary = summary_path(out)
    text = json.dumps(plan.summary, ensure_ascii=False, indent=2, default=str) + "\n"
    _write_atomic(summary, lambda p: p.write_text(text, encoding="utf-8"))
    return out, summary


def publish_plan(plan: Plan, lake: Lake | Path | str) -> Path:
    """Publish the plan rows to ``plan/plans`` and its inspector library to ``plan/inspectors``.

    Both under the plan's as-of date, one partition per date: publishing another plan for the same date
    replaces the earlier one. Returns the plan partition.
    """
    lake = lake if isinstance(lake, Lake) else Lake(lake).open()
    lake.publish_pandas(plan.workload, INSPECTORS_TABLE, plan.as_of)
    return lake.publish_pandas(plan.rows, PLANS_TABLE, plan.as_of)


def load_inspectors(
    path: Path | str | None = None, lake: Lake | Path | str | None = None, as_of: str | None = None
) -> pd.DataFrame:
    """The inspector library: from ``path`` if given, else the one the lake's plan of ``as_of`` (or the
    newest plan) was drawn with."""
    if path is not None:
        return read_inspectors(path)
    if lake is not None:
        lake = lake if isinstance(lake, Lake) else Lake(lake).open()
        dates = lake.as_of_dates(INSPECTORS_TABLE)
        chosen = as_of if as_of is not None else (dates[-1] if dates else None)
        if chosen in dates:
            return lake.read_polars(INSPECTORS_TABLE, chosen).to_pandas()
    raise InputError(
        "no inspector library: pass --inspectors FILE (CSV with inspector_id, name, cert_no, department, "
        "home_district_code)"
    )
