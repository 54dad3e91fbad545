"""CSV exports of lake tables for other systems (``radar export ...``); read with polars, no Spark needed.

CSVs are UTF-8 with a byte-order mark so that spreadsheet programs show Chinese correctly.
"""

from __future__ import annotations

from pathlib import Path

from radar.errors import LakeError
from radar.lake import Lake

EXPORTS = {
    "scores": (
        "score/scores",
        ["uscc", "entity_id", "name", "district_code", "district_name", "industry_section", "entity_class",
         "risk_score", "anomaly_score", "grade", "model_grade", "grade_reason", "reasons", "reasons_json", "model_version",
         "previous_grade"],
    ),
    "links": (
        "resolve/links",
        ["source_type", "record_key", "entity_id", "uscc", "method", "probability", "reason", "wrong_code",
         "source_file", "source_row"],
    ),
    "flags": ("graph/flags", ["uscc", "entity_id", "flag", "evidence", "component_id"]),
}


def export(kind: str, lake_dir: Path, out: Path, as_of: str | None = None) -> tuple[Path, int, str]:
    """Write an export; returns (path, rows, as_of used). ``as_of`` defaults to the latest published."""
    if kind not in EXPORTS:
        raise LakeError(f"unknown export '{kind}' (have: {', '.join(EXPORTS)})")
    table, columns = EXPORTS[kind]
    lake = Lake(lake_dir).open()
    as_of = as_of or lake.latest_as_of(table)
    if as_of is None:
        raise LakeError(f"{lake.root}: no '{table}' table yet (run 'radar run' first)")
    df = lake.read_polars(table, as_of)
    if kind == "scores":
        df = df.rename({"reasons": "reasons_json"}).rename({"reasons_text": "reasons"})
    df = df.select([c for c in columns if c in df.columns])
    sort = {"scores": ["risk_score"], "links": ["source_type", "record_key"], "flags": ["flag", "uscc"]}[kind]
    df = df.sort(sort, descending=kind == "scores") if df.height else df
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        f.write("\ufeff".encode())
        df.write_csv(f)
    return out, df.height, as_of
