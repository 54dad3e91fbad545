"""Ingest job: raw exports -> typed record tables (``ingest/<record_type>``), quarantine, data-quality report.

Per file, rows in = rows accepted + rows quarantined; the job checks it against an independent count of
the file's lines and fails loudly when they disagree. A file that cannot be loaded at all is reported
(and kept in quarantine as one row with its reason); it never stops the other files.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from radar.errors import InputError, RadarError
from radar.ingest import records as R
from radar.ingest.files import SourceFile, discover
from radar.ingest.headers import map_headers
from radar.jobs.context import RunContext

QUARANTINE_TABLE = "ingest/quarantine"
DQ_TABLE = "reports/dq"
QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("source_file", T.StringType()),
        T.StructField("source_row", T.LongType()),
        T.StructField("record_type", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("raw", T.StringType()),
    ]
)


def records_table(record_type: str) -> str:
    """Lake table of a record type."""
    return f"ingest/{record_type}"


def _empty_raw(ctx: RunContext, record_type: str) -> tuple[DataFrame, SourceFile]:
    """A zero-row raw frame with every field, so a record type without files still gets its table."""
    from pathlib import Path

    fields = list(ctx.sources.record_types[record_type].fields)
    sf = SourceFile(path=Path("/dev/null"), relpath="", format="csv", size=0, headers=fields)
    sf.mapping = map_headers(fields, record_type, ctx.sources)
    schema = T.StructType(
        [T.StructField(f, T.StringType()) for f in fields]
        + [T.StructField(R.CORRUPT, T.StringType()), T.StructField("_file", T.StringType()),
           T.StructField("source_row", T.LongType())]
    )
    return ctx.spark.createDataFrame([], schema), sf


def run(ctx: RunContext) -> dict[str, Any]:
    """Load every file of ``ctx.input_dir`` into the lake; returns the data-quality report."""
    spark, src = ctx.spark, ctx.sources
    if ctx.input_dir is None:
        raise InputError("no input folder given")
    files = discover(ctx.input_dir, src)
    loadable = [f for f in files if f.problem is None]
    if not loadable:
        shown = "; ".join(f"{f.relpath}: {f.problem}" for f in files[:10])
        raise InputError(f"{ctx.input_dir}: no loadable export files ({shown})")

    lines = R.nonblank_line_counts(spark, loadable)
    raws = {f.relpath: R.read_source(spark, f) for f in loadable}
    blocks = reduce(DataFrame.unionAll, [r.select("_file", "_blk", "_idx") for r in raws.values()])
    offsets_rows = R.block_offsets(blocks).collect()
    offsets = spark.createDataFrame(offsets_rows, "_file string, _blk long, _offset long")
    rows_read = {f.relpath: 0 for f in loadable}
    for r in blocks.groupBy("_file").count().collect():
        rows_read[r["_file"]] = r["count"]

    per_file: dict[str, dict[str, Any]] = {}
    date_range: dict[str, tuple[Any, Any]] = {}
    with ctx.lake.staging(QUARANTINE_TABLE, ctx.as_of) as q_dir:
        rejected = [
            (f.relpath, 0, f.record_type, f"file not loaded: {f.problem}", ",".join(f.headers)[:500])
            for f in files
            if f.problem
        ]
        spark.createDataFrame(rejected, QUARANTINE_SCHEMA).coalesce(1).write.mode("append").parquet(str(q_dir))
        for rt_name, rt in src.record_types.items():
            rt_files = [f for f in loadable if f.record_type == rt_name]
            if not rt_files:
                # the table's schema comes from the plan alone; writing rows-free data needs no pipeline run
                empty, sf = _empty_raw(ctx, rt_name)
                shape = R.mark_current(R.add_record_columns(R.parse_source(empty, sf, rt, src), rt_name, rt, src))
                schema = shape.drop("quarantine_reason", "raw").schema
                ctx.lake.publish_spark(spark.createDataFrame([], schema), records_table(rt_name), ctx.as_of,
                                       partitions=1)
                continue
            parts = [R.parse_source(R.number_rows(raws[f.relpath], offsets), f, rt, src) for f in rt_files]
            parsed = reduce(DataFrame.unionByName, parts)
            parsed = R.add_truncation(parsed, rt_files, rows_read)
            parsed = R.mark_current(R.add_record_columns(parsed, rt_name, rt, src))
            parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)
            accepted = parsed.where(F.col("quarantine_reason").isNull()).drop("quarantine_reason", "raw")
            ctx.lake.publish_spark(accepted, records_table(rt_name), ctx.as_of, partitions=_partitions(ctx, rt_files))
            parsed.where(F.col("quarantine_reason").isNotNull()).select(
                "source_file", "source_row", "record_type", F.col("quarantine_reason").alias("reason"), "raw"
            ).coalesce(1).write.mode("append").parquet(str(q_dir))
            stats, rng = _file_stats(parsed, rt_name, rt_files)
            per_file.update(stats)
            if rng:
                date_range[rt_name] = rng
            parsed.unpersist()

    report = _report(ctx, files, per_file, lines, rows_read, date_range)
    ctx.lake.publish_json(DQ_TABLE, ctx.as_of, report)
    bad = [f for f, s in report["files"].items() if s.get("reconciled") is False]
    if bad:
        raise RadarError(
            "row counts do not reconcile (rows in != accepted + quarantined) for: "
            + ", ".join(f"{f} ({report['files'][f]})" for f in bad[:5])
        )
    return report


def _partitions(ctx: RunContext, files: list[SourceFile]) -> int:
    size = sum(f.size for f in files)
    return max(1, min(ctx.profile.spark.shuffle_partitions, size // (64 << 20) + 1))


def _file_stats(
    parsed: DataFrame, rt_name: str, rt_files: list[SourceFile]
) -> tuple[dict[str, dict[str, Any]], tuple[Any, Any] | None]:
    """Per-file counts (accepted, quarantined by reason, duplicates, identifier quality, late publication) and
    the record type's event-date range, in one aggregation."""
    cols = set(parsed.columns)
    late = (
        R.working_days_between(F.col("decision_date"), F.col("publish_date")) > 7
        if {"decision_date", "publish_date"} <= cols
        else F.lit(False)
    )
    acc = F.col("quarantine_reason").isNull()

    def n(cond: Any) -> Any:
        return F.sum(F.when(acc & cond, 1).otherwise(0))

    rows = parsed.groupBy(
        "source_file", F.substring_index(F.col("quarantine_reason"), ":", 1).alias("reason")
    ).agg(
        F.count(F.lit(1)).alias("rows"),
        n(~F.col("is_current")).alias("duplicates"),
        n(F.col("uscc_status") == "valid").alias("uscc_valid"),
        n(F.col("uscc_status").isin("invalid_checksum", "invalid_format")).alias("uscc_invalid"),
        n(F.col("uscc_status") == "missing").alias("uscc_missing"),
        n(F.col("uscc_status") == "placeholder").alias("uscc_placeholder"),
        n(F.col("record_status") != "active").alias("revoked_or_invalid"),
        n(F.size("issues") > 0).alias("rows_with_issues"),
        n(F.coalesce(late, F.lit(False))).alias("late_publication"),
        F.min(F.when(acc, F.col("event_date"))).alias("first"),
        F.max(F.when(acc, F.col("event_date"))).alias("last"),
    ).collect()
    out: dict[str, dict[str, Any]] = {
        f.relpath: {"record_type": rt_name, "accepted": 0, "quarantined": 0, "quarantine_reasons": {}} for f in rt_files
    }
    firsts, lasts = [], []
    for r in rows:
        st = out[r["source_file"]]
        if r["reason"] is None:
            st["accepted"] += r["rows"]
            for k in ("duplicates", "uscc_valid", "uscc_invalid", "uscc_missing", "uscc_placeholder",
                      "revoked_or_invalid", "rows_with_issues", "late_publication"):
                st[k] = st.get(k, 0) + int(r[k] or 0)
            if r["first"] is not None:
                firsts.append(r["first"])
                lasts.append(r["last"])
        else:
            st["quarantined"] += r["rows"]
            st["quarantine_reasons"][r["reason"]] = st["quarantine_reasons"].get(r["reason"], 0) + r["rows"]
    return out, ((min(firsts), max(lasts)) if firsts else None)


def _report(
    ctx: RunContext,
    files: list[SourceFile],
    per_file: dict[str, dict[str, Any]],
    lines: dict[str, int],
    rows_read: dict[str, int],
    date_range: dict[str, tuple[Any, Any]],
) -> dict[str, Any]:
    out_files: dict[str, Any] = {}
    by_type: dict[str, dict[str, Any]] = {}
    for f in files:
        s: dict[str, Any] = {
            "record_type": f.record_type,
            "format": f.format,
            "encoding": (f.encoding or "") + (" (BOM)" if f.has_bom else ""),
            "bytes": f.size,
            "sha256": f.sha256,
        }
        if f.problem:
            s.update({"loaded": False, "problem": f.problem, "rows_in": None})
        else:
            st = per_file.get(f.relpath, {})
            quarantined = int(st.get("quarantined", 0))
            accepted = int(st.get("accepted", 0))
            s.update(
                {
                    "loaded": True,
                    "rows_in": lines.get(f.relpath, 0),
                    "rows_read": rows_read.get(f.relpath, 0),
                    "accepted": accepted,
                    "quarantined": quarantined,
                    "quarantine_reasons": st.get("quarantine_reasons", {}),
                    "unknown_columns": f.mapping.unknown if f.mapping else [],
                    **{k: v for k, v in st.items() if k not in ("accepted", "quarantined", "record_type",
                                                                 "quarantine_reasons")},
                }
            )
            s["reconciled"] = s["rows_in"] == accepted + quarantined == s["rows_read"]
            if s["rows_in"] == 0 and s["rows_read"] == 0:
                s["note"] = "no data rows (header only)" if f.format == "csv" else "no data rows"
            t = by_type.setdefault(
                f.record_type or "?",
                {"files": 0, "rows_in": 0, "accepted": 0, "quarantined": 0, "duplicates": 0, "uscc_invalid": 0,
                 "uscc_missing": 0, "uscc_placeholder": 0, "late_publication": 0, "unknown_columns": []},
            )
            t["files"] += 1
            for k in ("rows_in", "accepted", "quarantined", "duplicates", "uscc_invalid", "uscc_missing",
                      "uscc_placeholder", "late_publication"):
                t[k] += int(s.get(k) or 0)
            t["unknown_columns"] = sorted(set(t["unknown_columns"]) | set(s["unknown_columns"]))
        out_files[f.relpath] = s
    for t in by_type.values():
        n = max(1, t["accepted"])
        t["invalid_uscc_rate"] = round(t["uscc_invalid"] / n, 4)
        t["missing_uscc_rate"] = round(t["uscc_missing"] / n, 4)
        t["duplicate_rate"] = round(t["duplicates"] / n, 4)
        # the seed's 重错码率: duplicate or wrong codes among accepted rows
        t["dup_or_wrong_code_rate"] = round((t["duplicates"] + t["uscc_invalid"]) / n, 4)
    return {
        "as_of": ctx.as_of_s,
        "input": str(ctx.input_dir),
        "files": out_files,
        "record_types": by_type,
        "files_rejected": [f.relpath for f in files if f.problem],
        "event_dates": {rt: [a.isoformat(), b.isoformat()] for rt, (a, b) in sorted(date_range.items())},
    }
