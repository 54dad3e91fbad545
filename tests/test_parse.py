"""Value parsing and header mapping of the ingest stage (FIELDS.md §8).

The Spark SQL parsers are checked in batches: every case of one parser is a row of one tiny DataFrame, so
one Spark action checks them all. USCC status and header mapping are plain Python.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from stdnum.cn import uscc as stdnum_uscc

from radar.config import Sources, sources
from radar.ingest import parse as P
from radar.ingest.headers import (
    detect_record_type,
    header_for,
    map_headers,
    normalize_header,
    unit_in_header,
)

VECTORS = Path(__file__).with_name("uscc_valid_vectors.txt")
PLACEHOLDER = "00000000000000000X"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def evaluate(spark: Any, values: list[str | None], exprs: dict[str, str]) -> dict[str | None, dict[str, Any]]:
    """Evaluate SQL expressions over a one-column (``x``) frame of ``values`` in one Spark action.

    Returns ``{value: {name: result}}``; the values must be distinct.
    """
    assert len(set(values)) == len(values), "cases must be distinct"
    df = spark.createDataFrame([(v,) for v in values], "x string")
    rows = df.selectExpr("x", *[f"{e} AS {name}" for name, e in exprs.items()]).collect()
    return {r["x"]: r.asDict() for r in rows}


def mismatches(got: dict[str | None, dict[str, Any]], expected: dict[str | None, Any], name: str) -> list[str]:
    """The cases whose result ``name`` differs from the expectation, readable in an assertion message."""
    return [f"{v!r}: got {got[v][name]!r}, want {want!r}" for v, want in expected.items() if got[v][name] != want]


# ------------------------------------------------------------------------------------------ dates
SENTINELS = sources().sentinel_dates

# value -> (date, open-ended)
DATE_CASES: dict[str | None, tuple[date | None, bool]] = {
    "2021/03/05": (date(2021, 3, 5), False),
    "2021-03-05": (date(2021, 3, 5), False),
    "2021-3-5": (date(2021, 3, 5), False),
    "2021/3/5": (date(2021, 3, 5), False),
    "2021年03月05日": (date(2021, 3, 5), False),
    "2021年3月5日": (date(2021, 3, 5), False),
    "20210305": (date(2021, 3, 5), False),
    "2021.03.05": (date(2021, 3, 5), False),
    "2021-03-05 13:45:00": (date(2021, 3, 5), False),
    "2021-03-05x": (date(2021, 3, 5), False),  # a Y-M-D prefix is taken
    "2021/03/05 23:59:59": (date(2021, 3, 5), False),
    "2021-03-05T23:59:59.000": (date(2021, 3, 5), False),
    "２０２１－０３－０５": (date(2021, 3, 5), False),  # full-width digits
    " 2020-02-29 ": (date(2020, 2, 29), False),  # leap day, padded
    # epoch milliseconds / seconds are instants: the calendar date in Beijing (UTC+8)
    "1609430400000": (date(2021, 1, 1), False),  # 2021-01-01 00:00:00.000 Beijing = 2020-12-31 16:00 UTC
    "1609430399999": (date(2020, 12, 31), False),  # one millisecond earlier
    "1609430400": (date(2021, 1, 1), False),
    "1614960000000": (date(2021, 3, 6), False),  # 2021-03-05 16:00 UTC = 2021-03-06 00:00 Beijing
    # sentinels and words meaning open-ended / long-term
    "2099/12/31": (None, True),
    "2099-12-31": (None, True),
    "9999-9-9": (None, True),
    "9999-12-31": (None, True),
    "1900-1-1": (None, True),
    "1900-01-01 00:00:00": (None, True),
    "长期": (None, True),
    "长期有效": (None, True),
    "永久": (None, True),
    # garbage and blanks
    "garbage": (None, False),
    "2021-13-01": (None, False),
    "2021-02-30": (None, False),
    "2021-00-10": (None, False),
    "+021-03-05": (None, False),  # a signed year is no date (Spark's date cast alone would read one)
    "0000-01-01": (None, True),  # year 0: before 1900, a placeholder for open-ended as 1900-1-1 is
    "2021-1-123": (date(2021, 1, 12), False),  # the Y-M-D prefix is taken, as for "2021-03-05x"
    "2021/02/29": (None, False),
    "20211345": (None, False),
    "12345": (None, False),
    "16094304000001": (None, False),  # 14 digits: no epoch
    "1609430400000x": (None, False),
    "2021年": (None, False),
    "": (None, False),
    "null": (None, False),
    "-": (None, False),
    None: (None, False),
}


def test_dates_in_every_format_sentinels_and_garbage(spark: Any) -> None:
    got = evaluate(spark, list(DATE_CASES), {
        "d": P.parse_date("x", SENTINELS),
        "oe": P.is_open_ended("x", SENTINELS),
    })
    assert not mismatches(got, {v: d for v, (d, _) in DATE_CASES.items()}, "d")
    assert not mismatches(got, {v: oe for v, (_, oe) in DATE_CASES.items()}, "oe")


def test_epoch_date_is_the_beijing_date_whatever_the_session_time_zone(spark: Any) -> None:
    """A deployment may set another session time zone; an epoch's date must still be Beijing's."""
    cases = {"1609430400000": date(2021, 1, 1), "1609430399999": date(2020, 12, 31),
             "1609343999999": date(2020, 12, 30), "1609430400": date(2021, 1, 1)}
    expr = f"CAST({P.parse_date('x', SENTINELS)} AS STRING) || '@' || current_timezone()"
    old = spark.conf.get("spark.sql.session.timeZone")
    try:
        for tz in ("Asia/Shanghai", "America/Los_Angeles"):
            spark.conf.set("spark.sql.session.timeZone", tz)
            got = evaluate(spark, list(cases), {"d": expr})
            want = {v: f"{d.isoformat()}@{tz}" for v, d in cases.items()}
            assert not mismatches(got, want, "d"), tz
    finally:
        spark.conf.set("spark.sql.session.timeZone", old)


# ------------------------------------------------------------------------------------------ numbers
# value -> (amount in yuan under a 万元 header, under a 元 header)
MONEY_CASES: dict[str | None, tuple[float | None, float | None]] = {
    "0.2": (2000.0, 0.2),  # the standard's sample: 0.2 万元 = 2000 元
    "1.5": (15000.0, 1.5),
    "1,234.5": (12_345_000.0, 1234.5),  # thousands separators
    "1，234.5": (12_345_000.0, 1234.5),
    "12 345": (123_450_000.0, 12_345.0),
    "2000元": (2000.0, 2000.0),  # a unit written in the cell wins over the header's
    "2000 元": (2000.0, 2000.0),
    "２０００元": (2000.0, 2000.0),
    "人民币2,000元": (2000.0, 2000.0),
    "0.5万元": (5000.0, 5000.0),
    "3万": (30000.0, 30000.0),
    "两千元": (None, None),  # text
    "约2000元": (None, None),
    "abc": (None, None),
    "1.2.3": (None, None),
    "": (None, None),
    "-": (None, None),
    None: (None, None),
}


def test_money_normalised_to_yuan(spark: Any) -> None:
    got = evaluate(spark, list(MONEY_CASES), {"wan": P.parse_money("x", "wan"), "yuan": P.parse_money("x", "yuan")})
    assert not mismatches(got, {v: w for v, (w, _) in MONEY_CASES.items()}, "wan")
    assert not mismatches(got, {v: y for v, (_, y) in MONEY_CASES.items()}, "yuan")


def test_decimals_and_integers(spark: Any) -> None:
    cases: dict[str | None, tuple[float | None, int | None]] = {
        "1,234.5": (1234.5, 1234), "１２３": (123.0, 123), " 42 ": (42.0, 42), "-5": (-5.0, -5),
        "35岁": (None, 35), "abc": (None, None), "": (None, None), None: (None, None),
        # beyond the integer range: not an integer (and not a failed parse of the whole file under ANSI mode)
        "3000000000": (3e9, None), "2147483647.9": (2147483647.9, 2147483647),
    }
    got = evaluate(spark, list(cases), {"dec": P.parse_decimal("x"), "i": P.parse_int("x")})
    assert not mismatches(got, {v: d for v, (d, _) in cases.items()}, "dec")
    assert not mismatches(got, {v: i for v, (_, i) in cases.items()}, "i")


# ------------------------------------------------------------------------------------------ lists
def test_lists_split_on_every_separator_keeping_legacy_combined_values(spark: Any) -> None:
    src = sources()
    cases: dict[str | None, list[str] | None] = {
        "罚款;警告": ["罚款", "警告"],
        "罚款；警告": ["罚款", "警告"],
        "罚款,警告": ["罚款", "警告"],
        "罚款，警告": ["罚款", "警告"],
        "罚款、警告": ["罚款", "警告"],
        "罚款|警告": ["罚款", "警告"],
        " 罚款 ; ;警告; ": ["罚款", "警告"],
        "罚款": ["罚款"],
        "没收违法所得、没收非法财物": ["没收违法所得、没收非法财物"],
        "罚款、没收违法所得、没收非法财物": ["罚款", "没收违法所得、没收非法财物"],
        "暂扣或者吊销许可证、暂扣或者吊销执照;警告": ["暂扣或者吊销许可证、暂扣或者吊销执照", "警告"],
        "没收违法所得、罚款": ["没收违法所得", "罚款"],
        "": None,
        None: None,
    }
    got = evaluate(spark, list(cases), {"l": P.split_list("x", src.list_separators, src.list_keep_whole)})
    assert not mismatches(got, cases, "l")


# ------------------------------------------------------------------------------------------ text and flags
def test_booleans_text_folding_and_null_tokens(spark: Any) -> None:
    # value -> (bool, cleaned text, cleaned identifier)
    cases: dict[str | None, tuple[bool | None, str | None, str | None]] = {
        "是": (True, "是", "是"),
        "否": (False, "否", "否"),
        "1": (True, "1", "1"),
        "0": (False, "0", "0"),
        "１": (True, "1", "1"),
        " Y ": (True, "Y", "Y"),
        "YES": (True, "YES", "YES"),
        "True": (True, "True", "TRUE"),
        "nO": (False, "nO", "NO"),
        "F": (False, "F", "F"),
        "｢ｱ｣": (None, "｢ｱ｣", "｢ｱ｣"),  # half-width forms share the full-width forms' first UTF-8 bytes: kept
        "false": (False, "false", "FALSE"),
        "也许": (None, "也许", "也许"),
        "ＡＢＣ１２３": (None, "ABC123", "ABC123"),
        "（有限公司）": (None, "(有限公司)", "(有限公司)"),
        "a\u3000b": (None, "a b", "AB"),
        "91110000-6000 3734 1l": (None, "91110000-6000 3734 1l", "91110000600037341L"),
        "": (None, None, None),
        "   ": (None, None, None),
        "null": (None, None, None),
        "NULL": (None, None, None),
        "None": (None, None, None),
        "nan": (None, None, None),
        "\\N": (None, None, None),
        "N/A": (None, None, None),
        "--": (None, None, None),
        "/": (None, None, None),
        None: (None, None, None),
    }
    got = evaluate(spark, list(cases), {"b": P.parse_bool("x"), "t": P.clean_text("x"), "u": P.clean_uscc("x")})
    assert not mismatches(got, {v: b for v, (b, _, _) in cases.items()}, "b")
    assert not mismatches(got, {v: t for v, (_, t, _) in cases.items()}, "t")
    assert not mismatches(got, {v: u for v, (_, _, u) in cases.items()}, "u")


def test_sql_literals_survive_quotes_and_backslashes(spark: Any) -> None:
    tricky = "it's a \\ back'slash"
    got = evaluate(spark, ["x"], {"s": P.lit(tricky)})
    assert got["x"]["s"] == tricky


# ------------------------------------------------------------------------------------------ USCC
def _vectors() -> list[str]:
    """The 200 real, valid USCCs of the test vectors."""
    return [line.strip() for line in VECTORS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_real_usccs_are_valid() -> None:
    vectors = _vectors()
    assert len(vectors) == 200
    assert [v for v in vectors if P.uscc_status_of(v, PLACEHOLDER) != "valid"] == []


def test_a_changed_check_character_is_an_invalid_checksum() -> None:
    bad = []
    for v in _vectors():
        wrong = next(c for c in USCC_ALPHABET if c != stdnum_uscc.calc_check_digit(v[:-1]))
        if P.uscc_status_of(v[:-1] + wrong, PLACEHOLDER) != "invalid_checksum":
            bad.append(v)
    assert bad == []


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (PLACEHOLDER, "placeholder"),
        ("3301061977****0418", "masked"),
        ("91110000********1L", "masked"),
        ("330106000012345", "reg_no"),
        ("12345678X", "org_code"),
        ("", "missing"),
        (None, "missing"),
        ("91110000ABC", "invalid_format"),
        ("9111000060003734IL", "invalid_format"),  # I is not in the GB 32100 alphabet
        ("91152201078377449P0", "invalid_format"),  # 19 characters
    ],
)
def test_uscc_status_of_special_values(code: str | None, status: str) -> None:
    assert P.uscc_status_of(code, PLACEHOLDER) == status
    assert status in P.USCC_STATUS


# ------------------------------------------------------------------------------------------ headers
@pytest.mark.parametrize(
    ("record_type", "header", "field", "unit"),
    [
        # Chinese label, both bracket widths
        ("penalty", "行政相对人代码_1(统一社会信用代码)", "uscc", None),
        ("penalty", "行政相对人代码_1（统一社会信用代码）", "uscc", None),
        ("penalty", "罚款金额（万元）", "fine_amount", "wan"),
        ("penalty", "罚款金额(万元)", "fine_amount", "wan"),
        ("penalty", "\ufeff行政相对人名称", "subject_name", None),  # BOM on the first header
        ("penalty", " 处罚决定日期 ", "decision_date", None),
        # the standard code in any case (and full width)
        ("penalty", "CF_XDR_MC", "subject_name", None),
        ("penalty", "cf_xdr_mc", "subject_name", None),
        ("penalty", "Cf_Xdr_Mc", "subject_name", None),
        ("penalty", "ＣＦ＿ＷＳＨ", "decision_no", None),
        ("license", "XK_WSH", "decision_no", None),
        ("license", "xk_wsh", "decision_no", None),
        # our snake_case
        ("penalty", "decision_no", "decision_no", None),
        ("penalty", "DECISION_NO", "decision_no", None),
        ("penalty", "fine_amount", "fine_amount", "wan"),
        ("complaint", "amount_involved", "amount_involved", "yuan"),
        # known variants and typos (FIELDS.md §8.1)
        ("penalty", "行政处罚决定文书号", "decision_no", None),
        ("penalty", "处罚金额（万元）", "fine_amount", "wan"),
        ("penalty", "没收违法所得、没收非法财务的金额", "confiscation_amount", "wan"),
        ("penalty", "没收违法所得、没收非法财务的金额（万元）", "confiscation_amount", "wan"),
        ("penalty", "没收违法所得、没收非法财物的金额（万元）", "confiscation_amount", "wan"),
        ("penalty", "法定代表人身份证号", "legal_rep_id_no", None),
        ("license", "法定代表人身份证号", "legal_rep_id_no", None),
        ("abnormal_list", "作出决定机关(列入)", "listing_authority", None),
        ("abnormal_list", "作出决定机关（列入）", "listing_authority", None),
        ("serious_violation", "列入严重违法失信企业名单（黑名单原因）", "serious_listing_reason", None),
        # other publishers' keys, with the unit they carry
        ("penalty", "penam", "fine_amount", "yuan"),
        ("penalty", "罚款", "fine_amount", "yuan"),
        ("penalty", "pendecno", "decision_no", None),
        ("penalty", "CF_CFLB1", "penalty_category", None),
        # a unit the header writes in brackets wins over the field's default unit
        ("penalty", "罚款金额（元）", "fine_amount", "yuan"),
        ("penalty", "罚款金额(单位：元)", "fine_amount", "yuan"),
        ("registry", "注册资本(元)", "registered_capital", "yuan"),
        ("registry", "注册资本（万元）", "registered_capital", "wan"),
        ("complaint", "消费金额（万元）", "amount_involved", "wan"),
        ("complaint", "消费金额（元）", "amount_involved", "yuan"),
    ],
)
def test_header_aliases(record_type: str, header: str, field: str, unit: str | None) -> None:
    m = map_headers([header], record_type)
    assert [(c.source, c.field, c.unit) for c in m.columns] == [(header, field, unit)]
    assert m.unknown == []


def test_unit_in_header() -> None:
    assert unit_in_header("罚款金额（万元）") == "wan"
    assert unit_in_header("罚款金额(元)") == "yuan"
    assert unit_in_header("罚款(人民币元)") == "yuan"
    assert unit_in_header("罚款金额") is None
    assert unit_in_header("行政相对人代码_1（统一社会信用代码）") is None


def test_unknown_and_duplicate_columns_are_reported() -> None:
    headers = ["行政相对人名称", "数据导出时间", "CF_XDR_MC", "CHECK_FLAG", "决定书文号", "行政处罚决定书文号", "foo"]
    m = map_headers(headers, "penalty")
    assert [(c.source, c.field) for c in m.columns] == [("行政相对人名称", "subject_name"), ("决定书文号", "decision_no")]
    assert m.unknown == ["数据导出时间", "CHECK_FLAG", "foo"]
    assert m.duplicates == ["CF_XDR_MC", "行政处罚决定书文号"]


def test_normalize_header_ignores_width_case_spaces_and_separators() -> None:
    assert normalize_header("ＣＦ＿ＸＤＲ＿ＭＣ") == normalize_header("cf xdr-mc") == "cfxdrmc"
    assert normalize_header("罚款金额（万元）") == normalize_header("罚款金额 (万元)")
    assert normalize_header("【备注】") == "[备注]"


STYLES = ("label", "code", "code_lower", "snake")


@pytest.mark.parametrize("record_type", list(sources().record_types))
def test_record_type_detected_from_each_header_style(record_type: str) -> None:
    spec = sources().record_types[record_type]
    required = [f for f, s in spec.fields.items() if s.required]
    minimal = list(dict.fromkeys([*spec.detect, *required]))
    for style in STYLES:
        for fields in (list(spec.fields), minimal):
            headers = [header_for(record_type, f, style) for f in fields]
            m = detect_record_type(headers)
            assert m is not None, (style, headers)
            assert m.record_type == record_type, (style, headers)
            assert m.fields == set(fields) and m.unknown == [], (style, headers)


@pytest.mark.parametrize(
    ("headers", "record_type"),
    [
        # the 2016 (试行) penalty layout
        (["CF_WSH", "CF_CFMC", "CF_CFLB1", "CF_CFLB2", "CF_SY", "CF_YJ", "CF_XDR_MC", "CF_XDR_SHXYM",
          "CF_XDR_ZDM", "CF_XDR_GSDJ", "CF_XDR_SWDJ", "CF_XDR_SFZ", "CF_FR", "CF_JG", "CF_JDRQ", "CF_XZJG",
          "CF_ZT", "DFBM", "SJC", "BZ"], "penalty"),
        # a 市场监管 case system's penalty export
        (["entname", "uniscid", "lerep", "pendecno", "illegacttype", "penbasis_cn", "mainillegfact", "pentype_cn",
          "pencontent", "penam", "forfam", "penauth_cn", "pendecissdate", "penperi", "publicdate", "pubdeadline"],
         "penalty"),
        # 信用中国 lower-case keys with platform columns
        (["cf_wsh", "cf_cflb", "cf_jdrq", "cf_xdr_mc", "cf_nr_fk", "ID", "RESOURCE_ID", "数据导出时间"], "penalty"),
        # GSXT keys
        (["uniscId", "entName", "regState_CN", "estDate", "regCap", "dom"], "registry"),
        (["entName", "creditNo", "entAddr", "content", "res", "REGINO"], "complaint"),
        (["UNISCID", "ENTNAME", "serILLRea_CN", "abntime", "decOrg_CN"], "serious_violation"),
        (["UNISCID", "ENTNAME", "speCause_CN", "abntime", "remExcpRes_CN", "remDate"], "abnormal_list"),
    ],
)
def test_record_type_detected_from_real_layouts(headers: list[str], record_type: str) -> None:
    m = detect_record_type(headers)
    assert m is not None and m.record_type == record_type


@pytest.mark.parametrize(
    "headers",
    [
        [],
        ["foo", "bar", "baz"],
        ["姓名", "电话", "地址"],
        ["行政相对人名称", "行政处罚决定书文号", "处罚决定日期"],  # no 处罚类别: penalty is not certain
    ],
)
def test_headers_matching_no_record_type_give_none(headers: list[str]) -> None:
    assert detect_record_type(headers) is None


def test_header_mapping_uses_the_sources_it_is_given() -> None:
    """A RunContext may carry its own sources.yaml; its aliases must be the ones matched."""
    data = sources().model_dump()
    data["record_types"]["penalty"]["fields"]["subject_name"]["aliases"].append("当事人名称")
    custom = Sources.model_validate(data)
    headers = ["当事人名称", "行政处罚决定书文号", "处罚类别", "处罚决定日期"]
    assert map_headers(headers, "penalty").unknown == ["当事人名称"]
    m = map_headers(headers, "penalty", custom)
    assert m.unknown == [] and "subject_name" in m.fields
    found = detect_record_type(headers, custom)
    assert found is not None and found.record_type == "penalty" and found.unknown == []
