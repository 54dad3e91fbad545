"""The record tables and the quarantine written from the parse cache by polars and pyarrow, in Spark's Python
workers.

Spark's own path (``records.number_rows`` -> ``add_uscc_status`` -> ``mark_records`` -> ``record_table``,
written by Spark's Parquet writer with the data-quality figures observed on the way) reads every cached row
into Spark's row format and out again: at city scale the tables took twice the time the whole plain
CSV-to-Parquet copy takes. Here one Spark task takes one Parquet file of a cache entry (a block of one
source, so rows of one record type) and does the same work on whole columns:

* every row gets its source file, content hash and data-row number (the rows before its read block, known on
  the driver; a copy of a file gives each file its rows) and the last row of a file that ends mid-record is
  quarantined;
* the identifier's status is completed (the odd values decided in Python on the driver) and the codes a
  valid USCC carries are derived;
* the marks of re-sent and objected records (found once, by Spark, before: ``records.folded_records`` and
  ``records.objection_marks``; a small table) give ``is_current``, ``versions`` and the objection outcome;
* the accepted rows are written to the record table's staging folder, the rejected ones to the quarantine's,
  each as one Parquet file named after the cache file, with the Spark schema ``records.record_table`` has;
* the data-quality figures of both go back to the driver (a few numbers per source file).

The typed columns are never converted: pyarrow takes them from the cached file as they are (only the
derived columns are computed by polars). ``tests/test_ingest_tables.py`` holds this path to Spark's, table by
table and figure by figure, on the job's dirty input.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import types as T

from radar.config import Sources
from radar.ingest import records as R

# uncompressed bytes per row group of a written file: readers split a file between row groups only
ROW_GROUP_BYTES = 16 * 1024 * 1024
# dictionary pages stop growing here (why: ``jobs.ingest.PARQUET_OPTIONS``, Spark's writer's setting)
DICTIONARY_PAGE_BYTES = 64 * 1024
SPARK_SCHEMA_KEY = b"org.apache.spark.sql.parquet.row.metadata"
# the quarantine: every rejected row with its file, row, record type, reason and raw text
QUARANTINE_SCHEMA = T.StructType([
    T.StructField("source_file", T.StringType()),
    T.StructField("source_row", T.LongType()),
    T.StructField("record_type", T.StringType()),
    T.StructField("reason", T.StringType()),
    T.StructField("raw", T.StringType()),
])
_INVALID = ("invalid_checksum", "invalid_format")


@dataclass(frozen=True)
class TablePlan:
    """How a record table is made from the staging shape: its columns in order (name, the staging column it
    is taken from as it is, or None for a column derived here) and the Spark schema it is written with."""

    record_type: str
    columns: tuple[tuple[str, str | None], ...]
    schema_json: str
    objections: bool
    late_days: int | None  # records published more than this many working days late are counted; None: no dates


@dataclass(frozen=True)
class EntryPlan:
    """What numbering one cache entry's rows needs (``records.SourceRows``) and the statuses of its odd
    identifiers (value -> status)."""

    key: str
    record_type: str
    files: tuple[tuple[str, str, int | None], ...]
    offsets: dict[int, int]
    odd: dict[str, str]


def record_table_schema(src: Sources, record_type: str) -> T.StructType:
    """The Spark schema of a record type's published table (what ``records.record_table`` selects)."""
    staged = {f.name: f.dataType for f in R.staging_schema(src).fields}
    layout = R.slot_layout(src)
    rt = src.record_types[record_type]
    fields = [
        T.StructField("record_type", T.StringType()),
        T.StructField("source_file", T.StringType()),
        T.StructField("source_row", T.LongType()),
        T.StructField("source_sha256", T.StringType()),
        *[T.StructField(R.field_column(f, spec), staged[layout.of(record_type, f)])
          for f, spec in rt.fields.items()],
        T.StructField("issues", staged["issues"]),
        T.StructField("extra", staged["extra"]),
        *[T.StructField(n, t, nullable=n != "uscc_status") for n, t in R.RECORD_COLUMNS],
        T.StructField("is_current", T.BooleanType()),
        T.StructField("versions", T.IntegerType()),
        *[T.StructField(n, T.StringType()) for n in R.objection_columns(rt)],
    ]
    return T.StructType(fields)


def table_plan(src: Sources, record_type: str, late_days: int) -> TablePlan:
    """The ``TablePlan`` of a record type (``late_days``: the policy's late-publication working days)."""
    layout = R.slot_layout(src)
    rt = src.record_types[record_type]
    columns = (
        ("record_type", "record_type"),
        *[(c, None) for c in ("source_file", "source_row", "source_sha256")],
        *[(R.field_column(f, spec), layout.of(record_type, f)) for f, spec in rt.fields.items()],
        ("issues", "issues"),
        ("extra", "extra"),
        *[(n, None if n in R.USCC_DERIVED else n) for n, _ in R.RECORD_COLUMNS],
        ("is_current", None),
        ("versions", None),
        *[(n, None) for n in R.objection_columns(rt)],
    )
    schema = record_table_schema(src, record_type)
    assert [n for n, _ in columns] == schema.names
    dates = {"decision_date", "publish_date"} <= set(rt.fields)
    return TablePlan(record_type, columns, schema.json(), bool(rt.document_no), late_days if dates else None)


def _arrow_schema(schema_json: str) -> Any:
    """The Arrow schema of a Spark schema (JSON), carrying it as Spark's writer does."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type

    spark = T.StructType.fromJson(json.loads(schema_json))
    fields = [pa.field(f.name, to_arrow_type(f.dataType), nullable=f.nullable) for f in spark.fields]
    return pa.schema(fields, metadata={SPARK_SCHEMA_KEY: schema_json.encode()})


def write_parquet(table: Any, path: Path) -> None:
    """Write an Arrow table as Spark's writer would for the lake: snappy, row groups of about
    ``ROW_GROUP_BYTES``, small dictionary pages. The file appears whole or not at all (written under a hidden
    name, then renamed): a task attempt that dies, or a second attempt of the same task, leaves no half file."""
    import pyarrow.parquet as pq

    rows = max(1, table.num_rows)
    per_group = max(1024, int(rows * ROW_GROUP_BYTES / max(1, table.nbytes)))
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    pq.write_table(table, part, compression="snappy", row_group_size=per_group,
                   dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES)
    os.replace(part, path)


def write_rows(rows: list[tuple[Any, ...]], schema: T.StructType, path: Path) -> None:
    """A few rows (none: a table no row reached still has its columns) as a Parquet file of a Spark schema."""
    import pyarrow as pa

    arrow = _arrow_schema(schema.json())
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in arrow]
    write_parquet(pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, arrow, strict=True)],
                                       schema=arrow), path)


def _working_days(start: Any, end: Any) -> Any:
    """``records.working_days_sql`` in polars: Mon-Fri days from ``start`` to ``end`` (null beyond ten years,
    when ``end`` is before ``start`` or either is null)."""
    import polars as pl

    days = (end - start).dt.total_days()
    counted = pl.business_day_count(start, end) + (end.dt.weekday() <= 5).cast(pl.Int64) - 1
    return pl.when(start.is_null() | end.is_null() | (days < 0) | (days > 3660)).then(None).otherwise(counted)


def write_cache_file(
    path: str, entry: EntryPlan, plan: TablePlan | None, marks: list[tuple[Any, ...]], table_dir: str | None,
    quarantine_dir: str | None,
) -> dict[str, Any]:
    """Write the rows of one cached Parquet file: the accepted ones to ``table_dir`` (its record table's
    staging folder, with ``plan``; None: the table is not being written), the rejected ones to
    ``quarantine_dir`` (None: not being written). ``marks`` are the ``records.RECORD_MARKS`` rows of the
    entry's record type. Returns the figures: per source file the accepted rows and the
    ``records.STAT_COUNTS``, the first and last event date, and the quarantined rows per (source file, record
    type, reason)."""
    os.environ.setdefault("POLARS_MAX_THREADS", "1")  # one task per core already
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: dict[str, Any] = {"key": entry.key, "record_type": entry.record_type, "path": path, "rows": 0,
                           "per_file": {}, "first": None, "last": None, "quarantined": []}
    if not entry.offsets or not entry.files:  # nothing to number the rows by: none is published (as in Spark)
        return out
    need = ["record_type", "_blk", "_idx", "quarantine_reason"]
    if plan is None or table_dir is None:  # the quarantine only: a few narrow columns
        cached = pq.ParquetFile(path).read(columns=[*need, "raw"])
    else:
        cached = pq.ParquetFile(path).read()
        need += ["record_key", "party_uscc_raw", "uscc_status", "issues", "record_status", "event_date"]
        if plan.late_days is not None:
            need += [dict(plan.columns)[c] for c in ("decision_date", "publish_date")]
    cached = cached.append_column("_row", pa.array(range(cached.num_rows), pa.int64()))
    need.append("_row")
    frame = pl.from_arrow(cached.select(need))
    assert isinstance(frame, pl.DataFrame)
    rows = _numbered(frame, entry)
    accepted = pl.col("quarantine_reason").is_null()
    name = f"part-{entry.key[:16]}-{Path(path).stem.removeprefix('part-')}.parquet"
    if quarantine_dir is not None:
        rejected = rows.filter(~accepted)
        if rejected.height:
            q = pa.table({
                "source_file": rejected["source_file"].to_arrow(),
                "source_row": rejected["source_row"].to_arrow(),
                "record_type": rejected["record_type"].to_arrow(),
                "reason": rejected["quarantine_reason"].to_arrow(),
                "raw": cached.column("raw").take(pa.array(rejected["_row"].to_numpy())),
            })
            write_parquet(q.cast(_arrow_schema(QUARANTINE_SCHEMA.json())), Path(quarantine_dir) / name)
            # counted as records.rejected_stats counts them: the reason's text before ':'
            reason = pl.col("quarantine_reason").str.split(":").list.first().alias("reason")
            out["quarantined"] = list(rejected.group_by("source_file", "record_type", reason).len().iter_rows())
    if plan is None or table_dir is None:
        return out
    if rows.filter(accepted & (pl.col("record_type") != plan.record_type)).height:
        raise ValueError(f"cache entry {entry.key} holds rows of another record type than {plan.record_type}")
    rows = _marked(_with_uscc_codes(rows.filter(accepted), entry.odd), marks)
    if rows.height:
        schema = _arrow_schema(plan.schema_json)
        taken = cached.take(pa.array(rows["_row"].to_numpy()))
        columns = [taken.column(source) if source is not None else rows[column].to_arrow()
                   for column, source in plan.columns]
        table = pa.Table.from_arrays([c.cast(f.type) for c, f in zip(columns, schema, strict=True)],
                                     schema=schema)
        write_parquet(table, Path(table_dir) / name)
        out["rows"] = table.num_rows
        out["first"], out["last"] = rows["event_date"].min(), rows["event_date"].max()
    out["per_file"] = _accepted_figures(rows, plan)
    return out


def _numbered(rows: Any, entry: EntryPlan) -> Any:
    """``records.number_rows``: each row (of a known read block) once per file holding the entry, with the
    file, its content hash and the data-row number; a truncated file's last row quarantined."""
    import polars as pl

    blocks = sorted(entry.offsets)
    rows = rows.with_columns(
        pl.col("_blk").replace_strict(blocks, [entry.offsets[b] for b in blocks], default=None,
                                      return_dtype=pl.Int64).alias("_offset")
    ).filter(pl.col("_offset").is_not_null())
    row = (pl.col("_offset") + pl.col("_idx") + 1).cast(pl.Int64)
    reason = pl.col("quarantine_reason")
    per_file = []
    for name, sha, last in entry.files:
        cut = reason.is_null() & (row == last) if last is not None else pl.lit(False)
        per_file.append(rows.with_columns(
            pl.when(cut).then(pl.lit(R.TRUNCATED)).otherwise(reason).alias("quarantine_reason"),
            pl.lit(name, pl.String).alias("source_file"),
            pl.lit(sha, pl.String).alias("source_sha256"),
            row.alias("source_row"),
        ))
    return pl.concat(per_file)


def _with_uscc_codes(rows: Any, odd: dict[str, str]) -> Any:
    """``records.add_uscc_status``: every identifier's status (the ``odd`` ones decided on the driver) and the
    codes a valid USCC carries."""
    import polars as pl

    status = pl.col("uscc_status")
    if odd:
        values = sorted(odd)
        status = pl.coalesce(status, pl.col("party_uscc_raw").replace_strict(
            values, [odd[v] for v in values], default=None, return_dtype=pl.String))
    rows = rows.with_columns(pl.coalesce(status, pl.lit("missing")).alias("uscc_status"))
    valid, uscc = pl.col("uscc_status") == "valid", pl.col("party_uscc_raw")
    return rows.with_columns(
        pl.when(valid).then(uscc).alias("party_uscc"),
        pl.when(valid).then(uscc.str.slice(0, 1)).alias("reg_dept_code"),
        pl.when(valid).then(uscc.str.slice(1, 1)).alias("org_category_code"),
        pl.when(valid).then(uscc.str.slice(2, 6)).alias("division_code"),
    )


_POLARS_TYPES = {"string": "String", "int": "Int32", "bigint": "Int64"}


def _marks_schema() -> dict[str, Any]:
    """The polars schema of ``records.RECORD_MARKS`` (read from its DDL: one definition)."""
    import polars as pl

    columns = (c.split() for c in R.RECORD_MARKS.split(","))
    return {name: getattr(pl, _POLARS_TYPES[kind]) for name, kind in columns}


def _marked(rows: Any, marks: list[tuple[Any, ...]]) -> Any:
    """``records.mark_records`` for accepted rows: ``is_current``, ``versions`` and the objection outcome from
    the ``records.RECORD_MARKS`` rows (none: every row is its record's only version)."""
    import polars as pl

    if not marks:
        return rows.with_columns(
            pl.lit(True).alias("is_current"), pl.lit(1, pl.Int32).alias("versions"),
            pl.lit(None, pl.String).alias("objection_status"), pl.lit(None, pl.String).alias("objection_id"),
        )
    table = pl.DataFrame(marks, orient="row", schema=_marks_schema())
    rows = rows.with_row_index("_order").join(table, on=["record_type", "record_key"], how="left")
    rows = rows.sort("_order")  # the cached order, which the written rows follow
    current = pl.col("_current_file").is_null() | (
        (pl.col("source_file") == pl.col("_current_file")) & (pl.col("source_row") == pl.col("_current_row")))
    return rows.with_columns(
        current.fill_null(False).alias("is_current"),
        pl.coalesce(pl.col("versions"), pl.lit(1, pl.Int32)).cast(pl.Int32).alias("versions"),
    )


def _accepted_figures(rows: Any, plan: TablePlan) -> dict[str, dict[str, int]]:
    """Per source file, the accepted rows and the ``records.STAT_COUNTS`` (``records.accepted_stats``)."""
    import polars as pl

    status = pl.col("uscc_status")
    objection = pl.col("objection_status") if plan.objections else pl.lit(None, pl.String)
    late: Any = pl.lit(False)
    if plan.late_days is not None:
        taken = dict(plan.columns)
        late = _working_days(pl.col(taken["decision_date"]), pl.col(taken["publish_date"])) > plan.late_days
    conditions = {
        "duplicates": ~pl.col("is_current"),
        "uscc_valid": status == "valid",
        "uscc_invalid": status.is_in(list(_INVALID)),
        "uscc_missing": status == "missing",
        "uscc_placeholder": status == "placeholder",
        "revoked_or_invalid": pl.col("record_status") != "active",
        "rows_with_issues": pl.col("issues").list.len() > 0,
        "late_publication": late,
        "objection_corrected": objection == "corrected",
        "objection_retracted": objection == "retracted",
    }
    counts = rows.group_by("source_file").agg(
        pl.len().alias("accepted"), *[c.fill_null(False).sum().alias(n) for n, c in conditions.items()]
    )
    return {r["source_file"]: {k: int(v) for k, v in r.items() if k != "source_file"}
            for r in counts.to_dicts()}
