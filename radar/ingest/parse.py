"""Value parsing (FIELDS.md §8): text, dates, money, lists, flags, USCCs.

Each parser turns a Spark SQL expression (text) into another one; ``col(...)`` wraps the result as a Column.
Building expressions as SQL text keeps plan construction cheap: a file with forty columns would otherwise
cost tens of thousands of driver-JVM round trips. Values that cannot be parsed become null; the caller
records why (a data-quality flag) or quarantines the row when the field is required.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space fold to their half-width forms, as NFKC does.
_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF = "".join(chr(c) for c in range(0x21, 0x7F)) + " "
_FULL_CLASS = f"[{chr(0xFF01)}-{chr(0xFF5E)}\u3000]"  # a regular expression: any character of _FULL
NULL_TOKENS = ["", "null", "NULL", "Null", "None", "none", "nan", "NaN", "\\N", "N/A", "n/a", "-", "--", "/"]
OPEN_ENDED_WORDS = ["长期", "永久", "长期有效", "无固定期限"]


def lit(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(name: str) -> str:
    """A quoted column reference."""
    return "`" + name.replace("`", "``") + "`"


def col(expr: str) -> Column:
    """The Column of a SQL expression."""
    return F.expr(expr)


def _in(values: list[str]) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def clean_text(x: str) -> str:
    """Half-width, trimmed text; empty and null-like tokens become null. Only text holding a full-width
    character is translated (most values hold none, and the scan is much cheaper than the translation)."""
    half = f"CASE WHEN {x} RLIKE {lit(_FULL_CLASS)} THEN translate({x}, {lit(_FULL)}, {lit(_HALF)}) ELSE {x} END"
    t = f"trim({half})"
    return f"(CASE WHEN {t} IN {_in(NULL_TOKENS)} THEN NULL ELSE {t} END)"


def date_of_clean(t: str, timezone: str = "Asia/Shanghai") -> str:
    """A date from cleaned text ``t`` (see ``clean_text``), without sentinel handling.

    Epoch seconds and milliseconds are instants: their date is the calendar date in ``timezone``, whatever
    the session time zone (the instant's wall clock is moved from the session zone to ``timezone``).
    """
    tz = lit(timezone)

    def epoch_date(ts: str) -> str:
        return f"to_date(convert_timezone(current_timezone(), {tz}, CAST({ts} AS TIMESTAMP_NTZ)))"

    norm = (
        f"regexp_extract(regexp_replace(regexp_replace({t}, '[年月/.]', '-'), '日', ''), "
        f"'^(\\\\d{{4}}-\\\\d{{1,2}}-\\\\d{{1,2}})', 1)"
    )
    return (
        f"(CASE WHEN {t} RLIKE '^\\\\d{{13}}$' THEN {epoch_date(f'timestamp_millis(try_cast({t} AS BIGINT))')} "
        f"WHEN {t} RLIKE '^\\\\d{{10}}$' THEN {epoch_date(f'timestamp_seconds(try_cast({t} AS BIGINT))')} "
        f"WHEN {t} RLIKE '^\\\\d{{8}}$' THEN try_to_date({t}, 'yyyyMMdd') "
        f"WHEN {norm} != '' THEN try_to_date({norm}, 'y-M-d') END)"
    )


def open_ended_of(t: str, d: str, sentinels: list[str]) -> str:
    """Whether cleaned text ``t`` (with its date ``d``) means 'open-ended': a sentinel date or 长期."""
    sent = ", ".join(f"DATE {lit(s)}" for s in sentinels)
    return (
        f"coalesce({t} IN {_in(OPEN_ENDED_WORDS)} OR {d} IN ({sent}) "
        f"OR year({d}) >= 2099 OR year({d}) <= 1900, false)"
    )


def is_open_ended(x: str, sentinels: list[str]) -> str:
    """True when the raw text ``x`` is a sentinel date or word meaning 'open-ended / long-term'."""
    t = clean_text(x)
    return open_ended_of(t, date_of_clean(t), sentinels)


def parse_date(x: str, sentinels: list[str]) -> str:
    """A date from any format of FIELDS.md §8.4; sentinel dates become null (open-ended).

    Accepted: ``YYYY/MM/DD``, ``YYYY-MM-DD``, ``YYYY-M-D``, ``YYYY.MM.DD``, ``YYYY年MM月DD日``, ``YYYYMMDD``,
    date-times (the time is dropped), epoch seconds (10 digits) and milliseconds (13 digits). For wide
    tables prefer the staged form (clean once, then ``date_of_clean`` and ``open_ended_of``).
    """
    t = clean_text(x)
    d = date_of_clean(t)
    return f"(CASE WHEN {open_ended_of(t, d, sentinels)} THEN CAST(NULL AS DATE) ELSE {d} END)"


def decimal_of_clean(t: str) -> str:
    """A number from cleaned text, thousands separators removed; null when not numeric."""
    return f"try_cast(regexp_replace({t}, '[,，\\\\s]', '') AS DOUBLE)"


def money_of_clean(t: str, unit: str, unit_sql: str | None = None) -> str:
    """An amount in yuan from cleaned text. ``unit`` is the header's (wan = 万元, yuan = 元), or ``unit_sql`` an
    expression giving it per row; a unit written in the cell wins."""
    v = f"regexp_replace({t}, '[,，\\\\s]|人民币|RMB|CNY', '')"
    num = f"try_cast(regexp_replace({v}, '万元|万|元', '') AS DOUBLE)"
    default = (
        f"(CASE WHEN {unit_sql} = 'wan' THEN 10000.0 ELSE 1.0 END)" if unit_sql
        else "10000.0" if unit == "wan" else "1.0"
    )
    return (
        f"({num} * CASE WHEN endswith({v}, '万元') OR endswith({v}, '万') THEN 10000.0 "
        f"WHEN endswith({v}, '元') THEN 1.0 ELSE {default} END)"
    )


def int_of_clean(t: str) -> str:
    """An integer from cleaned text; null when not numeric."""
    return f"CAST(try_cast(regexp_replace({t}, '[,，\\\\s人岁]', '') AS DOUBLE) AS INT)"


def bool_of_clean(t: str) -> str:
    """是/否, Y/N, 1/0, true/false from cleaned text."""
    lo = f"lower({t})"
    return (
        f"(CASE WHEN {lo} IN ('是', 'y', 'yes', '1', 'true', 't') THEN true "
        f"WHEN {lo} IN ('否', 'n', 'no', '0', 'false', 'f') THEN false END)"
    )


def _re_class(chars: list[str]) -> str:
    """A regex character class of the given characters (escaping the class metacharacters)."""
    return "[" + "".join("\\" + c if c in "\\^]-[" else c for c in chars) + "]"


def list_of_clean(t: str, separators: list[str], keep_whole: list[str]) -> str:
    """A multi-value cell (cleaned text) as an array of trimmed values, keeping legacy combined values whole."""
    guard = "\u0001"
    for v in keep_whole:
        t = f"replace({t}, {lit(v)}, {lit(v.replace('、', guard))})"
    parts = f"split({t}, {lit(_re_class(separators))})"
    return f"filter(transform({parts}, s -> trim(replace(s, {lit(guard)}, '、'))), s -> s != '')"


def parse_decimal(x: str) -> str:
    """A number with thousands separators removed; null when not numeric."""
    return decimal_of_clean(clean_text(x))


def parse_money(x: str, unit: str) -> str:
    """An amount in yuan (see ``money_of_clean``)."""
    return money_of_clean(clean_text(x), unit)


def parse_int(x: str) -> str:
    """An integer; null when not numeric."""
    return int_of_clean(clean_text(x))


def parse_bool(x: str) -> str:
    """是/否, Y/N, 1/0, true/false."""
    return bool_of_clean(clean_text(x))


def split_list(x: str, separators: list[str], keep_whole: list[str]) -> str:
    """A multi-value cell as an array of trimmed values (see ``list_of_clean``)."""
    return list_of_clean(clean_text(x), separators, keep_whole)


def clean_uscc(x: str) -> str:
    """Upper-case identifier without spaces or separators (full-width folded)."""
    return f"upper(regexp_replace({clean_text(x)}, '[\\\\s\\\\-]', ''))"


# ------------------------------------------------------------------------------------------ USCC
USCC_STATUS = ("valid", "invalid_checksum", "invalid_format", "placeholder", "masked", "reg_no", "org_code", "missing")


def uscc_status_of(code: str | None, placeholder: str) -> str:
    """Status of one identifier value, with python-stdnum deciding USCC validity (GB 32100-2015)."""
    if code is None or code == "":
        return "missing"
    if code == placeholder:
        return "placeholder"
    if "*" in code:
        return "masked"
    if len(code) == 15 and code.isdigit():
        return "reg_no"
    if len(code) == 9 and code.isalnum():
        return "org_code"
    try:
        stdnum_uscc.validate(code)
        return "valid"
    except InvalidChecksum:
        return "invalid_checksum"
    except (InvalidFormat, InvalidLength, InvalidComponent):
        return "invalid_format"


def uscc_status(c: Column, placeholder: str) -> Column:
    """The status of each identifier (see USCC_STATUS), decided by python-stdnum in Arrow batches."""

    @F.pandas_udf(T.StringType())  # type: ignore[call-overload]
    def _status(s: pd.Series) -> pd.Series:
        cache: dict[str | None, str] = {}
        out = []
        for v in s.tolist():
            key = None if v is None or (isinstance(v, float) and pd.isna(v)) else v
            if key not in cache:
                cache[key] = uscc_status_of(key, placeholder)
            out.append(cache[key])
        return pd.Series(out, dtype="string")

    return _status(c)
