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
    """Half-width, trimmed text; empty and null-like tokens become null."""
    t = f"trim(translate({x}, {lit(_FULL)}, {lit(_HALF)}))"
    return f"(CASE WHEN {t} IN {_in(NULL_TOKENS)} THEN NULL ELSE {t} END)"


def _raw_date(x: str) -> str:
    """A date from the text without sentinel handling."""
    t = clean_text(x)
    norm = f"regexp_extract(regexp_replace(regexp_replace({t}, '[年月/.]', '-'), '日', ''), '^(\\\\d{{4}}-\\\\d{{1,2}}-\\\\d{{1,2}})', 1)"
    return (
        f"(CASE WHEN {t} RLIKE '^\\\\d{{13}}$' THEN to_date(timestamp_millis(try_cast({t} AS BIGINT))) "
        f"WHEN {t} RLIKE '^\\\\d{{10}}$' THEN to_date(timestamp_seconds(try_cast({t} AS BIGINT))) "
        f"WHEN {t} RLIKE '^\\\\d{{8}}$' THEN try_to_date({t}, 'yyyyMMdd') "
        f"WHEN {norm} != '' THEN try_to_date({norm}, 'y-M-d') END)"
    )


def is_open_ended(x: str, sentinels: list[str]) -> str:
    """True when the text is a sentinel date or word meaning 'open-ended / long-term' (2099/12/31, 长期)."""
    d = _raw_date(x)
    sent = ", ".join(f"DATE {lit(s)}" for s in sentinels)
    return (
        f"coalesce({clean_text(x)} IN {_in(OPEN_ENDED_WORDS)} OR {d} IN ({sent}) "
        f"OR year({d}) >= 2099 OR year({d}) <= 1900, false)"
    )


def parse_date(x: str, sentinels: list[str]) -> str:
    """A date from any format of FIELDS.md §8.4; sentinel dates become null (open-ended).

    Accepted: ``YYYY/MM/DD``, ``YYYY-MM-DD``, ``YYYY-M-D``, ``YYYY.MM.DD``, ``YYYY年MM月DD日``, ``YYYYMMDD``,
    date-times (the time is dropped), epoch seconds (10 digits) and milliseconds (13 digits).
    """
    return f"(CASE WHEN {is_open_ended(x, sentinels)} THEN CAST(NULL AS DATE) ELSE {_raw_date(x)} END)"


def parse_decimal(x: str) -> str:
    """A number with thousands separators removed; null when not numeric."""
    return f"try_cast(regexp_replace({clean_text(x)}, '[,，\\\\s]', '') AS DOUBLE)"


def parse_money(x: str, unit: str) -> str:
    """An amount in yuan. ``unit`` is the header's unit (wan = 万元, yuan = 元); a unit written in the cell wins."""
    t = f"regexp_replace({clean_text(x)}, '[,，\\\\s]|人民币|RMB|CNY', '')"
    num = f"try_cast(regexp_replace({t}, '万元|万|元', '') AS DOUBLE)"
    default = "10000.0" if unit == "wan" else "1.0"
    return (
        f"({num} * CASE WHEN endswith({t}, '万元') OR endswith({t}, '万') THEN 10000.0 "
        f"WHEN endswith({t}, '元') THEN 1.0 ELSE {default} END)"
    )


def parse_int(x: str) -> str:
    """An integer; null when not numeric."""
    return f"CAST(try_cast(regexp_replace({clean_text(x)}, '[,，\\\\s人岁]', '') AS DOUBLE) AS INT)"


def parse_bool(x: str) -> str:
    """是/否, Y/N, 1/0, true/false."""
    t = f"lower({clean_text(x)})"
    return (
        f"(CASE WHEN {t} IN ('是', 'y', 'yes', '1', 'true', 't') THEN true "
        f"WHEN {t} IN ('否', 'n', 'no', '0', 'false', 'f') THEN false END)"
    )


def _re_class(chars: list[str]) -> str:
    """A regex character class of the given characters (escaping the class metacharacters)."""
    return "[" + "".join("\\" + c if c in "\\^]-[" else c for c in chars) + "]"


def split_list(x: str, separators: list[str], keep_whole: list[str]) -> str:
    """A multi-value cell as an array of trimmed values, keeping the legacy combined values whole."""
    t = clean_text(x)
    guard = "\u0001"
    for v in keep_whole:
        t = f"replace({t}, {lit(v)}, {lit(v.replace('、', guard))})"
    parts = f"split({t}, {lit(_re_class(separators))})"
    return (
        f"filter(transform({parts}, s -> trim(replace(s, {lit(guard)}, '、'))), s -> s != '')"
    )


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
