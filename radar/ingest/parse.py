"""Value parsing (FIELDS.md §8): text, dates, money, lists, flags, USCCs.

Each parser turns a Spark SQL expression (text) into another one; ``col(...)`` wraps the result as a Column.
Building expressions as SQL text keeps plan construction cheap: a file with forty columns would otherwise
cost tens of thousands of driver-JVM round trips. Values that cannot be parsed become null; the caller
records why (a data-quality flag) or quarantines the row when the field is required.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
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


# The UTF-8 bytes that begin every character of _FULL: U+FF01..U+FF5E begin EF BC or EF BD, U+3000 is E3 80 80.
# Looking for them in a value's bytes is much cheaper than a regular expression over its decoded text. A few
# other characters share the two-byte prefixes (U+FF00, U+FF5F..U+FF7F); ``translate`` leaves those as they are.
_FULL_UTF8_PREFIXES = ("EFBC", "EFBD", "E38080")


def has_full_width(x: str) -> str:
    """Whether text ``x`` may hold a full-width character (see ``_FULL_UTF8_PREFIXES``)."""
    return "(" + " OR ".join(f"contains(CAST({x} AS BINARY), X'{p}')" for p in _FULL_UTF8_PREFIXES) + ")"


def clean_text(x: str) -> str:
    """Half-width, trimmed text; empty and null-like tokens become null. Only text holding a full-width
    character is translated (most values hold none, and the byte scan is much cheaper than the translation)."""
    half = f"CASE WHEN {has_full_width(x)} THEN translate({x}, {lit(_FULL)}, {lit(_HALF)}) ELSE {x} END"
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

    def digits(n: int) -> str:  # the length test spares most values the regular expression
        return f"length({t}) = {n} AND {t} RLIKE '^\\\\d{{{n}}}$'"

    # Y-M-D, the commonest form, first: it has nothing to normalise (``norm`` would return it unchanged)
    return (
        f"(CASE WHEN {t} RLIKE '^\\\\d{{4}}-\\\\d{{1,2}}-\\\\d{{1,2}}$' THEN try_to_date({t}, 'y-M-d') "
        f"WHEN {digits(13)} THEN {epoch_date(f'timestamp_millis(try_cast({t} AS BIGINT))')} "
        f"WHEN {digits(10)} THEN {epoch_date(f'timestamp_seconds(try_cast({t} AS BIGINT))')} "
        f"WHEN {digits(8)} THEN try_to_date({t}, 'yyyyMMdd') "
        f"ELSE try_to_date(nullif({norm}, ''), 'y-M-d') END)"
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
    """An integer from cleaned text (a fraction truncated); null when not numeric or beyond the integer range
    (a plain CAST would fail the whole parse on one huge number under ANSI mode)."""
    return f"try_cast(try_cast(regexp_replace({t}, '[,，\\\\s人岁]', '') AS DOUBLE) AS INT)"


_TRUE = ["是", "y", "yes", "1", "true", "t"]
_FALSE = ["否", "n", "no", "0", "false", "f"]


def bool_of_clean(t: str) -> str:
    """是/否, Y/N, 1/0, true/false (any case) from cleaned text. Values already in lower case are looked up
    before anything is lower-cased (Spark lower-cases with ICU, which is slow)."""
    lo = f"lower({t})"
    return (
        f"(CASE WHEN {t} IN {_in(_TRUE)} THEN true WHEN {t} IN {_in(_FALSE)} THEN false "
        f"WHEN {lo} IN {_in(_TRUE)} THEN true WHEN {lo} IN {_in(_FALSE)} THEN false END)"
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


def uscc_of_clean(t: str) -> str:
    """Upper-case identifier without spaces or separators, from cleaned text."""
    return f"upper(regexp_replace({t}, '[\\\\s\\\\-]', ''))"


def clean_uscc(x: str) -> str:
    """Upper-case identifier without spaces or separators (full-width folded)."""
    return uscc_of_clean(clean_text(x))


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


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015 (as python-stdnum's cn.uscc)
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_status_sql(x: str, placeholder: str, normalized: bool = False) -> str:
    """The status of identifier ``x`` (see USCC_STATUS) as ``uscc_status_of`` decides it, in Spark SQL; null
    for a value holding anything but printable ASCII (a space, a control or non-ASCII character), where
    Python's Unicode rules and python-stdnum's clean-up apply: decide those with ``uscc_status_of``.

    ``normalized``: ``x`` is already in upper case without dashes (``uscc_of_clean``), so the code is read
    from ``x`` itself. Otherwise the clean-up is written out once per character read: Spark evaluates an
    expression shared by only some branches of a CASE anew in each (a city's parse spent 14 % of its CPU on
    the check character that way).

    On printable ASCII stdnum's clean-up changes nothing but the dashes (removed) and the case (upper), so the
    length, format and check-character tests can be written out: the check character is
    ``alphabet[(31 - sum(index(c_i) * w_i)) mod 31]`` over the first 17 characters.
    """
    a = lit(_USCC_ALPHABET)
    c = x if normalized else f"upper(replace({x}, '-', ''))"
    total = " + ".join(f"(instr({a}, substr({c}, {i + 1}, 1)) - 1) * {w}" for i, w in enumerate(_USCC_WEIGHTS))
    return (
        f"(CASE WHEN {x} IS NULL OR {x} = '' THEN 'missing' "
        f"WHEN {x} = {lit(placeholder)} THEN 'placeholder' "
        f"WHEN contains({x}, '*') THEN 'masked' "
        f"WHEN NOT {x} RLIKE '^[!-~]+$' THEN CAST(NULL AS STRING) "
        f"WHEN {x} RLIKE '^[0-9]{{15}}$' THEN 'reg_no' "
        f"WHEN {x} RLIKE '^[0-9A-Za-z]{{9}}$' THEN 'org_code' "
        f"WHEN NOT {c} RLIKE '^[0-9]{{8}}[{_USCC_ALPHABET}]{{10}}$' THEN 'invalid_format' "
        f"WHEN substr({c}, 18, 1) = substr({a}, pmod(31 - ({total}), 31) + 1, 1) THEN 'valid' "
        "ELSE 'invalid_checksum' END)"
    )
