"""The value parsers of :mod:`radar.ingest.parse`, vectorised over Arrow batches with polars.

``parse_slots`` types the slots of every source in stages: raw text -> cleaned text -> typed values ->
open-ended dates. Written as Spark SQL those stages are a projection too wide for whole-stage code
generation; at city scale they were most of the parse. ``typed_slots`` does the same three stages on one
Arrow batch (``DataFrame.mapInArrow``), column by column in polars' native code, and returns the columns the
SQL stages would: ``c_<kind>_<i>`` (cleaned text of the typed slots), ``t_<kind>_<i>`` (typed values; a
date slot's is null when the date is open-ended), ``o_date_<i>`` (open-ended) and ``_empty`` (no value at
all). The later, narrow stages (issues, quarantine reasons, record keys, identifier status) stay in SQL.

Every rule is the SQL one of :mod:`radar.ingest.parse`, with its Java regular-expression classes spelt out
(``\\s`` and ``\\d`` mean ASCII whitespace and digits there; polars' regular expressions are Unicode-aware)
and Spark's ``trim`` (spaces only). ``tests/test_ingest_vector.py`` holds the two to the same answers. Where
Java and polars read a number differently (Java's ``1d`` / ``0x1p3`` forms) the vectorised parser calls the
value not numeric: the data-quality flag says so rather than a number appearing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from radar.ingest.parse import _FALSE, _FULL, _HALF, _TRUE, NULL_TOKENS, OPEN_ENDED_WORDS

_WS = r"[ \t\n\x0B\f\r]"  # Java's \s
_DIGITS = "[0-9]"  # Java's \d


@dataclass(frozen=True)
class SlotSpec:
    """What ``typed_slots`` needs to know, picklable so it travels to the Python workers."""

    slots: tuple[tuple[str, int], ...]  # (kind, index) of every slot, as SlotLayout.names()
    timezone: str
    sentinels: tuple[str, ...]
    separators: tuple[str, ...]
    keep_whole: tuple[str, ...]


def _clean(c: Any) -> Any:
    """``parse.clean_text``: full-width folded to half-width, spaces trimmed, null-like tokens to null."""
    import polars as pl

    t = c.str.replace_many(list(_FULL), list(_HALF)).str.strip_chars(" ")
    return pl.when(t.is_in(NULL_TOKENS)).then(None).otherwise(t)


def _date(t: Any, timezone: str) -> Any:
    """``parse.date_of_clean``: a date from cleaned text (epoch seconds and milliseconds in ``timezone``)."""
    import polars as pl

    n = t.str.len_chars()
    only_digits = t.str.contains(f"^{_DIGITS}+$")

    def epoch(unit: str) -> Any:
        v = t.cast(pl.Int64, strict=False)
        return (
            pl.from_epoch(v, time_unit=unit).dt.replace_time_zone("UTC").dt.convert_time_zone(timezone).dt.date()
        )

    def ymd(text: Any, pattern: str) -> Any:
        parts = text.str.extract_groups(pattern)
        y = parts.struct.field("1").cast(pl.Int32, strict=False)
        m = parts.struct.field("2").cast(pl.Int32, strict=False)
        d = parts.struct.field("3").cast(pl.Int32, strict=False)
        # through zero-padded text, so an impossible date (2月30日) is null as Spark's try_to_date makes it
        padded = pl.format(
            "{}-{}-{}", y.cast(pl.String).str.zfill(4), m.cast(pl.String).str.zfill(2), d.cast(pl.String).str.zfill(2)
        )
        return padded.str.to_date("%Y-%m-%d", strict=False)

    norm = t.str.replace_all("[年月/.]", "-").str.replace_all("日", "", literal=True)
    return (
        pl.when(only_digits & (n == 13)).then(epoch("ms"))
        .when(only_digits & (n == 10)).then(epoch("s"))
        .when(only_digits & (n == 8)).then(ymd(t, f"^({_DIGITS}{{4}})({_DIGITS}{{2}})({_DIGITS}{{2}})$"))
        .otherwise(ymd(norm, f"^({_DIGITS}{{4}})-({_DIGITS}{{1,2}})-({_DIGITS}{{1,2}})"))
    )


def _open_ended(t: Any, d: Any, sentinels: tuple[str, ...]) -> Any:
    """``parse.open_ended_of``: a sentinel date, a year from 2099 on or up to 1900, or 长期 and its kin."""
    import datetime as dt


    sent = [dt.date.fromisoformat(s) for s in sentinels]
    y = d.dt.year()
    return (t.is_in(OPEN_ENDED_WORDS) | d.is_in(sent) | (y >= 2099) | (y <= 1900)).fill_null(False)


def _number(t: Any) -> Any:
    """A double from text as Spark's ``try_cast(... AS DOUBLE)`` reads it (signs, decimals, exponents)."""
    import polars as pl

    return t.cast(pl.Float64, strict=False)


def _decimal(t: Any) -> Any:
    """``parse.decimal_of_clean``."""
    return _number(t.str.replace_all(f"[,，]|{_WS}", ""))


def _money(t: Any, wan_bit: int) -> Any:
    """``parse.money_of_clean`` with the per-row unit bit of ``_wan``."""
    import polars as pl

    v = t.str.replace_all(f"[,，]|{_WS}|人民币|RMB|CNY", "")
    num = _number(v.str.replace_all("万元|万|元", ""))
    default = pl.when((pl.col("_wan") & wan_bit) != 0).then(10000.0).otherwise(1.0)
    unit = (
        pl.when(v.str.ends_with("万元") | v.str.ends_with("万")).then(10000.0)
        .when(v.str.ends_with("元")).then(1.0)
        .otherwise(default)
    )
    return num * unit


def _int(t: Any) -> Any:
    """``parse.int_of_clean``: the number truncated towards zero; null outside the integer range."""
    import polars as pl

    x = _number(t.str.replace_all(f"[,，人岁]|{_WS}", ""))
    ok = x.is_finite() & (x > -2147483649.0) & (x < 2147483648.0)
    return pl.when(ok).then(x).otherwise(None).cast(pl.Int32, strict=False)


def _bool(t: Any) -> Any:
    """``parse.bool_of_clean``: 是/否, Y/N, 1/0, true/false in any case."""
    import polars as pl

    lo = t.str.to_lowercase()
    return (
        pl.when(t.is_in(_TRUE) | lo.is_in(_TRUE)).then(True)
        .when(t.is_in(_FALSE) | lo.is_in(_FALSE)).then(False)
        .otherwise(None)
    )


def _list(t: Any, separators: tuple[str, ...], keep_whole: tuple[str, ...]) -> Any:
    """``parse.list_of_clean``: split on any separator, keeping legacy combined values whole."""
    import polars as pl

    guard = "\u0001"
    for v in keep_whole:
        t = t.str.replace_all(v, v.replace("、", guard), literal=True)
    cls = "[" + "".join("\\" + c if c in "\\^]-[" else c for c in separators) + "]"
    # split on the separators: each becomes one control character first (polars splits on a literal)
    sep = "\u0002"
    parts = t.str.replace_all(cls, sep).str.split(sep)
    return parts.list.eval(
        pl.element().str.replace_all(guard, "、", literal=True).str.strip_chars(" ")
    ).list.eval(pl.element().filter(pl.element() != ""))


def typed_frame(df: Any, spec: SlotSpec) -> Any:
    """The typed stages on a polars frame holding ``s_<kind>_<i>`` (raw slot text) and ``_wan``: adds
    ``c_*`` (typed kinds), ``t_*``, ``o_date_*`` and ``_empty``."""
    import polars as pl

    cleaned = [_clean(pl.col(f"s_{k}_{i}")).alias(f"c_{k}_{i}") for k, i in spec.slots]
    df = df.with_columns(cleaned)
    typed = []
    for k, i in spec.slots:
        c = pl.col(f"c_{k}_{i}")
        if k == "string":
            typed.append(c.alias(f"t_{k}_{i}"))
        elif k == "date":
            typed.append(_date(c, spec.timezone).alias(f"d_date_{i}"))
        elif k == "money":
            typed.append(_money(c, 1 << i).alias(f"t_{k}_{i}"))
        elif k == "decimal":
            typed.append(_decimal(c).alias(f"t_{k}_{i}"))
        elif k == "int":
            typed.append(_int(c).alias(f"t_{k}_{i}"))
        elif k == "bool":
            typed.append(_bool(c).alias(f"t_{k}_{i}"))
        elif k == "list":
            typed.append(_list(c, spec.separators, spec.keep_whole).alias(f"t_{k}_{i}"))
    empty = pl.all_horizontal([pl.col(f"c_{k}_{i}").is_null() for k, i in spec.slots]) if spec.slots else pl.lit(True)
    df = df.with_columns(*typed, empty.alias("_empty"))
    dates = [i for k, i in spec.slots if k == "date"]
    opened = [_open_ended(pl.col(f"c_date_{i}"), pl.col(f"d_date_{i}"), spec.sentinels).alias(f"o_date_{i}")
              for i in dates]
    df = df.with_columns(opened)
    return df.with_columns(
        [pl.when(pl.col(f"o_date_{i}")).then(None).otherwise(pl.col(f"d_date_{i}")).alias(f"t_date_{i}")
         for i in dates]
    ).drop([f"d_date_{i}" for i in dates])


def typed_slots(spec: SlotSpec, names: list[str], arrow_schema: Any) -> Any:
    """A ``mapInArrow`` function returning the columns ``names`` in the Arrow types of ``arrow_schema`` (those
    of the Spark output schema): the ones a batch has are passed on as they are (no copy), the others come
    from ``typed_frame`` over the batch's slot columns."""
    slot_names = [f"s_{k}_{i}" for k, i in spec.slots]

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import polars as pl
        import pyarrow as pa

        for batch in batches:
            have = set(batch.schema.names)
            made = [n for n in names if n not in have]
            frame = pl.from_arrow(batch.select([*slot_names, "_wan"]))
            assert isinstance(frame, pl.DataFrame)
            typed = typed_frame(frame, spec).select(made).to_arrow(compat_level=pl.CompatLevel.oldest())
            arrays = [
                batch.column(n) if n in have
                else typed.column(n).combine_chunks().cast(arrow_schema.field(n).type)
                for n in names
            ]
            yield pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)

    return run
