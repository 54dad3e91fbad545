"""The columnar parser: CSV sources parsed column by column in polars, inside Spark's Python workers.

The SQL parser (:func:`radar.ingest.records.parse_slots`) types every row through some eight projections of
Spark's row format: at city scale that was 4.7 times the time a plain CSV-to-Parquet copy takes. This parser
does the same work on whole columns: each Spark task takes one block of a CSV file (whole lines, about
``BLOCK_BYTES``), splits its lines into fields, lays them out in the slots of ``SlotLayout``, types, checks and
derives exactly what the SQL stages do, and writes the block's rows in the staging shape
(``records.staging_schema``) as one Parquet file of the source's cache entry. Only a few numbers per block go
back to the driver.

What Spark's CSV reader does is done the same way (``tests/test_ingest_columnar.py`` holds the two to the same
rows, field by field, on random dirty lines, and to the same published tables on the job's dirty input):

* lines end at LF, CR LF or CR; a line of nothing above U+0020 is skipped; the first non-blank line of the
  file is its header; every line is one record (no value spans lines);
* a field that begins with a double quote is quoted: up to the next lone quote, ``""`` standing for one
  quote; a lone opening quote takes the rest of the line; a quote inside an unquoted value is kept; an empty
  field is null. A line quoted any other way (a quote closing before anything but the delimiter, a value
  never closed after an escaped quote) is left to Spark's reader itself: such lines are written aside,
  tokenised by Spark and typed here after the blocks;
* a line whose fields are not as many as the header's is malformed: its text is kept, its fields fill what
  they can;
* undecodable bytes become U+FFFD.

JSON lines, workbooks and JSON arrays keep the SQL parser.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radar.config import Sources
from radar.ingest import parse
from radar.ingest.files import SourceFile

BLOCK_BYTES = 32 << 20  # bytes of a CSV file per parsing task (whole lines)
_LOOKAHEAD = 1 << 16
_WS = r"[ \t\n\x0B\f\r]"  # Java's \s, as Spark's regular expressions read it
_DIGITS = "[0-9]"  # Java's \d


# ------------------------------------------------------------------------------------------ blocks
def line_blocks(path: Path, size: int, block_bytes: int | None = None) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` of about ``block_bytes`` (``BLOCK_BYTES``) covering a file, each ending
    after a line break (LF, CR LF or CR) or at the end of the file."""
    block_bytes = block_bytes or BLOCK_BYTES
    out, start = [], 0
    with path.open("rb") as f:
        while start < size:
            end = start + block_bytes
            if end >= size:
                out.append((start, size))
                break
            f.seek(end)
            while True:
                ahead = f.read(_LOOKAHEAD)
                if not ahead:
                    end = size
                    break
                hits = [i for i in (ahead.find(b"\n"), ahead.find(b"\r")) if i >= 0]
                if not hits:
                    end += len(ahead)
                    continue
                i = min(hits)
                if ahead[i:i + 1] == b"\r":
                    if i + 1 == len(ahead):  # is an LF next, beyond this read?
                        nxt = f.read(1)
                        end += i + 1 + (nxt == b"\n")
                        break
                    end += i + 1 + (ahead[i + 1:i + 2] == b"\n")
                else:
                    end += i + 1
                break
            out.append((start, end))
            start = end
    return out


# ------------------------------------------------------------------------------------------ fields
def split_regular(line: str, delim: str) -> list[str | None] | None:
    """The fields of one line holding a double quote, when its quoting is regular: every field either does
    not begin with a quote (quotes inside are kept), or is wholly quoted (a quote opens it and closes it right
    before the delimiter or the line's end, a quote inside written twice), or begins with the line's last
    quote (the rest of the line). Spark's CSV reader (univocity, quote and escape ``"``) splits such a line
    this way; an empty field is None. None for any other line: Spark's reader decides those (``irregular``
    lines, see ``parse_block``)."""
    out: list[str | None] = []
    i, n = 0, len(line)
    while True:
        if i < n and line[i] == '"':
            j, parts = i + 1, []
            while True:
                k = line.find('"', j)
                if k < 0:
                    if j == i + 1 < n:  # a lone opening quote: the value is the rest of the line
                        out.append(line[j:])
                        return out
                    return None  # never closed after an escaped quote
                parts.append(line[j:k])
                if k + 1 < n and line[k + 1] == '"':
                    parts.append('"')
                    j = k + 2
                    continue
                break
            if k + 1 < n and line[k + 1] != delim:
                return None  # closed before something else than the delimiter
            out.append("".join(parts) or None)
            if k + 1 >= n:
                return out
            i = k + 2
            continue
        k = line.find(delim, i)
        end = n if k < 0 else k
        out.append(line[i:end] or None)  # a quote inside an unquoted value is kept as it is
        if k < 0:
            return out
        i = k + 1


# ------------------------------------------------------------------------------------------ plans
@dataclass(frozen=True)
class SourcePlan:
    """What a Python worker needs to parse blocks of one CSV source (picklable, built on the driver)."""

    key: str  # the source's cache key
    path: str
    encoding: str  # Python's codec name
    delimiter: str
    names: tuple[str, ...]  # a column name per header column: the canonical field, or ``_u<i>``
    record_type: str
    present: int  # records.present_mask
    wan: int  # the money slots whose unit is 万元, one bit per slot
    fmt: int  # records.malformed_code
    enc: int  # index in records.ENCODINGS
    keep_raw: bool  # a truncated file: every row's text is kept (its last row is quarantined later)
    extra_keys: tuple[str, ...]  # the ``extra`` map's keys, for the ``_u<i>`` columns in order


def source_plan(sf: SourceFile, src: Sources) -> SourcePlan:
    """The plan of one CSV source (see ``records.slot_source``: the same per-source literals)."""
    from radar.ingest import records as R

    assert sf.mapping is not None and sf.format == "csv"
    rt = src.record_types[sf.mapping.record_type]
    layout = R.slot_layout(src)
    names = R._raw_names(sf)
    unknown = [c for c in names if c.startswith("_u")]
    units = {c.field: c.unit for c in sf.mapping.columns}
    by_slot = {v: f for f, v in layout.slots[sf.mapping.record_type].items()}
    money = [by_slot.get(("money", i)) for i in range(layout.width.get("money", 0))]
    wan = sum(1 << i for i, f in enumerate(money) if f and (units.get(f) or rt.fields[f].unit) == "wan")
    return SourcePlan(
        key=sf.cache_key, path=os.path.abspath(sf.path),
        encoding={"UTF-8": "utf-8", "GB18030": "gb18030"}[sf.spark_encoding],
        delimiter=sf.delimiter, names=tuple(names), record_type=sf.mapping.record_type,
        present=R.present_mask(rt, sf.mapping.fields), wan=wan, fmt=R.malformed_code(sf),
        enc=R.ENCODINGS.index(sf.spark_encoding), keep_raw=sf.truncated,
        extra_keys=tuple(R.extra_column_keys(sf.headers, [int(u[2:]) for u in unknown])),
    )


def parses(sf: SourceFile, src: Sources) -> bool:
    """Whether the columnar parser takes a source: a CSV file whose record type's natural key it can write as
    the SQL parser does (text and dates)."""
    if sf.format != "csv" or sf.mapping is None:
        return False
    rt = src.record_types[sf.mapping.record_type]
    return all(rt.fields[f].type in ("string", "date") for f in rt.natural_key)


# ------------------------------------------------------------------------------------------ rows
def _pl() -> Any:
    import polars as pl

    return pl


def _in_worker() -> None:
    """Settings of a Python worker that parses: polars on one thread (Spark runs a task per core already; read
    when polars is first imported in the worker)."""
    os.environ.setdefault("POLARS_MAX_THREADS", "1")


def block_lines(plan: SourcePlan, start: int, end: int) -> Any:
    """The non-blank lines of a block as a polars frame (``line``, ``_idx``: 0-based among them), the file's
    header line left out of its first block."""
    pl = _pl()
    with open(plan.path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    text = data.decode(plan.encoding, errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = pl.Series("line", [text]).str.split("\n").explode()
    lines = lines.filter(lines.str.contains(r"[^\x00-\x20]"))
    if start == 0:
        lines = lines.slice(1)  # the header
    return lines.to_frame().with_row_index("_idx").with_columns(pl.col("_idx").cast(pl.Int64))


def split_fields(lines: Any, plan: SourcePlan) -> tuple[Any, Any]:
    """(rows, irregular): the rows of ``lines`` as text columns named ``plan.names`` with ``_corrupt`` (the
    line, when its fields are not as many as the header's) and ``_idx``; and the lines whose quoting only
    Spark's reader decides (see ``split_regular``), as a frame of ``_idx`` and ``line``."""
    pl = _pl()
    n, d = len(plan.names), plan.delimiter
    quoted = lines["line"].str.contains('"', literal=True)
    plain = lines.filter(~quoted)
    parts = plain["line"].str.split(d)
    cols = [parts.list.get(j, null_on_oob=True).alias(c) for j, c in enumerate(plan.names)]
    frames = [plain.select(
        "_idx", *cols, pl.when(parts.list.len() != n).then(pl.col("line")).alias("_corrupt")
    )]
    irregular_idx: list[int] = []
    irregular_line: list[str] = []
    q_idx: list[int] = []
    q_fields: list[list[str | None]] = []
    q_corrupt: list[str | None] = []
    with_quotes = lines.filter(quoted)
    for i, line in zip(with_quotes["_idx"].to_list(), with_quotes["line"].to_list(), strict=True):
        f = split_regular(line, d)
        if f is None:
            irregular_idx.append(i)
            irregular_line.append(line)
            continue
        q_idx.append(i)
        q_corrupt.append(line if len(f) != n else None)
        q_fields.append((f + [None] * n)[:n])
    if q_idx:
        data: dict[str, Any] = {"_idx": q_idx}
        for j, c in enumerate(plan.names):
            data[c] = [row[j] for row in q_fields]
        data["_corrupt"] = q_corrupt
        frames.append(pl.DataFrame(data, schema={"_idx": pl.Int64, **{c: pl.String for c in plan.names},
                                                 "_corrupt": pl.String}))
    rows = pl.concat(frames).sort("_idx")
    empty_to_null = [pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in plan.names]
    irregular = pl.DataFrame({"_idx": irregular_idx, "line": irregular_line},
                             schema={"_idx": pl.Int64, "line": pl.String})
    return rows.with_columns(empty_to_null), irregular


# ------------------------------------------------------------------------------------------ values
# The value parsers of radar.ingest.parse on whole columns, rule for rule (Java's regular-expression classes
# spelt out: ``\s`` and ``\d`` are ASCII there, Unicode-aware in polars; Spark's ``trim`` removes spaces only).
def clean(c: Any, fold: bool = True) -> Any:
    """``parse.clean_text``: full-width folded to half-width, spaces trimmed, null-like tokens to null
    (``fold=False``: the column holds ASCII only, nothing to fold)."""
    pl = _pl()
    t = (c.str.replace_many(list(parse._FULL), list(parse._HALF)) if fold else c).str.strip_chars(" ")
    return pl.when(t.is_in(parse.NULL_TOKENS)).then(None).otherwise(t)


def date_of(t: Any, timezone: str) -> Any:
    """``parse.date_of_clean``: a date from cleaned text (epoch seconds and milliseconds in ``timezone``)."""
    pl = _pl()
    n = t.str.len_chars()
    only_digits = t.str.contains(f"^{_DIGITS}+$")

    def epoch(unit: str) -> Any:
        v = t.cast(pl.Int64, strict=False)
        return pl.from_epoch(v, time_unit=unit).dt.replace_time_zone("UTC").dt.convert_time_zone(timezone).dt.date()

    def ymd(text: Any, pattern: str) -> Any:
        parts = text.str.extract_groups(pattern)
        y, m, d = (parts.struct.field(g).cast(pl.Int32, strict=False) for g in ("1", "2", "3"))
        # through zero-padded text, so an impossible date (2月30日) is null as Spark's try_to_date makes it
        padded = pl.format("{}-{}-{}", y.cast(pl.String).str.zfill(4), m.cast(pl.String).str.zfill(2),
                           d.cast(pl.String).str.zfill(2))
        return padded.str.to_date("%Y-%m-%d", strict=False)

    norm = t.str.replace_all("[年月/.]", "-").str.replace_all("日", "", literal=True)
    return (
        pl.when(only_digits & (n == 13)).then(epoch("ms"))
        .when(only_digits & (n == 10)).then(epoch("s"))
        .when(only_digits & (n == 8)).then(ymd(t, f"^({_DIGITS}{{4}})({_DIGITS}{{2}})({_DIGITS}{{2}})$"))
        .otherwise(ymd(norm, f"^({_DIGITS}{{4}})-({_DIGITS}{{1,2}})-({_DIGITS}{{1,2}})"))
    )


def open_ended(t: Any, d: Any, sentinels: list[str]) -> Any:
    """``parse.open_ended_of``: a sentinel date, a year from 2099 on or up to 1900, or 长期 and its kin."""
    import datetime as dt

    sent = [dt.date.fromisoformat(s) for s in sentinels]
    y = d.dt.year()
    return (t.is_in(parse.OPEN_ENDED_WORDS) | d.is_in(sent) | (y >= 2099) | (y <= 1900)).fill_null(False)


def _number(t: Any) -> Any:
    """A double from text as Spark's ``try_cast(... AS DOUBLE)`` reads it (signs, decimals, exponents)."""
    return t.cast(_pl().Float64, strict=False)


def decimal_of(t: Any) -> Any:
    """``parse.decimal_of_clean``."""
    return _number(t.str.replace_all(f"[,，]|{_WS}", ""))


def money_of(t: Any, wan: bool) -> Any:
    """``parse.money_of_clean`` (``wan``: the column's unit is 万元)."""
    pl = _pl()
    v = t.str.replace_all(f"[,，]|{_WS}|人民币|RMB|CNY", "")
    num = _number(v.str.replace_all("万元|万|元", ""))
    unit = (
        pl.when(v.str.ends_with("万元") | v.str.ends_with("万")).then(10000.0)
        .when(v.str.ends_with("元")).then(1.0)
        .otherwise(10000.0 if wan else 1.0)
    )
    return num * unit


def int_of(t: Any) -> Any:
    """``parse.int_of_clean``: the number truncated towards zero; null outside the integer range."""
    pl = _pl()
    x = _number(t.str.replace_all(f"[,，人岁]|{_WS}", ""))
    ok = x.is_finite() & (x > -2147483649.0) & (x < 2147483648.0)
    return pl.when(ok).then(x).otherwise(None).cast(pl.Int32, strict=False)


def bool_of(t: Any) -> Any:
    """``parse.bool_of_clean``: 是/否, Y/N, 1/0, true/false in any case."""
    pl = _pl()
    lo = t.str.to_lowercase()
    return (
        pl.when(t.is_in(parse._TRUE) | lo.is_in(parse._TRUE)).then(True)
        .when(t.is_in(parse._FALSE) | lo.is_in(parse._FALSE)).then(False)
        .otherwise(None)
    )


def list_of(t: Any, separators: list[str], keep_whole: list[str]) -> Any:
    """``parse.list_of_clean``: split on any separator, keeping legacy combined values whole."""
    pl = _pl()
    guard = "\u0001"
    for v in keep_whole:
        t = t.str.replace_all(v, v.replace("、", guard), literal=True)
    cls = "[" + "".join("\\" + c if c in "\\^]-[" else c for c in separators) + "]"
    sep = "\u0002"  # each separator becomes one control character first (polars splits on a literal)
    parts = t.str.replace_all(cls, sep).str.split(sep)
    return parts.list.eval(pl.element().str.replace_all(guard, "、", literal=True).str.strip_chars(" ")).list.eval(
        pl.element().filter(pl.element() != "")
    )


def uscc_of(t: Any) -> Any:
    """``parse.uscc_of_clean``: upper case, without whitespace or dashes."""
    return t.str.replace_all(r"[ \t\n\x0B\f\r\-]", "").str.to_uppercase()


_USCC_FORMAT = f"^[0-9]{{8}}[{parse._USCC_ALPHABET}]{{10}}$"  # the shape whose check character is computed


def _check_character_holds(codes: Any) -> Any:
    """Per identifier of a polars Series: whether its check character (18th) is the one GB 32100-2015 computes
    from the first 17 (``parse.uscc_status_sql``); null for anything not of ``_USCC_FORMAT``. Read from the
    18-byte codes with numpy: 17 string slices per row cost a third of a block's parse."""
    import numpy as np
    import pyarrow as pa

    pl = _pl()
    shaped = codes.str.contains(_USCC_FORMAT).fill_null(False)
    good = codes.filter(shaped)
    out = np.zeros(len(codes), dtype=bool)
    if len(good):
        arr = good.to_arrow()
        arr = (arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr).cast(pa.large_string())
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(len(arr), 18)
        index = np.zeros(256, dtype=np.int64)
        for i, c in enumerate(parse._USCC_ALPHABET):
            index[ord(c)] = i
        total = index[data[:, :17]] @ np.array(parse._USCC_WEIGHTS, dtype=np.int64)
        expected = np.frombuffer(parse._USCC_ALPHABET.encode(), dtype=np.uint8)[(31 - total) % 31]
        out[shaped.to_numpy()] = data[:, 17] == expected
    return pl.Series(codes.name, out).set(~shaped, None) if len(codes) else pl.Series(codes.name, [], pl.Boolean)


def uscc_status(x: Any, placeholder: str) -> Any:
    """``parse.uscc_status_sql`` of a normalised identifier (``uscc_of``): null where Python decides."""
    pl = _pl()
    holds = x.map_batches(_check_character_holds, return_dtype=pl.Boolean)
    outcomes = ["missing", "placeholder", "masked", None, "reg_no", "org_code", "invalid_format", "valid",
                "invalid_checksum"]
    code = (  # a small code per row first: a chain of text columns would copy the text at every step
        pl.when(x.is_null() | (x == "")).then(0)
        .when(x == placeholder).then(1)
        .when(x.str.contains("*", literal=True)).then(2)
        .when(~x.str.contains(r"^[!-~]+$")).then(3)
        .when(x.str.contains(r"^[0-9]{15}$")).then(4)
        .when(x.str.contains(r"^[0-9A-Za-z]{9}$")).then(5)
        .when(~x.str.contains(_USCC_FORMAT)).then(6)
        .when(holds).then(7)
        .otherwise(8)
    )
    return code.replace_strict(dict(enumerate(outcomes)), return_dtype=pl.String)


# ------------------------------------------------------------------------------------------ staging rows
def staged_rows(rows: Any, plan: SourcePlan, src: Sources, blk: int | None) -> Any:
    """The staging rows (``records.staging_schema``, as a pyarrow table) of one block's ``split_fields``
    rows (``blk``: the block's start; None: each row's ``_blk``): what ``records.slot_source`` and
    ``records.parse_slots`` make of them, for one record type."""

    from radar.ingest import records as R

    pl = _pl()
    rt_name = plan.record_type
    rt = src.record_types[rt_name]
    layout = R.slot_layout(src)
    mine = layout.slots[rt_name]
    have = set(plan.names)
    in_file = list(plan.names)
    unknown = [c for c in plan.names if c.startswith("_u")]
    text = (pl.concat_str([pl.col(c).fill_null("") for c in in_file], separator=plan.delimiter) if in_file
            else pl.lit(""))
    df = rows.select(
        "_idx", *(["_blk"] if blk is None else []), *unknown,
        *[pl.col(f).alias(f"s_{mine[f][0]}_{mine[f][1]}") for f in rt.fields if f in have],
        pl.coalesce(pl.col("_corrupt"), text).alias("_raw"), pl.col("_corrupt").is_not_null().alias("_malformed"),
    )
    slots = [mine[f] for f in rt.fields]
    s = {f: f"s_{k}_{i}" for f, (k, i) in mine.items()}
    for f in rt.fields:  # absent fields' slots are null, as in the SQL layout
        if f not in have:
            df = df.with_columns(pl.lit(None, pl.String).alias(s[f]))
    # folding full-width characters is most of the cleaning; a column of ASCII text (codes, dates, numbers) has none
    ascii_only = df.select([(pl.col(s[f]).str.len_bytes() == pl.col(s[f]).str.len_chars()).all().alias(f)
                            for f in mine]).row(0, named=True) if df.height else {}
    df = df.with_columns([clean(pl.col(s[f]), fold=not ascii_only.get(f, False)).alias(f"c_{k}_{i}")
                          for f, (k, i) in mine.items()])
    typed = []
    for k, i in mine.values():
        c = pl.col(f"c_{k}_{i}")
        expr = {
            "string": lambda c=c: c,
            "date": lambda c=c: date_of(c, src.timezone),
            "money": lambda c=c, i=i: money_of(c, bool(plan.wan & (1 << i))),
            "decimal": lambda c=c: decimal_of(c),
            "int": lambda c=c: int_of(c),
            "bool": lambda c=c: bool_of(c),
            "list": lambda c=c: list_of(c, src.list_separators, src.list_keep_whole),
        }[k]()
        typed.append(expr.alias(f"d_date_{i}" if k == "date" else f"t_{k}_{i}"))
    empty = pl.all_horizontal([pl.col(f"c_{k}_{i}").is_null() for k, i in slots]) if slots else pl.lit(True)
    df = df.with_columns(*typed, empty.alias("_empty"))
    dates = [i for k, i in slots if k == "date"]
    df = df.with_columns([open_ended(pl.col(f"c_date_{i}"), pl.col(f"d_date_{i}"), src.sentinel_dates)
                          .alias(f"o_date_{i}") for i in dates])
    df = df.with_columns([pl.when(pl.col(f"o_date_{i}")).then(None).otherwise(pl.col(f"d_date_{i}"))
                          .alias(f"t_date_{i}") for i in dates])

    # issues, the quarantine reason (the first that applies) and the record columns, as parse_slots has them
    found, why = [], None
    for j, (f, spec) in enumerate(rt.fields.items()):
        k, i = mine[f]
        t, c = pl.col(f"t_{k}_{i}"), pl.col(f"c_{k}_{i}")
        if k in ("date", "money", "decimal", "int"):
            bad = c.is_not_null() & t.is_null()
            if k == "date":
                bad = bad & ~pl.col(f"o_date_{i}")
            found.append(pl.when(bad).then(pl.lit(f"bad_{k}:{f}")))
        if spec.required:
            steps = []
            if not plan.present & (1 << j):
                steps.append((pl.lit(True), pl.lit(f"missing required column: {f}")))
            steps.append(((t if k == "string" else c).is_null(), pl.lit(f"missing required value: {f}")))
            if k == "date":
                steps.append((t.is_null() & ~pl.col(f"o_date_{i}"),
                              pl.concat_str([pl.lit(f"unparseable date in {f}: "), pl.col(s[f])])))
            for cond, msg in steps:
                why = pl.when(cond).then(msg) if why is None else why.when(cond).then(msg)
    issues = (pl.concat_list(found).list.drop_nulls() if found
              else pl.lit([], pl.List(pl.String)))
    per_type = pl.lit(None, pl.String) if why is None else why.otherwise(pl.lit(None, pl.String))
    reason = (
        pl.when(pl.col("_malformed")).then(pl.lit(R.MALFORMED[plan.fmt]))
        .when(pl.col("_empty")).then(pl.lit("empty row: no values"))
        .when(pl.col("_raw").str.contains("\ufffd", literal=True)).then(pl.lit(R.UNDECODABLE[plan.enc]))
        .otherwise(per_type)
    )

    def slot(f: str | None) -> Any:
        if not f:
            return pl.lit(None, pl.String)
        k, i = mine[f]
        return pl.col(f"t_{k}_{i}")

    parts = []
    for f in rt.natural_key:
        v = slot(f)
        parts.append(v.dt.strftime("%Y-%m-%d").fill_null("") if rt.fields[f].type == "date" else v.fill_null(""))
    record_key = pl.concat_str(parts, separator="|")
    sub = rt.subject
    status = pl.col(f"t_string_{mine['status'][1]}") if "status" in rt.fields else None
    if status is not None and rt_name == "penalty":
        record_status = (pl.when(status.str.contains("撤销", literal=True) | (status == "1")).then(pl.lit("revoked"))
                         .when(status.str.contains("异常", literal=True) | (status == "2")).then(pl.lit("abnormal"))
                         .otherwise(pl.lit("active")))
    elif status is not None and rt_name == "license":
        record_status = (pl.when(status.str.contains("撤销", literal=True)).then(pl.lit("revoked"))
                         .when(status.str.contains("无效", literal=True) | (status == "2")).then(pl.lit("invalid"))
                         .otherwise(pl.lit("active")))
    else:
        record_status = pl.lit("active")
    df = df.with_columns(
        issues.alias("issues"), reason.alias("quarantine_reason"),
        record_key.alias("record_key"),
        (uscc_of(slot(sub.uscc)) if sub.uscc else pl.lit(None, pl.String)).alias("party_uscc_raw"),
        slot(sub.name).alias("party_name"), slot(sub.address).alias("party_address"),
        slot(sub.legal_rep).alias("party_legal_rep"), slot(sub.phone).alias("party_phone"),
        (uscc_of(slot(sub.reg_no)) if sub.reg_no else pl.lit(None, pl.String)).alias("party_reg_no"),
        slot(rt.event_date).alias("event_date"), record_status.alias("record_status"),
    ).with_columns(
        uscc_status(pl.col("party_uscc_raw"), src.placeholder_uscc).alias("uscc_status"),
        pl.when(pl.col("quarantine_reason").is_not_null() | pl.lit(plan.keep_raw)).then(pl.col("_raw")).alias("raw"),
    )
    return _staging_table(df, plan, src, blk, unknown)


def _staging_table(df: Any, plan: SourcePlan, src: Sources, blk: int | None, unknown: list[str]) -> Any:
    """The staging columns of ``df`` in ``records.staging_schema``'s order and types (slots the record type
    does not use are null); ``extra`` maps the unknown columns' header keys to their values."""
    import numpy as np
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type

    from radar.ingest import records as R

    schema = R.staging_schema(src)
    n = df.height
    out = []
    for field in schema.fields:
        name, typ = field.name, to_arrow_type(field.dataType)
        if name == "record_type":
            arr = pa.array([plan.record_type] * n, pa.string()) if n else pa.array([], pa.string())
        elif name == "_blk" and blk is not None:
            arr = pa.array(np.full(n, blk, dtype=np.int64))
        elif name == "extra":
            if unknown:
                m = len(unknown)
                values = df.select(unknown).to_arrow()
                items = pa.concat_arrays([values.column(c).combine_chunks().cast(pa.string()) for c in unknown])
                order = (np.arange(n)[:, None] + np.arange(m)[None, :] * n).ravel()  # row by row
                keys = pa.array(np.tile(np.array(plan.extra_keys, dtype=object), n), pa.string())
                arr = pa.MapArray.from_arrays(pa.array(np.arange(0, n * m + 1, m, dtype=np.int32)), keys,
                                              items.take(pa.array(order)))
            else:
                arr = pa.nulls(n, typ)
        elif name in df.columns:
            arr = df.get_column(name).to_arrow()
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
            arr = arr.cast(typ)
        else:
            arr = pa.nulls(n, typ)
        out.append(arr)
    return pa.Table.from_arrays(out, schema=pa.schema([pa.field(f.name, to_arrow_type(f.dataType))
                                                      for f in schema.fields]))


# ------------------------------------------------------------------------------------------ tasks
IRREGULAR_PREFIX = ("_sblk", "_sidx")  # the columns before an irregular line's own in its side file


def parse_block(plan: SourcePlan, src: Sources, start: int, end: int, out: str, side: str) -> dict[str, Any]:
    """Parse one block of a CSV source in a Python worker: its staging rows go to
    ``out/_key=<key>/part-<start>.parquet``, its irregular lines (``split_fields``) to
    ``side/<key>/<start>.csv`` as ``<start>,<index>,<line>`` for Spark's reader. Returns the block's figures
    (rows, irregular lines); an error is returned as text (the driver reports the source), not raised."""
    _in_worker()
    try:
        import pyarrow.parquet as pq

        rows, irregular = split_fields(block_lines(plan, start, end), plan)
        table = staged_rows(rows, plan, src, start)
        if table.num_rows:
            entry = Path(out) / f"_key={plan.key}"
            entry.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, entry / f"part-{start:015d}.parquet", compression="snappy")
        if irregular.height:
            d = Path(side) / plan.key
            d.mkdir(parents=True, exist_ok=True)
            with (d / f"{start:015d}.csv").open("w", encoding="utf-8", newline="") as f:
                for i, line in zip(irregular["_idx"].to_list(), irregular["line"].to_list(), strict=True):
                    f.write(f"{start}{plan.delimiter}{i}{plan.delimiter}{line}\n")
        return {"key": plan.key, "start": start, "rows": table.num_rows, "irregular": irregular.height}
    except Exception as e:  # reported per source by the driver
        return {"key": plan.key, "start": start, "error": f"{type(e).__name__}: {e}"[:500]}


def parse_tokens(plan: SourcePlan, src: Sources, tokens: str, out: str) -> dict[str, Any]:
    """Type the irregular lines of a source once Spark's reader has split them (``tokens``: Parquet files of
    the ``plan.names`` columns, ``_corrupt`` and each line's ``_blk`` and ``_idx``) into
    ``out/_key=<key>/part-irregular.parquet``. Returns the rows, or the error as text."""
    _in_worker()
    try:
        import pyarrow.parquet as pq

        pl = _pl()
        rows = pl.read_parquet(f"{tokens}/*.parquet").with_columns(pl.col("_blk", "_idx").cast(pl.Int64))
        table = staged_rows(rows, plan, src, None)
        if table.num_rows:
            entry = Path(out) / f"_key={plan.key}"
            entry.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, entry / "part-irregular.parquet", compression="snappy")
        return {"key": plan.key, "rows": table.num_rows}
    except Exception as e:  # reported per source by the driver
        return {"key": plan.key, "error": f"{type(e).__name__}: {e}"[:500]}
