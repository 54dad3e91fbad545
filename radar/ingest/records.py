"""From sniffed sources to typed record tables and quarantine rows (Spark).

Two phases, so that the number of Spark jobs does not grow with record types times steps:

* **parse** (once per source, then cached): ``read_source`` reads one source lazily with every column as
  text under its canonical name; ``slot_source`` lays its columns out in *slots* shared by every record type
  (a date field goes to a date slot, a money field to a money slot ... see ``SlotLayout``); ``parse_slots``
  types the slots, decides per row whether it is accepted or quarantined (and why) and derives the record
  columns. The sources of all record types are unioned before ``parse_slots``, so one Spark job with one
  parsing expression (analysed and compiled once) parses them all into one staging shape
  (``staging_schema``) that the parse cache keeps. CSV sources are usually parsed into the same shape, row
  for row, by ``radar.ingest.columnar`` instead (column by column in polars).
* **assemble** (every run, from the cheap staging Parquet): ``number_rows`` gives each row its source file
  and data-row number (1-based, the header not counted; from the rows before each read block) and quarantines
  a truncated last line,
  ``add_uscc_status`` completes the identifiers' statuses, ``folded_records`` (re-sent rows of one natural key
  fold into one current record keeping every version) and ``objection_marks`` (records an objection corrected
  or retracted) find the few records ``mark_records`` marks; ``record_table`` and ``quarantine_table`` cut
  the published tables out of the result; ``accepted_stats`` (observed while a table is written) and
  ``rejected_stats`` count what the data-quality report needs.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from radar.config import FieldSpec, RecordTypeSpec, Sources
from radar.ingest import parse
from radar.ingest.convert import BEYOND_HEADER
from radar.ingest.files import SourceFile

CORRUPT = "_corrupt"
ROW_BITS = 33  # monotonically_increasing_id keeps the row index within a partition in its lower 33 bits
TRUNCATED = "truncated last line: the file ends mid-record"

# the record columns every record table has after its typed fields (their order is the tables' order)
RECORD_COLUMNS: list[tuple[str, T.DataType]] = [
    ("record_key", T.StringType()),
    ("party_uscc_raw", T.StringType()),
    ("party_name", T.StringType()),
    ("party_address", T.StringType()),
    ("party_legal_rep", T.StringType()),
    ("party_phone", T.StringType()),
    ("party_reg_no", T.StringType()),
    ("event_date", T.DateType()),
    ("uscc_status", T.StringType()),
    ("party_uscc", T.StringType()),
    ("reg_dept_code", T.StringType()),
    ("org_category_code", T.StringType()),
    ("division_code", T.StringType()),
    ("record_status", T.StringType()),
]
USCC_DERIVED = ("uscc_status", "party_uscc", "reg_dept_code", "org_category_code", "division_code")

KINDS = ("string", "date", "money", "decimal", "int", "bool", "list")
_KIND_TYPE: dict[str, T.DataType] = {
    "string": T.StringType(),
    "date": T.DateType(),
    "money": T.DoubleType(),
    "decimal": T.DoubleType(),
    "int": T.IntegerType(),
    "list": T.ArrayType(T.StringType()),
    "bool": T.BooleanType(),
}


def field_column(name: str, spec: FieldSpec) -> str:
    """Name of a canonical field in the typed table (money is normalised to yuan and says so)."""
    return f"{name}_yuan" if spec.type == "money" else name


# ------------------------------------------------------------------------------------------ slots
@dataclass(frozen=True)
class SlotLayout:
    """Where each field of each record type travels while sources are parsed and cached: a *slot* of its
    value kind.

    Fields of every record type share slots (``date_0`` holds a penalty's decision date and a licence's
    decision date alike), so the sources of all record types have one narrow layout (40-odd slots instead of
    240 fields) and are parsed by one projection, analysed and compiled once, not once per file or type.
    """

    width: dict[str, int]  # slots per kind
    slots: dict[str, dict[str, tuple[str, int]]]  # record type -> field -> (kind, index)

    def names(self) -> list[tuple[str, int]]:
        """Every slot (kind, index), kind by kind."""
        return [(k, i) for k in KINDS for i in range(self.width.get(k, 0))]

    def of(self, record_type: str, field: str, prefix: str = "t") -> str:
        """The slot column holding a field of a record type (``t_date_0``; other prefixes for the stages)."""
        k, i = self.slots[record_type][field]
        return f"{prefix}_{k}_{i}"


_LAYOUTS: dict[int, tuple[Sources, SlotLayout]] = {}


def _build_layout(src: Sources) -> SlotLayout:
    width: dict[str, int] = {}
    slots: dict[str, dict[str, tuple[str, int]]] = {}
    for name, rt in src.record_types.items():
        used: dict[str, int] = {}
        slots[name] = {}
        for f, spec in rt.fields.items():
            i = used.get(spec.type, 0)
            slots[name][f] = (spec.type, i)
            used[spec.type] = i + 1
        for k, n in used.items():
            width[k] = max(width.get(k, 0), n)
    return SlotLayout(width, slots)


def slot_layout(src: Sources) -> SlotLayout:
    """The slots of conf/sources.yaml: each record type's fields of a kind fill that kind's slots in order."""
    hit = _LAYOUTS.get(id(src))
    if hit is None or hit[0] is not src:
        hit = _LAYOUTS[id(src)] = (src, _build_layout(src))  # keeps src alive, so its id is not reused
    return hit[1]


def staging_schema(src: Sources) -> T.StructType:
    """The shape of a parsed row of any record type (what the parse cache holds).

    ``_blk``/``_idx`` (read block and row index within it) give the data-row number once the rows per block
    are known; ``t_<kind>_<i>`` the typed slots; ``raw`` is kept for quarantined rows (and every row of a
    truncated file, whose last row is quarantined later); ``uscc_status`` is the identifier's status where
    Spark decides it (``parse.uscc_status_sql``; null where Python must, see ``odd_identifiers``), the codes
    it carries are added when assembling.
    """
    layout = slot_layout(src)
    fields = [
        T.StructField("record_type", T.StringType()),
        T.StructField("_blk", T.LongType()),
        T.StructField("_idx", T.LongType()),
        *[T.StructField(f"t_{k}_{i}", _KIND_TYPE[k]) for k, i in layout.names()],
        T.StructField("issues", T.ArrayType(T.StringType())),
        T.StructField("extra", T.MapType(T.StringType(), T.StringType())),
        T.StructField("quarantine_reason", T.StringType()),
        T.StructField("raw", T.StringType()),
    ]
    record = [T.StructField(n, t) for n, t in RECORD_COLUMNS if n not in USCC_DERIVED or n == "uscc_status"]
    return T.StructType(fields + record)


# ------------------------------------------------------------------------------------------ reading
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


def spark_path(path: Path | str) -> str:
    """A local file's absolute path for Spark's readers, glob characters escaped (``行政处罚[1].csv`` is a
    file name, not a pattern)."""
    return _GLOB_CHARS.sub(r"\\\1", os.path.abspath(path))


def local_path_of(uri: str) -> str:
    """The real local path of a file URI as Spark reports it (``_metadata.file_path`` is percent-encoded:
    a space is ``%20``)."""
    path = uri.removeprefix("file://") if uri.startswith("file:///") else uri.removeprefix("file:")
    return os.path.realpath(unquote(path))


# How Spark's CSV reader reads every source: the schema is ours, each line is one record, a malformed line
# keeps its text in ``CORRUPT`` (radar.ingest.columnar splits lines by the same rules)
CSV_READING: dict[str, Any] = {"enforceSchema": True, "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT,
                               "multiLine": False, "escape": '"'}


def read_source(spark: SparkSession, sf: SourceFile, converted: Path | None = None) -> DataFrame:
    """Read one source lazily: canonical text columns, unknown columns as ``_u<i>``, the corrupt-record text,
    and the read block and row index needed to number rows.

    CSV and JSON lines are read where they lie; workbook sheets and JSON arrays from their JSON-lines
    conversion (``converted``; a sheet's cells are keyed ``c0``, ``c1`` ... by column position).
    """
    names = _raw_names(sf)
    schema = T.StructType([T.StructField(n, T.StringType()) for n in names])
    if sf.format == "csv":
        schema = schema.add(T.StructField(CORRUPT, T.StringType()))
        df = spark.read.csv(spark_path(sf.path), schema=schema, header=True, sep=sf.delimiter,
                            encoding=sf.spark_encoding, **CSV_READING)
    else:  # JSON lines: read keys as they are, then rename
        if sf.converted:
            assert converted is not None, f"{sf.relpath}: no conversion to read"
        keys = [f"c{i}" for i in range(len(sf.headers))] if sf.format == "xlsx" else sf.headers
        jschema = T.StructType([T.StructField(k, T.StringType()) for k in keys]).add(
            T.StructField(CORRUPT, T.StringType())
        )
        encoding = "UTF-8" if sf.converted else sf.spark_encoding
        # Spark's JSON reader needs an explicit line separator for any charset but UTF-8 (a CR before it is
        # JSON whitespace)
        sep = {} if encoding == "UTF-8" else {"lineSep": "\n"}
        df = spark.read.json(
            spark_path(converted if sf.converted else sf.path), schema=jschema, mode="PERMISSIVE",
            columnNameOfCorruptRecord=CORRUPT, encoding=encoding, **sep,
        )
        df = df.toDF(*names, CORRUPT)
    # numbering must be taken right after the scan, before any filter
    mid = F.monotonically_increasing_id()
    return df.select(
        "*",
        F.col("_metadata.file_block_start").alias("_blk"),
        (mid.bitwiseAND(F.lit((1 << ROW_BITS) - 1))).alias("_idx"),
    )


# ------------------------------------------------------------------------------------------ parsing
def extra_column_keys(headers: list[str], positions: list[int]) -> list[str]:
    """Keys of the ``extra`` map for the columns at ``positions`` (0-based): the header text, or, for a blank
    or repeated header (Excel's trailing empty columns, two ``ID`` columns), the header with its 1-based
    column number (``#9``, ``ID#10``), so that every key is distinct."""
    names = [headers[i].strip() for i in positions]
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return [n if n and counts[n] == 1 else f"{n}#{i + 1}" for n, i in zip(names, positions, strict=True)]


# What differs between sources travels with each row as a few numbers, not as text: the rows are copied from
# one parsing stage to the next, and a list of field names or a message on every row would be copied with them.
MALFORMED = (
    "malformed row: the number of columns does not match the header",  # CSV
    f"malformed row: {BEYOND_HEADER}",  # a workbook sheet
    "malformed row: not a JSON object",  # JSON lines and arrays
)
ENCODINGS = ("UTF-8", "GB18030")  # what Spark reads a text source in (SourceFile.spark_encoding)


def malformed_code(sf: SourceFile) -> int:
    """The index in ``MALFORMED`` of the message for a malformed row of ``sf``."""
    return 0 if sf.format == "csv" else 1 if sf.format == "xlsx" else 2


def _code_sql(code: str, texts: tuple[str, ...]) -> str:
    """The text a row's code (``code``: an index into ``texts``) stands for."""
    return "(CASE " + " ".join(f"WHEN {code} = {i} THEN {parse.lit(t)}" for i, t in enumerate(texts)) + " END)"


def present_mask(rt: RecordTypeSpec, fields: set[str]) -> int:
    """The fields of a record type a source has, as bits: bit ``j`` for the ``j``-th field of conf/sources.yaml."""
    assert len(rt.fields) <= 63, "a record type has more fields than a presence mask holds"
    return sum(1 << j for j, f in enumerate(rt.fields) if f in fields)


def slot_source(raw: DataFrame, sf: SourceFile, src: Sources) -> DataFrame:
    """One source's rows in the slot layout shared by every source (``SlotLayout``), ready for ``parse_slots``.

    What differs between files travels as per-row literals: the record type, the fields present (``_present``,
    see ``present_mask``), the money slots whose unit is 万元 (``_wan``, one bit per slot), the codes of the
    messages for a malformed row (``_fmt``, see ``MALFORMED``) and undecodable bytes (``_enc``, see
    ``ENCODINGS``), whether the raw text must be kept; unknown columns are folded into ``_extra`` and the row's
    text into ``_raw``. One ``selectExpr``.
    """
    assert sf.mapping is not None
    rt_name = sf.mapping.record_type
    rt = src.record_types[rt_name]
    layout = slot_layout(src)
    by_slot = {v: f for f, v in layout.slots[rt_name].items()}
    I = parse.ident  # noqa: E741
    in_file = [c for c in raw.columns if c in rt.fields or c.startswith("_u")]
    unknown = [c for c in in_file if c.startswith("_u")]
    exprs = []
    for k, i in layout.names():
        f = by_slot.get((k, i))
        exprs.append(f"{I(f) if f and f in raw.columns else 'CAST(NULL AS STRING)'} AS s_{k}_{i}")
    extra_keys = extra_column_keys(sf.headers, [int(u[2:]) for u in unknown])
    extra = (
        "map(" + ", ".join(f"{parse.lit(k)}, {I(u)}" for k, u in zip(extra_keys, unknown, strict=True)) + ")"
        if unknown else "CAST(NULL AS MAP<STRING, STRING>)"
    )
    text = "coalesce({c}, concat_ws({d}, {cols}))".format(
        c=CORRUPT, d=parse.lit(sf.delimiter), cols=", ".join(f"coalesce({I(c)}, '')" for c in in_file) or "''"
    )
    units = {c.field: c.unit for c in sf.mapping.columns}
    money = [by_slot.get(("money", i)) for i in range(layout.width.get("money", 0))]
    wan = sum(1 << i for i, f in enumerate(money) if f and (units.get(f) or rt.fields[f].unit) == "wan")
    return raw.selectExpr(
        *exprs,
        f"{parse.lit(rt_name)} AS record_type",
        f"{extra} AS _extra",
        f"{text} AS _raw",
        f"{CORRUPT} IS NOT NULL AS _malformed",
        "_blk",
        "_idx",
        f"{parse.lit(sf.cache_key)} AS _key",
        f"CAST({present_mask(rt, sf.mapping.fields)} AS BIGINT) AS _present",
        f"{wan} AS _wan",
        f"{malformed_code(sf)} AS _fmt",
        f"{ENCODINGS.index(sf.spark_encoding)} AS _enc",
        f"{'true' if sf.truncated else 'false'} AS _keep_raw",
    )


def _per_type_sql(make: dict[str, str], default: str = "NULL") -> str:
    """A CASE on ``record_type`` choosing each record type's expression."""
    branches = " ".join(f"WHEN record_type = {parse.lit(rt)} THEN {e}" for rt, e in make.items())
    return f"(CASE {branches} ELSE {default} END)" if make else default


# Bytes of source text per parsing task. The parsing projection is too wide for whole-stage code generation,
# so every task generates the code of its stages anew (some 70 ms of CPU): with one task per file that fixed
# cost was most of the parse of a small city. Sources smaller than this together share a task; there are at
# least as many tasks as cores, and large inputs keep many tasks so the cores stay evenly loaded.
BYTES_PER_PARSE_TASK = 32 << 20


def parse_tasks(df: DataFrame) -> int | None:
    """How many tasks should parse the sources ``df`` reads (see ``BYTES_PER_PARSE_TASK``); None when their
    sizes cannot be read here (not local files)."""
    try:
        total = sum(os.path.getsize(local_path_of(u)) for u in df.inputFiles())
    except OSError:
        return None
    return max(df.sparkSession.sparkContext.defaultParallelism, math.ceil(total / BYTES_PER_PARSE_TASK))


# the per-row literals of ``slot_source`` that every parsing stage passes on
_PASSED = ["record_type", "_extra", "_raw", "_malformed", "_blk", "_idx", "_key", "_present", "_wan", "_fmt",
           "_enc", "_keep_raw"]
UNDECODABLE = tuple(f"undecodable bytes: the row is not valid {e}" for e in ENCODINGS)


def parse_slots(df: DataFrame, src: Sources) -> DataFrame:
    """Typed slots, data-quality issues, the quarantine reason and the record columns of ``slot_source`` rows
    of any record types, in the staging shape (``staging_schema``) plus ``_key``.

    Built in stages (raw text -> cleaned text -> parsed dates and typed values -> open-ended dates -> reasons
    and record columns -> raw text of rejected rows) so each value is cleaned once; Spark keeps the stages
    apart because their expressions are used more than once. Each stage passes on only what a later one
    reads: the projection is too wide for whole-stage code generation, so every stage copies its rows, and
    narrow rows are cheap to copy. Issues follow the order of the fields in conf/sources.yaml; the quarantine
    reason is the first that applies.
    """
    layout = slot_layout(src)
    slots = layout.names()
    dates = [i for k, i in slots if k == "date"]
    typed_kinds = [(k, i) for k, i in slots if k != "string"]  # their cleaned text tells a bad value from none
    s_dates = [f"s_date_{i}" for i in dates]  # the text of an unparseable required date goes into its reason
    tasks = parse_tasks(df)
    if tasks is not None:
        df = df.coalesce(tasks)  # no shuffle; row numbers are taken below it (read_source)
    cleaned = df.selectExpr(*_PASSED, *s_dates, *[f"{parse.clean_text(f's_{k}_{i}')} AS c_{k}_{i}" for k, i in slots])

    def typed_sql(k: str, i: int) -> str:
        c = f"c_{k}_{i}"
        return {
            "date": parse.date_of_clean(c, src.timezone),
            "money": parse.money_of_clean(c, "yuan", f"IF((_wan & {1 << i}) != 0, 'wan', 'yuan')"),
            "decimal": parse.decimal_of_clean(c),
            "int": parse.int_of_clean(c),
            "bool": parse.bool_of_clean(c),
            "list": parse.list_of_clean(c, src.list_separators, src.list_keep_whole),
        }.get(k, c)

    all_empty = " AND ".join(f"c_{k}_{i} IS NULL" for k, i in slots) or "true"
    # a date slot's parsed date is d_date_<i> until open-ended dates are told apart; a string slot's value is its
    # cleaned text
    typed = cleaned.selectExpr(
        *_PASSED, *s_dates, *[f"c_{k}_{i}" for k, i in typed_kinds],
        *[f"{typed_sql(k, i)} AS {'d' if k == 'date' else 't'}_{k}_{i}" for k, i in slots],
        f"({all_empty}) AS _empty",
    )
    opened = typed.selectExpr(
        *_PASSED, *s_dates, *[f"c_{k}_{i}" for k, i in typed_kinds],
        *[f"t_{k}_{i}" for k, i in slots if k != "date"], "_empty",
        *[f"{parse.open_ended_of(f'c_date_{i}', f'd_date_{i}', src.sentinel_dates)} AS o_date_{i}" for i in dates],
        *[f"CASE WHEN {parse.open_ended_of(f'c_date_{i}', f'd_date_{i}', src.sentinel_dates)} "
          f"THEN CAST(NULL AS DATE) ELSE d_date_{i} END AS t_date_{i}" for i in dates],
    )

    def cleaned_of(k: str, i: int) -> str:  # a string slot's cleaned text is its value
        return f"t_{k}_{i}" if k == "string" else f"c_{k}_{i}"

    issues: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for rt_name, rt in src.record_types.items():
        found, why = [], []
        for j, (f, spec) in enumerate(rt.fields.items()):
            k, i = layout.slots[rt_name][f]
            if k in ("date", "money", "decimal", "int"):
                bad = f"c_{k}_{i} IS NOT NULL AND t_{k}_{i} IS NULL" + (f" AND NOT o_date_{i}" if k == "date" else "")
                found.append(f"CASE WHEN {bad} THEN {parse.lit(f'bad_{k}:{f}')} END")
            if spec.required:
                why.append(f"WHEN (_present & {1 << j}) = 0 THEN {parse.lit(f'missing required column: {f}')}")
                why.append(f"WHEN {cleaned_of(k, i)} IS NULL THEN {parse.lit(f'missing required value: {f}')}")
                if k == "date":
                    why.append(f"WHEN t_date_{i} IS NULL AND NOT o_date_{i} "
                               f"THEN concat({parse.lit(f'unparseable date in {f}: ')}, s_date_{i})")
        issues[rt_name] = f"array_compact(array({', '.join(found)}))" if found else "CAST(array() AS ARRAY<STRING>)"
        if why:
            reasons[rt_name] = "CASE " + " ".join(why) + " END"
    reason = (
        f"CASE WHEN _malformed THEN {_code_sql('_fmt', MALFORMED)} "
        "WHEN _empty THEN 'empty row: no values' "
        f"WHEN contains(_raw, '\\ufffd') THEN {_code_sql('_enc', UNDECODABLE)} "
        f"ELSE {_per_type_sql(reasons)} END"
    )

    keys, status, event = {}, {}, {}
    subject: dict[str, dict[str, str]] = {a: {} for a in ("uscc", "name", "address", "legal_rep", "phone", "reg_no")}
    for rt_name, rt in src.record_types.items():
        parts = []
        for f in rt.natural_key:
            col = layout.of(rt_name, f)
            parts.append(f"coalesce(date_format({col}, 'yyyy-MM-dd'), '')" if rt.fields[f].type == "date"
                         else f"coalesce(CAST({col} AS STRING), '')")
        keys[rt_name] = f"concat_ws('|', {', '.join(parts)})"
        for a in subject:
            f = getattr(rt.subject, a)
            if f:
                col = layout.of(rt_name, f)
                subject[a][rt_name] = parse.uscc_of_clean(col) if a in ("uscc", "reg_no") else col
        event[rt_name] = layout.of(rt_name, rt.event_date)
        norm = _status_norm(rt_name, layout.of(rt_name, "status") if "status" in rt.fields else None)
        if norm:
            status[rt_name] = norm
    record = [
        f"{_per_type_sql(keys)} AS record_key",
        f"{_per_type_sql(subject['uscc'])} AS party_uscc_raw",
        f"{_per_type_sql(subject['name'])} AS party_name",
        f"{_per_type_sql(subject['address'])} AS party_address",
        f"{_per_type_sql(subject['legal_rep'])} AS party_legal_rep",
        f"{_per_type_sql(subject['phone'])} AS party_phone",
        f"{_per_type_sql(subject['reg_no'])} AS party_reg_no",
        f"{_per_type_sql(event)} AS event_date",
        f"{_per_type_sql(status, parse.lit('active'))} AS record_status",
    ]
    checked = opened.selectExpr(
        "record_type", "_blk", "_idx", *[f"t_{k}_{i}" for k, i in slots],
        f"{_per_type_sql(issues)} AS issues", "_extra", f"{reason} AS quarantine_reason", "_raw", "_keep_raw",
        *record, "_key",
    )
    return checked.selectExpr(
        "record_type",
        "_blk",
        "_idx",
        *[f"t_{k}_{i}" for k, i in slots],
        "issues",
        "_extra AS extra",
        "quarantine_reason",
        "CASE WHEN quarantine_reason IS NOT NULL OR _keep_raw THEN _raw END AS raw",
        *[r.rsplit(" AS ", 1)[1] for r in record],
        f"{parse.uscc_status_sql('party_uscc_raw', src.placeholder_uscc, normalized=True)} AS uscc_status",
        "_key",
    )


def _status_norm(record_type: str, status: str | None) -> str | None:
    """SQL for active / revoked / invalid / abnormal from 当前状态 (``status``: its column), or None when the
    record type has no status (always active).

    Text values are read as written. Numeric codes differ by generation (FIELDS.md §2 #25): the penalty
    status CF_ZT exists only in the 2016 layout (0 正常, 1 撤销, 2 异常); the licence status of the 2019
    layout is 1 有效, 2 无效.
    """
    if status is None:
        return None
    s = status
    if record_type == "penalty":
        return (f"CASE WHEN contains({s}, '撤销') OR {s} = '1' THEN 'revoked' "
                f"WHEN contains({s}, '异常') OR {s} = '2' THEN 'abnormal' ELSE 'active' END")
    if record_type == "license":
        return (f"CASE WHEN contains({s}, '撤销') THEN 'revoked' "
                f"WHEN contains({s}, '无效') OR {s} = '2' THEN 'invalid' ELSE 'active' END")
    return None


# ------------------------------------------------------------------------------------------ assembling
def small(df: DataFrame) -> DataFrame:
    """A small table (the result of an aggregation) in one partition per core instead of one per shuffle
    partition: it is collected to the driver, and each shuffle partition would be a task of its own."""
    return df.coalesce(df.sparkSession.sparkContext.defaultParallelism)


def add_uscc_status(df: DataFrame, odd: dict[str, str]) -> DataFrame:
    """The identifier's status and, for a valid USCC, the USCC and the codes it carries: registration
    department (1st character), organisation category (2nd), division (3rd to 8th). The status was decided
    when parsing (``uscc_status``) except for the ``odd`` values, decided in Python (``odd_identifiers``)."""
    status = F.col("uscc_status")
    if odd:  # one set of values per status (a hashed lookup, whatever their number), written as SQL text: one
        # call into the JVM, where a Column per value cost two (a city's 1,506 values: 0.8 s a table)
        by_status: dict[str, list[str]] = {}
        for k, v in odd.items():
            by_status.setdefault(v, []).append(k)
        pick = " ".join(f"WHEN party_uscc_raw IN ({', '.join(parse.lit(v) for v in sorted(values))}) "
                        f"THEN {parse.lit(s)}" for s, values in sorted(by_status.items()))
        status = F.coalesce(status, F.expr(f"CASE {pick} END"))
    out = df.withColumn("uscc_status", F.coalesce(status, F.lit("missing")))
    valid = F.col("uscc_status") == "valid"
    return out.select(
        "*",
        F.when(valid, F.col("party_uscc_raw")).alias("party_uscc"),
        F.when(valid, F.substring("party_uscc_raw", 1, 1)).alias("reg_dept_code"),
        F.when(valid, F.substring("party_uscc_raw", 2, 1)).alias("org_category_code"),
        F.when(valid, F.substring("party_uscc_raw", 3, 6)).alias("division_code"),
    )


def odd_identifiers(staged: Any) -> list[str]:
    """The distinct identifiers of a parsed source (a pyarrow table with ``party_uscc_raw`` and
    ``uscc_status``) whose status Spark left to Python (``parse.uscc_status_sql``): usually none."""
    import pyarrow.compute as pc

    left = staged.filter(pc.and_(pc.is_null(staged["uscc_status"]), pc.is_valid(staged["party_uscc_raw"])))
    return sorted(pc.unique(left["party_uscc_raw"]).to_pylist())


def per_type(src: Sources, field: str | dict[str, str]) -> Column:
    """The typed slot holding ``field`` for each row's record type (every type that has it; or the field
    named per type: ``{record_type: field}``); null for the other types."""
    layout = slot_layout(src)
    names = field if isinstance(field, dict) else {rt: field for rt in src.record_types}
    branches = [(rt, layout.of(rt, f)) for rt, f in names.items() if f in src.record_types[rt].fields]
    if not branches:
        return F.lit(None)
    out = F.when(F.col("record_type") == branches[0][0], F.col(branches[0][1]))
    for rt, c in branches[1:]:
        out = out.when(F.col("record_type") == rt, F.col(c))
    return out


@dataclass(frozen=True)
class SourceRows:
    """What numbering a cache entry's rows needs: the files holding its content (``source_file``,
    ``source_sha256``, and the data-row number of a truncated last line, else None; a copy of a file gives
    several) and the rows before each read block (``offsets``: block start -> rows)."""

    files: tuple[tuple[str, str, int | None], ...]
    offsets: dict[int, int]


# One row per (cache entry, read block, file holding the entry): what ``number_rows`` joins to the rows.
NUMBERING = T.StructType([
    T.StructField("_key", T.StringType()),
    T.StructField("_blk", T.LongType()),
    T.StructField("_offset", T.LongType()),
    T.StructField("source_file", T.StringType()),
    T.StructField("source_sha256", T.StringType()),
    T.StructField("_last_row", T.LongType()),
])


def numbering_rows(entries: dict[str, SourceRows]) -> list[tuple[Any, ...]]:
    """The ``NUMBERING`` rows of ``entries`` (cache key -> ``SourceRows``)."""
    return [(k, b, n, f, h, last)
            for k, e in sorted(entries.items())
            for b, n in sorted(e.offsets.items())
            for f, h, last in e.files]


# Rows are numbered from literal CASE expressions up to this many (cache entry, read block, file) rows, and
# by joining them as a broadcast table beyond (see ``number_rows``).
LITERAL_NUMBERING_ROWS = 16


def number_rows(staged: DataFrame, entries: dict[str, SourceRows], few_rows: bool = False) -> DataFrame:
    """Give each parsed row its source file, content hash and data-row number, and quarantine the last row
    of a file that ends mid-record.

    ``staged`` carries ``_key`` (the cache entry it was read from); ``entries`` says, per key, which files
    hold it and the offset of each read block (``numbering_rows``: known on the driver). A key held by two
    files (a copy) gives both files their rows, and a row of an unknown key or block is dropped.

    A few numbering rows (one table's sources, usually) travel as literals in CASE expressions; more (every
    source, when the re-sent records are looked for) are joined by broadcast on (key, block), one hash
    look-up per row. Each row walks the literal cases three times and is copied once more (``explode``):
    numbering the city's 2.65 M rows of 32 sources took 5.3-5.9 s so, 0.9-1.0 s joined. A broadcast costs a
    Spark job, which waits for a free core behind the other tables' writes: for one table's few sources, or
    for few rows (``few_rows``: the rejected rows only), the literals are as fast and start at once.
    """
    rows = numbering_rows(entries)
    if len(rows) > LITERAL_NUMBERING_ROWS and not few_rows:
        df = staged.join(F.broadcast(staged.sparkSession.createDataFrame(rows, NUMBERING)), ["_key", "_blk"])
    else:
        df = _numbered_by_literals(staged, entries)
    row = (F.col("_offset") + F.col("_idx") + 1).cast("long")
    reason = F.col("quarantine_reason")
    cut = reason.isNull() & F.col("_last_row").isNotNull() & (row == F.col("_last_row"))
    kept = [
        F.when(cut, F.lit(TRUNCATED)).otherwise(reason).alias(c) if c == "quarantine_reason" else F.col(c)
        for c in staged.columns if c not in ("_blk", "_idx")
    ]
    return df.select(*kept, "source_file", "source_sha256", row.alias("source_row"))


def _numbered_by_literals(staged: DataFrame, entries: dict[str, SourceRows]) -> DataFrame:
    """``staged`` with the ``NUMBERING`` columns of each row's key and block, from literal CASE expressions
    (see ``number_rows``)."""
    key = F.col("_key")
    held_type = "array<struct<source_file:string,source_sha256:string,_last_row:bigint>>"  # nullable, as joined
    offset = F.lit(None).cast("long")
    files = F.lit(None).cast(held_type)
    if entries:
        offset_cases, file_cases = None, None
        for k, e in sorted(entries.items()):
            per_block = F.lit(None).cast("long")
            if e.offsets:
                per_block = F.when(F.lit(False), F.lit(None).cast("long"))
                for b, n in sorted(e.offsets.items()):
                    per_block = per_block.when(F.col("_blk") == b, F.lit(n).cast("long"))
            held = F.array(*[
                F.struct(F.lit(f).alias("source_file"), F.lit(h).alias("source_sha256"),
                         F.lit(last).cast("bigint").alias("_last_row"))
                for f, h, last in e.files
            ]).cast(held_type)
            offset_cases = (F.when(key == k, per_block) if offset_cases is None
                            else offset_cases.when(key == k, per_block))
            file_cases = F.when(key == k, held) if file_cases is None else file_cases.when(key == k, held)
        offset, files = offset_cases, file_cases
    return staged.withColumn("_offset", offset).where(F.col("_offset").isNotNull()).select(
        "*", F.explode(files).alias("_file")
    ).select("*", "_file.source_file", "_file.source_sha256", "_file._last_row").drop("_file")


def folded_records(df: DataFrame, updated: Column | None = None) -> DataFrame:
    """The records sent more than once: (record_type, record_key, versions, and the source_file and
    source_row of the current version: the newest by ``updated`` time, then the last file and row).
    Quarantined rows are not versions. Small (one row per re-sent record): see ``record_marks``."""
    order = [updated.isNotNull(), updated] if updated is not None else []
    latest = F.struct(*order, F.col("source_file"), F.col("source_row"))
    return (
        df.where(F.col("quarantine_reason").isNull())
        .groupBy("record_type", "record_key")
        .agg(F.count(F.lit(1)).cast("int").alias("versions"),
             F.max_by(F.struct("source_file", "source_row"), latest).alias("_current"))
        .where(F.col("versions") > 1)
        .select("record_type", "record_key", "versions",
                F.col("_current.source_file").alias("_current_file"),
                F.col("_current.source_row").alias("_current_row"))
        .transform(small)
    )


RECORD_MARKS = ("record_type string, record_key string, versions int, _current_file string, _current_row bigint, "
                "objection_status string, objection_id string")


def record_marks(folded: list[Any], marks: list[Any]) -> list[tuple[Any, ...]]:
    """Rows of the ``RECORD_MARKS`` table: the collected ``folded_records`` and ``objection_marks`` by record."""
    out: dict[tuple[str, str], list[Any]] = {}
    for r in folded:
        out[(r["record_type"], r["record_key"])] = [r["versions"], r["_current_file"], r["_current_row"], None, None]
    for r in marks:
        row = out.setdefault((r["record_type"], r["record_key"]), [None, None, None, None, None])
        row[3:] = [r["objection_status"], r["objection_id"]]
    return [(rt, key, *v) for (rt, key), v in sorted(out.items())]


def mark_records(df: DataFrame, marks: DataFrame | None) -> DataFrame:
    """Fold re-sent rows and mark objections: ``is_current`` marks the current version of each record (a
    record sent once is its own current version) and ``versions`` counts them; ``objection_status``
    (retracted / corrected / upheld; null: no objection) and ``objection_id`` mark every version of the
    records an objection names. ``marks`` is a ``RECORD_MARKS`` table (small, broadcast: the rows themselves
    are never shuffled), or None when no record of ``df`` has a mark. Every version is kept (nothing is
    deleted); quarantined rows are never current."""
    accepted = F.col("quarantine_reason").isNull()
    if marks is None:
        # the values a join that matched nothing gives, nullable as the join's are
        some = F.col("record_type").isNotNull()
        return df.select(
            "*",
            F.when(some, accepted).alias("is_current"),
            F.when(some, F.lit(1)).alias("versions"),
            F.lit(None).cast("string").alias("objection_status"),
            F.lit(None).cast("string").alias("objection_id"),
        )
    joined = df.join(F.broadcast(marks), ["record_type", "record_key"], "left")
    current = accepted & (
        F.col("_current_file").isNull()
        | ((F.col("source_file") == F.col("_current_file")) & (F.col("source_row") == F.col("_current_row")))
    )
    versions = F.when(accepted & F.col("versions").isNotNull(), F.col("versions")).otherwise(F.lit(1))
    return joined.withColumn("is_current", current).withColumn("versions", versions.cast("int")).drop(
        "_current_file", "_current_row"
    )


def _contains_any(c: Column, words: list[str]) -> Column:
    return F.lit(False) if not words else F.coalesce(c.rlike("|".join(map(re.escape, words))), F.lit(False))


def objection_marks(df: DataFrame, src: Sources, retracts: list[str], corrects: list[str]) -> DataFrame:
    """(record_type, record_key, objection_status, objection_id) of every record an objection names.

    An objection names a record by its document number (``record_ref`` = the record type's ``document_no``
    in conf/sources.yaml: a penalty's 决定书文号, a listing's 文书号); it must not contradict the record's
    type (异议信息类型 names it, e.g. 行政处罚信息) or party (two valid USCCs that differ). The outcome decides:
    撤销 retracts (but 不予撤销 does not), 更正 corrects, anything else upholds; of several objections the
    strongest outcome counts, then the latest decision.
    """
    docs = {rt: spec.document_no for rt, spec in src.record_types.items() if spec.document_no}
    schema = "record_type string, record_key string, objection_status string, objection_id string"
    if not docs or "objection" not in src.record_types:
        return df.sparkSession.createDataFrame([], schema)
    layout = slot_layout(src)
    accepted = F.col("quarantine_reason").isNull()
    label = F.lit(None).cast("string")
    for rt in docs:
        label = F.when(F.col("record_type") == rt, F.lit(src.record_types[rt].label)).otherwise(label)
    targets = df.where(accepted & F.col("record_type").isin(list(docs))).select(
        "record_type", "record_key", per_type(src, docs).alias("_ref"), F.col("party_uscc").alias("_t_uscc"),
        label.alias("_label"),
    ).where(F.col("_ref").isNotNull())

    def o(field: str) -> Column:
        return F.col(layout.of("objection", field))

    outcome = o("outcome")
    status = (
        F.when(outcome.contains("不予"), F.lit("upheld"))
        .when(_contains_any(outcome, retracts), F.lit("retracted"))
        .when(_contains_any(outcome, corrects), F.lit("corrected"))
        .otherwise(F.lit("upheld"))
    )
    objections = df.where(accepted & F.col("is_current") & (F.col("record_type") == "objection")).select(
        o("record_ref").alias("_ref"),
        F.col("party_uscc").alias("_o_uscc"),
        o("objected_record_type").alias("_o_type"),
        o("objection_id").alias("objection_id"),
        o("decided_date").alias("_decided"),
        status.alias("objection_status"),
    ).where(F.col("_ref").isNotNull())
    rank = F.when(F.col("objection_status") == "retracted", 3).when(F.col("objection_status") == "corrected", 2)
    agree = (
        (F.col("_o_uscc").isNull() | F.col("_t_uscc").isNull() | (F.col("_o_uscc") == F.col("_t_uscc")))
        & (F.col("_o_type").isNull() | (F.instr(F.col("_o_type"), F.col("_label")) > 0))
    )
    best = F.max_by(
        F.struct("objection_status", "objection_id"),
        F.struct(rank.otherwise(1), F.col("_decided"), F.col("objection_id")),
    )
    return (
        targets.join(objections, "_ref")
        .where(agree)
        .groupBy("record_type", "record_key")
        .agg(best.alias("_best"))
        .select("record_type", "record_key", "_best.objection_status", "_best.objection_id")
        .transform(small)
    )


OBJECTION_COLUMNS = ("objection_status", "objection_id")


def objection_columns(rt: RecordTypeSpec) -> list[str]:
    """The objection columns a record table has (those of record types an objection can name)."""
    return list(OBJECTION_COLUMNS) if rt.document_no else []


def record_table(df: DataFrame, record_type: str, src: Sources) -> DataFrame:
    """The published table of one record type: its accepted rows, typed fields first (in conf/sources.yaml
    order), then the record columns (``is_current``, ``versions`` and, where objections apply, their
    outcome)."""
    rt = src.record_types[record_type]
    layout = slot_layout(src)
    return df.where((F.col("record_type") == record_type) & F.col("quarantine_reason").isNull()).select(
        "record_type",
        "source_file",
        "source_row",
        "source_sha256",
        *[F.col(layout.of(record_type, f)).alias(field_column(f, spec)) for f, spec in rt.fields.items()],
        "issues",
        "extra",
        *[n for n, _ in RECORD_COLUMNS],
        "is_current",
        "versions",
        *objection_columns(rt),
    )


def quarantine_table(df: DataFrame) -> DataFrame:
    """The rejected rows with file, row, record type, reason and raw text."""
    return df.where(F.col("quarantine_reason").isNotNull()).select(
        "source_file", "source_row", "record_type", F.col("quarantine_reason").alias("reason"), "raw"
    )


STAT_COUNTS = ("duplicates", "uscc_valid", "uscc_invalid", "uscc_missing", "uscc_placeholder",
               "revoked_or_invalid", "rows_with_issues", "late_publication", "objection_corrected",
               "objection_retracted")


def accepted_stats(table: DataFrame, record_type: str, files: list[str], src: Sources,
                   late_days: int) -> list[Column]:
    """Aggregates counting what the data-quality report needs over a published record table (``record_table``)
    whose rows come from ``files``, to be observed while it is written (``DataFrame.observe``: no pass of its
    own). Per file ``i`` (``files[i]``): ``{i}:rows``, and among its rows the re-sent duplicates, identifier
    quality, revoked or invalid records, rows with issues, records published more than ``late_days`` working
    days after their decision and records an objection corrected or retracted (``{i}:<STAT_COUNTS name>``);
    then the table's ``first`` and ``last`` event date. Read them back with ``read_accepted_stats``."""
    fields = src.record_types[record_type].fields
    # SQL text: one call into the JVM per aggregate, where Columns cost a dozen (0.45 s a table of 8 files)
    late = (f"{working_days_sql('decision_date', 'publish_date')} > {int(late_days)}"
            if {"decision_date", "publish_date"} <= set(fields) else "false")
    objection = "objection_status" if "objection_status" in table.columns else "CAST(NULL AS STRING)"
    conditions = {
        "rows": "true",
        "duplicates": "NOT is_current",
        "uscc_valid": "uscc_status = 'valid'",
        "uscc_invalid": "uscc_status IN ('invalid_checksum', 'invalid_format')",
        "uscc_missing": "uscc_status = 'missing'",
        "uscc_placeholder": "uscc_status = 'placeholder'",
        "revoked_or_invalid": "record_status != 'active'",
        "rows_with_issues": "size(issues) > 0",
        "late_publication": late,
        "objection_corrected": f"{objection} = 'corrected'",
        "objection_retracted": f"{objection} = 'retracted'",
    }
    out = []
    for i, f in enumerate(files):
        here = f"source_file = {parse.lit(f)}"
        out += [F.expr(f"sum(CASE WHEN {here} AND coalesce({c}, false) THEN 1 ELSE 0 END) AS {parse.ident(f'{i}:{n}')}")
                for n, c in conditions.items()]
    return [*out, F.min("event_date").alias("first"), F.max("event_date").alias("last")]


def read_accepted_stats(metrics: dict[str, Any], files: list[str]) -> tuple[dict[str, dict[str, int]], Any, Any]:
    """Per file, ``accepted`` rows and the ``STAT_COUNTS``, and the first and last event date, from the
    observed ``accepted_stats`` (``metrics``: name -> value)."""
    per_file = {}
    for i, f in enumerate(files):
        st = {k: int(metrics.get(f"{i}:{k}") or 0) for k in STAT_COUNTS}
        per_file[f] = {"accepted": int(metrics.get(f"{i}:rows") or 0), **st}
    return per_file, metrics.get("first"), metrics.get("last")


def rejected_stats(quarantine: DataFrame) -> DataFrame:
    """Rows of the quarantine (``quarantine_table``) per source file, record type and reason (its text before
    ':'). Small."""
    return small(quarantine.groupBy(
        "source_file", "record_type", F.substring_index(F.col("reason"), ":", 1).alias("reason")
    ).agg(F.count(F.lit(1)).alias("rows")))


def working_days_sql(start: str, end: str) -> str:
    """Working days (Mon-Fri) from ``start`` to ``end`` (SQL expressions; null beyond ten years or when
    ``end`` is before ``start``); holidays are not known and not counted."""
    days = f"datediff({end}, {start})"
    return (f"(CASE WHEN {start} IS NULL OR {end} IS NULL OR {days} < 0 OR {days} > 3660 THEN NULL "
            f"ELSE size(filter(sequence({start}, {end}), d -> dayofweek(d) BETWEEN 2 AND 6)) - 1 END)")
