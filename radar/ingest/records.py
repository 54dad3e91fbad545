"""From sniffed export files to typed record tables and quarantine rows (Spark).

``read_source`` reads one file lazily with every column as text, under its canonical name; ``parse_source``
types the values and decides, per row, whether it is accepted or quarantined (and why);
``mark_current`` folds re-sent rows of one natural key into one current record, keeping every version.
Rows keep their source file and data-row number (1-based, the header not counted).
"""

from __future__ import annotations

import os
import re
from functools import reduce
from pathlib import Path
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from radar.config import FieldSpec, RecordTypeSpec, Sources
from radar.ingest import parse
from radar.ingest.files import SourceFile

CORRUPT = "_corrupt"
ROW_BITS = 33  # monotonically_increasing_id keeps the row index within a partition in its lower 33 bits


def field_column(name: str, spec: FieldSpec) -> str:
    """Name of a canonical field in the typed table (money is normalised to yuan and says so)."""
    return f"{name}_yuan" if spec.type == "money" else name


def _field_type(spec: FieldSpec) -> T.DataType:
    return {
        "string": T.StringType(),
        "date": T.DateType(),
        "money": T.DoubleType(),
        "decimal": T.DoubleType(),
        "int": T.IntegerType(),
        "list": T.ArrayType(T.StringType()),
        "bool": T.BooleanType(),
    }[spec.type]


def _raw_names(sf: SourceFile) -> list[str]:
    """Column names for the file's columns in order: the canonical field, or _u<i> for unknown/duplicate."""
    by_header = {c.source: c.field for c in sf.mapping.columns} if sf.mapping else {}
    names, used = [], set()
    for i, h in enumerate(sf.headers):
        f = by_header.get(h)
        if f is None or f in used:
            names.append(f"_u{i}")
        else:
            used.add(f)
            names.append(f)
    return names


_GLOB_CHARS = re.compile(r"([\\\[\]{}*?])")


def spark_path(path: Path) -> str:
    """A local file's absolute path for Spark's readers, glob characters escaped (``行政处罚[1].csv`` is a
    file name, not a pattern)."""
    return _GLOB_CHARS.sub(r"\\\1", os.path.abspath(path))


def local_path_of(uri: str) -> str:
    """The real local path of a file URI as Spark reports it (``_metadata.file_path`` is percent-encoded:
    a space is ``%20``)."""
    path = uri.removeprefix("file://") if uri.startswith("file:///") else uri.removeprefix("file:")
    return os.path.realpath(unquote(path))


def read_source(spark: SparkSession, sf: SourceFile) -> DataFrame:
    """Read one export lazily: canonical text columns, unknown columns as ``_u<i>``, the corrupt-record text,
    and the file block and row index needed to number rows."""
    names = _raw_names(sf)
    schema = T.StructType([T.StructField(n, T.StringType()) for n in names])
    if sf.format == "csv":
        schema = schema.add(T.StructField(CORRUPT, T.StringType()))
        df = spark.read.csv(
            spark_path(sf.path),
            schema=schema,
            header=True,
            enforceSchema=True,
            sep=sf.delimiter,
            encoding=sf.spark_encoding,
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=CORRUPT,
            multiLine=False,
            escape='"',
        )
    else:  # JSON lines: read keys as they are, then rename
        jschema = T.StructType([T.StructField(h, T.StringType()) for h in sf.headers]).add(
            T.StructField(CORRUPT, T.StringType())
        )
        # Spark's JSON reader needs an explicit line separator for any charset but UTF-8 (a CR before it is
        # JSON whitespace)
        sep = {} if sf.spark_encoding == "UTF-8" else {"lineSep": "\n"}
        df = spark.read.json(
            spark_path(sf.path), schema=jschema, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT,
            encoding=sf.spark_encoding, **sep,
        )
        df = df.toDF(*names, CORRUPT)
    # numbering must be taken right after the scan, before any filter
    mid = F.monotonically_increasing_id()
    return df.select(
        "*",
        F.lit(sf.relpath).alias("_file"),
        F.col("_metadata.file_block_start").alias("_blk"),
        (mid.bitwiseAND(F.lit((1 << ROW_BITS) - 1))).alias("_idx"),
    )


def nonblank_line_counts(spark: SparkSession, files: list[SourceFile]) -> dict[str, int]:
    """Data rows per file counted independently of the CSV parser: non-blank lines minus the header.

    Blank means what the readers skip: for CSV a line of characters up to U+0020 only (Spark trims those,
    tabs and control characters included), for JSON lines a line of JSON whitespace only.
    """
    if not files:
        return {}
    by_path = {os.path.realpath(f.path): f for f in files}
    df = spark.read.text([spark_path(f.path) for f in files]).select(
        F.col("_metadata.file_path").alias("p"), F.col("value")
    )
    rows = df.groupBy("p").agg(
        F.sum(F.col("value").rlike("[^\\x00-\\x20]").cast("int")).alias("csv"),
        F.sum(F.col("value").rlike("[^ \\t\\r\\n]").cast("int")).alias("json"),
    ).collect()
    out = {f.relpath: 0 for f in files}
    for r in rows:
        sf = by_path.get(local_path_of(r["p"]))
        if sf is not None:
            n = int(r["csv"] or 0) - 1 if sf.format == "csv" else int(r["json"] or 0)
            out[sf.relpath] = max(0, n)
    return out


def block_offsets(raw: DataFrame) -> DataFrame:
    """(_file, _blk, _offset): rows of the file before each block, so row = offset + index + 1."""
    w = Window.partitionBy("_file").orderBy("_blk").rowsBetween(Window.unboundedPreceding, -1)
    counts = raw.groupBy("_file", "_blk").agg(F.count(F.lit(1)).alias("_n"))
    return counts.select("_file", "_blk", F.coalesce(F.sum("_n").over(w), F.lit(0)).alias("_offset"))


def number_rows(raw: DataFrame, offsets: DataFrame) -> DataFrame:
    """Add ``source_row`` (1-based data row of the file)."""
    return raw.join(F.broadcast(offsets), ["_file", "_blk"], "left").withColumn(
        "source_row", (F.col("_offset") + F.col("_idx") + 1).cast("long")
    ).drop("_offset", "_blk", "_idx")


def _typed(t: str, d: str | None, spec: FieldSpec, unit: str | None, src: Sources) -> str:
    """The SQL typing a field from its cleaned text ``t`` (and, for dates, its parsed date ``d``)."""
    if spec.type == "date":
        assert d is not None
        return f"(CASE WHEN {parse.open_ended_of(t, d, src.sentinel_dates)} THEN CAST(NULL AS DATE) ELSE {d} END)"
    if spec.type == "money":
        return parse.money_of_clean(t, unit or spec.unit or "yuan")
    if spec.type == "decimal":
        return parse.decimal_of_clean(t)
    if spec.type == "int":
        return parse.int_of_clean(t)
    if spec.type == "bool":
        return parse.bool_of_clean(t)
    if spec.type == "list":
        return parse.list_of_clean(t, src.list_separators, src.list_keep_whole)
    return t


_SQL_TYPE = {"string": "STRING", "date": "DATE", "money": "DOUBLE", "decimal": "DOUBLE", "int": "INT",
             "list": "ARRAY<STRING>", "bool": "BOOLEAN"}


def extra_column_keys(headers: list[str], positions: list[int]) -> list[str]:
    """Keys of the ``extra`` map for the columns at ``positions`` (0-based): the header text, or, for a blank
    or repeated header (Excel's trailing empty columns, two ``ID`` columns), the header with its 1-based
    column number (``#9``, ``ID#10``), so that every key is distinct."""
    names = [headers[i].strip() for i in positions]
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return [n if n and counts[n] == 1 else f"{n}#{i + 1}" for n, i in zip(names, positions, strict=True)]


def parse_source(raw: DataFrame, sf: SourceFile, rt: RecordTypeSpec, src: Sources) -> DataFrame:
    """Typed columns, data-quality issues and the quarantine reason of every row of one file.

    Built in stages (raw text -> cleaned text -> parsed dates -> typed values -> reasons) so each value is
    cleaned once; Spark keeps the stages apart because their expressions are used more than once.
    """
    assert sf.mapping is not None
    present = sf.mapping.fields
    units = {c.field: c.unit for c in sf.mapping.columns}
    in_file = [c for c in raw.columns if c in rt.fields or c.startswith("_u")]
    known = [c for c in in_file if c in rt.fields]
    unknown = [c for c in in_file if c.startswith("_u")]
    I = parse.ident  # noqa: E741

    def r(name: str) -> str:  # raw text
        return I("r__" + name)

    def c(name: str) -> str:  # cleaned text
        return I("c__" + name)

    def d(name: str) -> str:  # parsed date (before sentinel handling)
        return I("d__" + name)

    base = raw.select(*[F.col(k).alias("r__" + k) for k in known], *unknown, CORRUPT, "_file", "source_row")
    raw_text = "coalesce({c}, concat_ws({d}, {cols}))".format(
        c=CORRUPT,
        d=parse.lit(sf.delimiter),
        cols=", ".join(f"coalesce({r(k) if k in known else I(k)}, '')" for k in in_file) or "''",
    )
    cleaned = base.select("*", *[F.expr(parse.clean_text(r(k))).alias("c__" + k) for k in known],
                          F.expr(raw_text).alias("raw"))
    dates = [k for k in known if rt.fields[k].type == "date"]
    dated = cleaned.select("*", *[F.expr(parse.date_of_clean(c(k), src.timezone)).alias("d__" + k) for k in dates])

    typed: dict[str, str] = {}
    issues: list[str] = []
    for name, spec in rt.fields.items():
        out = field_column(name, spec)
        if name not in present:
            typed[out] = f"CAST(NULL AS {_SQL_TYPE[spec.type]})"
            continue
        typed[out] = _typed(c(name), d(name) if spec.type == "date" else None, spec, units.get(name), src)
        if spec.type in ("date", "money", "decimal", "int"):
            bad = f"{c(name)} IS NOT NULL AND {I(out)} IS NULL"
            if spec.type == "date":
                bad += f" AND NOT {parse.open_ended_of(c(name), d(name), src.sentinel_dates)}"
            issues.append(f"CASE WHEN {bad} THEN {parse.lit(f'bad_{spec.type}:{name}')} END")
    step = dated.select("*", *[F.expr(v).alias(k) for k, v in typed.items()])

    # quarantine reasons, the first that applies
    all_empty = " AND ".join(f"{c(k)} IS NULL" for k in known) or "true"
    reasons: list[tuple[str, str]] = [
        (f"{CORRUPT} IS NOT NULL", parse.lit(
            "malformed row: the number of columns does not match the header" if sf.format == "csv"
            else "malformed row: not a JSON object"
        )),
        (f"({all_empty})", parse.lit("empty row: no values")),
        ("contains(raw, '\\ufffd')", parse.lit(f"undecodable bytes: the row is not valid {sf.spark_encoding}")),
    ]
    for name, spec in rt.fields.items():
        if not spec.required:
            continue
        if name not in present:
            reasons.append(("true", parse.lit(f"missing required column: {name}")))
            continue
        reasons.append((f"{c(name)} IS NULL", parse.lit(f"missing required value: {name}")))
        if spec.type == "date":
            cond = f"{I(name)} IS NULL AND NOT {parse.open_ended_of(c(name), d(name), src.sentinel_dates)}"
            reasons.append((cond, f"concat({parse.lit(f'unparseable date in {name}: ')}, {r(name)})"))
    reason = "CASE " + " ".join(f"WHEN {cond} THEN {text}" for cond, text in reasons) + " END"
    extra_keys = extra_column_keys(sf.headers, [int(u[2:]) for u in unknown])
    extra = (
        "map(" + ", ".join(f"{parse.lit(k)}, {I(u)}" for k, u in zip(extra_keys, unknown, strict=True)) + ")"
        if unknown
        else "CAST(NULL AS MAP<STRING, STRING>)"
    )
    issue_expr = (
        f"filter(array({', '.join(issues)}), x -> x IS NOT NULL)" if issues else "CAST(array() AS ARRAY<STRING>)"
    )
    return step.select(
        F.lit(sf.mapping.record_type).alias("record_type"),
        F.col("_file").alias("source_file"),
        "source_row",
        F.lit(sf.sha256).alias("source_sha256"),
        *typed,
        F.expr(issue_expr).alias("issues"),
        F.expr(extra).alias("extra"),
        F.expr(reason).alias("quarantine_reason"),
        "raw",
    )


def add_truncation(df: DataFrame, files: list[SourceFile], last_rows: dict[str, int]) -> DataFrame:
    """Quarantine the last row of CSV files that end without a line break (a truncated final line).

    A JSON line cut short is no JSON object and already quarantined as malformed; a complete one is kept.
    """
    cut = [
        (f.relpath, last_rows[f.relpath])
        for f in files
        if f.format == "csv" and not f.ends_with_newline and last_rows.get(f.relpath)
    ]
    if not cut:
        return df
    cond = reduce(lambda a, b: a | b, [(F.col("source_file") == p) & (F.col("source_row") == r) for p, r in cut])
    return df.withColumn(
        "quarantine_reason",
        F.when(F.col("quarantine_reason").isNull() & cond, F.lit("truncated last line: the file ends mid-record"))
        .otherwise(F.col("quarantine_reason")),
    )


def add_record_columns(df: DataFrame, record_type: str, rt: RecordTypeSpec, src: Sources) -> DataFrame:
    """Record key, the party's identifiers (USCC status and derived codes), event date and status."""
    key_parts = []
    for k in rt.natural_key:
        spec = rt.fields[k]
        c = parse.ident(field_column(k, spec))
        key_parts.append(f"coalesce({f'date_format({c}, {chr(39)}yyyy-MM-dd{chr(39)})' if spec.type == 'date' else f'CAST({c} AS STRING)'}, '')")
    subj = rt.subject

    def col_or_null(name: str | None) -> Column:
        return F.col(name) if name else F.lit(None).cast("string")

    out = df.select(
        "*",
        F.expr(f"concat_ws('|', {', '.join(key_parts)})").alias("record_key"),
        (F.expr(parse.clean_uscc(parse.ident(subj.uscc))) if subj.uscc else F.lit(None).cast("string")).alias(
            "party_uscc_raw"
        ),
        col_or_null(subj.name).alias("party_name"),
        col_or_null(subj.address).alias("party_address"),
        col_or_null(subj.legal_rep).alias("party_legal_rep"),
        col_or_null(subj.phone).alias("party_phone"),
        (F.expr(parse.clean_uscc(parse.ident(subj.reg_no))) if subj.reg_no else F.lit(None).cast("string")).alias(
            "party_reg_no"
        ),
        F.col(rt.event_date).alias("event_date"),
    ).withColumn("uscc_status", parse.uscc_status(F.col("party_uscc_raw"), src.placeholder_uscc))
    valid = F.col("uscc_status") == "valid"
    return out.select(
        "*",
        F.when(valid, F.col("party_uscc_raw")).alias("party_uscc"),
        F.when(valid, F.substring("party_uscc_raw", 1, 1)).alias("reg_dept_code"),
        F.when(valid, F.substring("party_uscc_raw", 2, 1)).alias("org_category_code"),
        F.when(valid, F.substring("party_uscc_raw", 3, 6)).alias("division_code"),
        _status_norm(record_type).alias("record_status"),
    )


def _status_norm(record_type: str) -> Column:
    """active / revoked / invalid / abnormal from 当前状态.

    Text values are read as written. Numeric codes differ by generation (FIELDS.md §2 #25): the penalty
    status CF_ZT exists only in the 2016 layout (0 正常, 1 撤销, 2 异常); the licence status of the 2019
    layout is 1 有效, 2 无效.
    """
    s = F.col("status")
    if record_type == "penalty":
        return (
            F.when(s.contains("撤销") | (s == "1"), F.lit("revoked"))
            .when(s.contains("异常") | (s == "2"), F.lit("abnormal"))
            .otherwise(F.lit("active"))
        )
    if record_type == "license":
        return (
            F.when(s.contains("撤销"), F.lit("revoked"))
            .when(s.contains("无效") | (s == "2"), F.lit("invalid"))
            .otherwise(F.lit("active"))
        )
    return F.lit("active")


def mark_current(df: DataFrame) -> DataFrame:
    """Fold re-sent rows: the newest accepted version of each record key is current (by update time, then
    file and row). Every version is kept (nothing is deleted); ``versions`` counts them. Quarantined rows
    are never current.
    """
    order = [F.col("updated_at").desc_nulls_last()] if "updated_at" in df.columns else []
    order += [F.col("source_file").desc(), F.col("source_row").desc()]
    quarantined = F.col("quarantine_reason").isNotNull()
    part = [F.col("record_key"), quarantined]
    w = Window.partitionBy(*part).orderBy(*order)
    return df.withColumn("is_current", (F.row_number().over(w) == 1) & ~quarantined).withColumn(
        "versions", F.count(F.lit(1)).over(Window.partitionBy(*part)).cast("int")
    )


def working_days_between(start: Column, end: Column) -> Column:
    """Working days (Mon-Fri) from ``start`` to ``end``; holidays are not known and not counted."""
    days = F.datediff(end, start)
    seq = F.sequence(start, end)
    wd = F.size(F.filter(seq, lambda d: F.dayofweek(d).between(2, 6))) - 1
    return F.when(start.isNull() | end.isNull() | (days < 0) | (days > 3660), F.lit(None)).otherwise(wd)
