"""Resolve on hand-made ingest tables: name rules, the entity master, record links and linking attributes.

One registry of a dozen entities is resolved once (entities, links, attributes are collected by module
fixtures); each test checks one rule on those results.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pandas as pd
import pytest
from tables import D, ingest_table, invalid_checksum, uscc

import radar.resolve.link as link_module
from radar.config import policy
from radar.resolve.attributes import build_attributes
from radar.resolve.entities import build_entities, build_master
from radar.resolve.link import link_records, mentions, quick_links, resolve_links
from radar.resolve.normalize import derive, name_rules

AS_OF = date(2024, 6, 30)
POLICY = policy().resolve
RULES = name_rules(POLICY)

# ---------------------------------------------------------------- name rules
NAME_CASES: list[tuple[str | None, str | None]] = [
    ("辽宁省朝阳市双塔区鑫盛商贸有限公司", "鑫盛商贸"),
    ("辽宁朝阳鑫盛商贸有限公司", "鑫盛商贸"),          # short province and city
    ("朝阳市鑫盛商贸有限公司", "鑫盛商贸"),
    ("双塔鑫盛商贸有限公司", "鑫盛商贸"),              # short district
    ("鑫盛商贸（朝阳）有限公司", "鑫盛商贸"),          # bracketed region, full-width brackets
    ("鑫盛商贸(双塔区)有限公司", "鑫盛商贸"),
    ("鑫盛商贸（辽宁省）股份有限公司", "鑫盛商贸"),
    ("鑫盛商贸（集团）有限公司", "鑫盛商贸集团"),      # a bracket that is not a region stays (without brackets)
    ("喀左宏达建筑有限公司", "宏达建筑"),
    ("喀喇沁左翼蒙古族自治县宏达建筑有限公司", "宏达建筑"),
    ("朝阳县宏达建筑有限公司", "宏达建筑"),            # 朝阳县 is a district, not 朝阳 + 县...
    ("朝阳市朝阳县宏达建筑有限公司", "宏达建筑"),
    ("北票市宏达农民专业合作社", "宏达"),
    ("凌源宏达商行", "宏达"),
    ("建平县宏达个人独资企业", "宏达"),
    ("朝阳经济技术开发区恒通物流有限公司", "恒通物流"),  # the internal division named after the city
    ("ＡＢＣ　贸易 有限公司", "ABC贸易"),              # full-width letters, ideographic and ASCII spaces
    ("鑫盛\t商贸\u00a0有限公司", "鑫盛商贸"),           # tab and no-break space
    ("宏达\u2002建筑有限公司", "宏达建筑"),             # en space
    ("北京宏达建筑有限公司", "北京宏达建筑"),          # another city's name is part of the name
    ("朝阳市", None),                                  # only a region
    ("辽宁省朝阳市双塔区", None),
    ("朝阳县", None),
    ("喀左", None),
    ("（朝阳）有限公司", None),
    ("有限公司", None),                                # only a suffix
    ("  ", None),
    (None, None),
]
ADDRESS_CASES: list[tuple[str, str]] = [
    ("辽宁省朝阳市双塔区友谊大街1号", "双塔区友谊大街1号"),
    ("朝阳市 双塔区友谊大街１号", "双塔区友谊大街1号"),
    ("辽宁省朝阳市朝阳县柳城街道8号楼", "朝阳县柳城街道8栋"),
    ("朝阳县柳城街道8幢", "朝阳县柳城街道8栋"),      # 朝阳县 keeps its 朝阳
    ("辽宁省朝阳市朝阳经济技术开发区龙山街2#", "朝阳经济技术开发区龙山街2号"),
]


@pytest.mark.parametrize(("name", "core"), NAME_CASES)
def test_name_core_python(name: str | None, core: str | None) -> None:
    assert RULES.name_py(name) == core


@pytest.mark.parametrize(("address", "core"), ADDRESS_CASES)
def test_address_core_python(address: str, core: str) -> None:
    assert RULES.address_py(address) == core


def test_python_and_spark_rules_agree(spark: Any) -> None:
    """Name and address rules give the same result in Python and in Spark SQL, case by case."""
    texts = [n for n, _ in NAME_CASES] + [a for a, _ in ADDRESS_CASES] + ["鑫盛①商贸﹙朝阳﹚", "\ufeff鑫盛商贸 "]
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    got = df.selectExpr("t", f"{RULES.name_sql('t')} AS n", f"{RULES.address_sql('t')} AS a").collect()
    for r in got:
        assert (r["n"], r["a"]) == (RULES.name_py(r["t"]), RULES.address_py(r["t"])), repr(r["t"])


def test_name_and_address_steps_agree_with_python(spark: Any) -> None:
    """The stepwise Spark columns (NameRules.name_steps / address_steps through ``derive``) and the one-expression
    SQL give every part of a name and address as Python does."""
    texts = [n for n, _ in NAME_CASES] + [a for a, _ in ADDRESS_CASES] + [
        "鑫盛商贸（朝阳）有限公司双塔分公司", "北票市宏达农民专业合作社", "辽宁省朝阳市双塔区友谊大街1号楼三单元201"]
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    name_steps, parts = RULES.name_steps("t")
    addr_steps, addr = RULES.address_steps("t")
    outputs = {f"n_{k}": v for k, v in parts.items()} | {f"a_{k}": v for k, v in addr.items()}
    inlined = {f"s_{k}": v for k, v in RULES.parts_sql("t").items()}
    got = derive(df, name_steps + addr_steps, outputs | inlined).collect()
    assert set(got[0].asDict()) == {"t", *outputs, *inlined}  # the steps are dropped
    for r in got:
        p = RULES.parts_py(r["t"])
        a = RULES.address_py(r["t"])
        want = {"full": p.full, "core": p.core, "region": p.region, "form": p.form, "branch": p.branch}
        assert {k: r[f"n_{k}"] for k in want} == want, repr(r["t"])
        assert {k: r[f"s_{k}"] for k in want} == want, repr(r["t"])
        assert (r["a_core"], r["a_key"], r["a_road"]) == (a, RULES.address_key_py(a), RULES.road_py(a)), repr(r["t"])


# ---------------------------------------------------------------- the registry
U_XS = uscc("211302", 1)          # 鑫盛商贸, district field says 龙城区
U_HD = uscc("211322", 2)          # 宏达建筑, USCC registered in 建平县, shares 鑫盛's legal rep
U_HM1 = uscc("211300", 3)         # 华美商贸 in 龙城区 (city-level USCC: district from the address)
U_HM2 = uscc("211381", 4)         # 华美商贸 in 北票市
U_LH = uscc("211302", 5, "92")    # an individual business named after its operator 李华
U_HT = uscc("211300", 6)          # 恒通物流 in the development zone
U_RN = uscc("211302", 7)          # renamed: the newest registry row wins
U_RV = uscc("211302", 8)          # revoked (吊销), no date
U_DD = uscc("211302", 9)          # status 存续 but deregistered before the as-of date
U_LATE = uscc("211302", 10)       # deregistration date after the as-of date
U_REG = uscc("211302", 11)        # a legacy registration number
U_OLD = uscc("211302", 12)        # only a superseded (not current) row
U_ELSEWHERE = uscc("210102", 13)  # valid, but not in the registry
PERSON_ID = "210102198001011234"


def _reg(code: str | None, name: str, **kw: Any) -> dict[str, Any]:
    """One registry row (canonical fields), 存续 and founded 2015-03-01 unless ``kw`` says otherwise."""
    row: dict[str, Any] = {"uscc": code, "name": name, "established_date": "2015-03-01", "registration_status": "存续"}
    row.update(kw)
    return row


REGISTRY = [
    _reg(U_XS, "朝阳市鑫盛商贸有限公司", address="辽宁省朝阳市双塔区友谊大街1号", district_code="211303",
         industry_code="5211", legal_rep_name="王强", legal_rep_id_no=PERSON_ID, phone="0421-2612345",
         registered_capital_yuan=1_000_000.0, entity_type="有限责任公司"),
    _reg(U_HD, "朝阳县宏达建筑有限公司", address="朝阳县柳城街道1号", industry_code="E4710",
         legal_rep_name="王强", legal_rep_id_no="210102 198001011234", registration_status="在营（开业）"),
    _reg(U_HM1, "朝阳市龙城区华美商贸有限公司", address="朝阳市龙城区新华路10号", industry_code="F52",
         registration_status="注销", deregistered_date="2023-01-01", legal_rep_id_no="2101021980****1234"),
    _reg(U_HM2, "北票市华美商贸有限公司", address="北票市河北路5号", district_code="2113810000",
         industry_code="C", legal_rep_name="赵敏"),
    _reg(U_LH, "朝阳市双塔区李华商行", address="双塔区新华路3号", entity_type="个体工商户", legal_rep_name="李华"),
    _reg(U_HT, "朝阳经济技术开发区恒通物流有限公司", address="朝阳经济技术开发区龙山街2号", industry_code="G"),
    _reg(U_RN, "朝阳市旧名商贸有限公司", approval_date="2019-01-01", source_file="registry_b.csv"),
    _reg(U_RN, "朝阳市新名商贸有限公司", approval_date="2023-05-01"),
    _reg(U_RN, "朝阳市无日期商贸有限公司", source_file="registry_z.csv"),
    _reg(U_RV, "朝阳市吊销商贸有限公司", registration_status="吊销，未注销"),
    _reg(U_DD, "朝阳市早销商贸有限公司", deregistered_date="2024-01-01"),
    _reg(U_LATE, "朝阳市晚销商贸有限公司", deregistered_date="2024-12-01"),
    _reg(U_REG, "朝阳市老字号商店", business_reg_no="211300000012345"),
    _reg(U_OLD, "朝阳市过期记录有限公司", is_current=False),
    _reg(None, "朝阳市无代码有限公司"),
]


@pytest.fixture(scope="module")
def registry(spark: Any) -> Any:
    return ingest_table(spark, "registry", REGISTRY)


@pytest.fixture(scope="module")
def master(registry: Any) -> tuple[Any, Any]:
    """The entity master and its identifiers (USCC, written code, registration number, organisation code)."""
    entities, identifiers, _ = build_master(registry, POLICY, AS_OF)
    return entities.cache(), identifiers.cache()


@pytest.fixture(scope="module")
def entities(master: tuple[Any, Any]) -> Any:
    return master[0]


@pytest.fixture(scope="module")
def ent(entities: Any) -> pd.DataFrame:
    """The entity master, collected, indexed by USCC."""
    return entities.toPandas().set_index("uscc")


def _eid(code: str) -> str:
    """The entity id of a USCC computed independently of Spark: 'E' + 15 hex digits of its SHA-256."""
    return "E" + hashlib.sha256(code.encode()).hexdigest()[:15].upper()


def test_one_entity_per_current_identified_uscc(ent: pd.DataFrame) -> None:
    expected = {U_XS, U_HD, U_HM1, U_HM2, U_LH, U_HT, U_RN, U_RV, U_DD, U_LATE, U_REG}
    assert set(ent.index) == expected
    assert ent.index.is_unique and ent["entity_id"].is_unique


def test_entity_id_is_stable_across_inputs(spark: Any, ent: pd.DataFrame) -> None:
    """The id is a function of the USCC alone: another registry (other rows, order, files) gives the same ids."""
    other = [dict(r, source_file="other.csv") for r in reversed(REGISTRY[:6])] + [
        _reg(uscc("211303", 99), "朝阳市另一家有限公司")
    ]
    again = build_entities(ingest_table(spark, "registry", other), POLICY, date(2025, 1, 31)).toPandas()
    again = again.set_index("uscc")["entity_id"]
    for code in [U_XS, U_HD, U_HM1, U_HM2, U_LH, U_HT]:
        assert again[code] == ent.loc[code, "entity_id"] == _eid(code)


def test_district_field_then_uscc_then_address(ent: pd.DataFrame) -> None:
    d = ent["district_code"]
    assert d[U_XS] == "211303"   # the field, though the USCC (211302) and the address say 双塔区
    assert d[U_HM2] == "211381"  # a 10-digit division code in the field
    assert d[U_HD] == "211322"   # no field: USCC positions 3-8 (建平县), though the name says 朝阳县
    assert d[U_HM1] == "211303"  # city-level USCC: the address (龙城区)
    assert d[U_HT] == "211371"   # the development zone's internal code, from the address
    assert ent.loc[U_XS, "district_name"] == "龙城区"


def test_industry_section(ent: pd.DataFrame) -> None:
    sec, code = ent["industry_section"], ent["industry_code"]
    assert (sec[U_XS], code[U_XS]) == ("F", "5211")       # a 4-digit GB/T 4754 class
    assert ent.loc[U_XS, "industry_name"] == "百货零售"
    assert (sec[U_HD], code[U_HD]) == ("E", "E4710")      # section letter + class
    assert ent.loc[U_HD, "industry_name"] == "住宅房屋建筑"
    assert sec[U_HM1] == "F"                              # a 2-digit division
    assert sec[U_HM2] == "C" and sec[U_HT] == "G"         # a bare section letter
    assert pd.isna(sec[U_LH]) and pd.isna(code[U_LH])


def test_is_active(ent: pd.DataFrame) -> None:
    act = ent["is_active"]
    assert act[U_XS] and act[U_HD] and act[U_HM2]
    assert not act[U_HM1]                 # 注销
    assert not act[U_RV]                  # 吊销 without a date
    assert not act[U_DD]                  # 存续 but deregistered before the as-of date
    assert act[U_LATE]                    # deregistered after the as-of date: still active at as-of


def test_newest_registry_row_wins(ent: pd.DataFrame) -> None:
    assert ent.loc[U_RN, "name"] == "朝阳市新名商贸有限公司"
    assert ent.loc[U_RN, "name_core"] == "新名商贸"


def test_entity_class(ent: pd.DataFrame) -> None:
    assert ent.loc[U_XS, "entity_class"] == "enterprise"
    assert ent.loc[U_LH, "entity_class"] == "individual"


def test_rows_sharing_only_older_identifiers_are_one_entity(spark: Any) -> None:
    """A chain of rows (a USCC row; an older row with its registration number only; a row with the USCC's
    organisation code and another registration number) is one entity under the USCC's id; a row whose
    identifiers nobody shares stays an entity of its own."""
    code = uscc("211302", 41)
    rows = [
        _reg(code, "朝阳市链条商贸有限公司", business_reg_no="211300000041000", approval_date="2023-01-01"),
        _reg(None, "朝阳市链条商贸有限公司", business_reg_no="211300000041000", approval_date="2012-01-01"),
        _reg(None, "朝阳市链条贸易有限公司", business_reg_no="211300000041999", org_code=code[8:17],
             approval_date="2010-01-01"),
        _reg(None, "朝阳市孤立商贸有限公司", business_reg_no="211300000042000"),
    ]
    ent, ids, _ = build_master(ingest_table(spark, "registry", rows), POLICY, AS_OF)
    got = ent.toPandas().set_index("business_reg_no")
    assert len(got) == 2
    assert got.loc["211300000041000", "entity_id"] == _eid(code)
    assert got.loc["211300000041000", "registry_rows"] == 3
    assert got.loc["211300000042000", "registry_rows"] == 1
    reg_nos = ids.where("id_type = 'reg_no'").toPandas().set_index("id_value")["entity_id"]
    assert reg_nos["211300000041999"] == reg_nos["211300000041000"] == _eid(code)
    assert reg_nos["211300000042000"] != _eid(code)


# ---------------------------------------------------------------- links
def _pen(key: str, name: str | None, code: str | None = None, category: str = "法人及非法人组织",
         **kw: Any) -> dict[str, Any]:
    """One penalty row whose decision number ``key`` names the mention in the tests."""
    row: dict[str, Any] = {"decision_no": key, "subject_name": name, "uscc": code, "subject_category": category,
                           "decision_date": "2024-01-10", "penalty_category": ["罚款"]}
    row.update(kw)
    return row


PENALTIES = [
    _pen("p-uscc", "鑫盛商贸（朝阳）有限公司", U_XS),
    _pen("p-wrong", "朝阳县宏达建筑有限公司", U_XS),                # 鑫盛's code on 宏达's name
    _pen("p-wrong-none", "朝阳市无此商号有限公司", U_XS),           # 鑫盛's code, a name nobody has
    _pen("p-invalid", "辽宁省朝阳市鑫盛商贸有限公司", invalid_checksum(U_XS)),
    _pen("p-placeholder", "宏达建筑有限公司", "00000000000000000X"),
    _pen("p-name-addr", "华美商贸有限公司"),                        # address given in the complaint below
    _pen("p-ambiguous", "华美商贸有限公司"),
    _pen("p-person", "李华", category="自然人", person_id_no="2101021980****1234"),
    _pen("p-masked", "李华", "2101021980****1234", category=None),
    _pen("p-empty", None),
    _pen("p-empty-bad-code", None, invalid_checksum(U_HD)),
    _pen("p-region", "辽宁省朝阳市双塔区"),
    _pen("p-suffix", "有限公司"),
    _pen("p-reg-no", "老字号", business_reg_no="211300000012345"),
    _pen("p-elsewhere", "沈阳某某有限公司", U_ELSEWHERE),
    _pen("p-unknown", "朝阳市无此商号有限公司"),
    _pen("p-zone", "恒通物流有限公司"),
    _pen("p-nbsp", "鑫盛商贸\u00a0有限公司"),
    _pen("p-renamed-old", "朝阳市旧名商贸有限公司"),
]
COMPLAINTS = [  # no subject category in 12315 exports
    {"registration_no": "c-name", "respondent_name": "宏达建筑有限公司", "registered_at": "2024-02-01"},
    {"registration_no": "c-name-addr", "respondent_name": "华美商贸有限公司",
     "respondent_address": "辽宁省朝阳市龙城区新华路10号", "registered_at": "2024-02-01"},
    {"registration_no": "c-uscc", "respondent_name": "鑫盛商贸", "respondent_uscc": U_XS,
     "registered_at": "2024-02-01"},
    {"registration_no": "c-reg-no", "respondent_name": "朝阳市老字号商店", "respondent_uscc": "211300000012345",
     "registered_at": "2024-02-01"},  # a registration number in the code column (alias 被诉方注册号)
    {"registration_no": "c-vendor", "respondent_name": "新华路流动商贩",  # at 李华商行's address
     "respondent_address": "辽宁省朝阳市双塔区新华路3号", "registered_at": "2024-02-01"},
]


@pytest.fixture(scope="module")
def links(spark: Any, master: tuple[Any, Any]) -> pd.DataFrame:
    """Links of the penalty and complaint mentions, collected, indexed by record key."""
    m = mentions(ingest_table(spark, "penalty", PENALTIES), "penalty").unionByName(
        mentions(ingest_table(spark, "complaint", COMPLAINTS), "complaint")
    )
    out = link_records(m, master[0], POLICY, identifiers=master[1]).toPandas()
    out["key"] = out["record_key"].str.split("|").str[1].where(out["source_type"] == "penalty", out["record_key"])
    return out


def test_broadcast_and_shuffled_text_lookups_agree(spark: Any) -> None:
    """Names and addresses taken apart once per distinct text give the same record columns whether the parts
    are broadcast to the records or both are shuffled (``resolve.lookup_broadcast_max_texts`` 0), records
    without a name or an address included."""
    from radar.resolve.link import prepare

    m = mentions(ingest_table(spark, "penalty", PENALTIES), "penalty").unionByName(
        mentions(ingest_table(spark, "complaint", COMPLAINTS), "complaint")
    )

    def prepared(limit: int) -> pd.DataFrame:
        pol = POLICY.model_copy(update={"lookup_broadcast_max_texts": limit})
        return prepare(m, pol).toPandas().sort_values("rid").reset_index(drop=True)

    broadcast, shuffled = prepared(10**6), prepared(0)
    assert len(broadcast) == len(PENALTIES) + len(COMPLAINTS)
    assert broadcast["r_core"].notna().sum() > 10 and broadcast["r_addr"].notna().sum() >= 2
    pd.testing.assert_frame_equal(broadcast, shuffled)


def _link(links: pd.DataFrame, key: str) -> pd.Series:
    """The one link of the mention ``key``."""
    row = links[links["key"] == key]
    assert len(row) == 1, key
    return row.iloc[0]


def test_every_mention_has_exactly_one_link(links: pd.DataFrame) -> None:
    assert len(links) == len(PENALTIES) + len(COMPLAINTS)
    assert not links.duplicated(["source_type", "record_key"]).any()
    assert links["key"].is_unique


def test_valid_uscc_of_registry_entity(links: pd.DataFrame, ent: pd.DataFrame) -> None:
    for key in ["p-uscc", "c-uscc"]:
        r = _link(links, key)
        assert (r["method"], r["entity_id"], r["probability"]) == ("uscc", ent.loc[U_XS, "entity_id"], 1.0)
        assert not r["wrong_code"] and r["reason"] is None


def test_wrong_code_falls_back_to_name(links: pd.DataFrame, ent: pd.DataFrame) -> None:
    r = _link(links, "p-wrong")
    assert r["wrong_code"]
    assert (r["method"], r["entity_id"]) == ("name", ent.loc[U_HD, "entity_id"])
    r = _link(links, "p-wrong-none")
    assert r["wrong_code"] and r["method"] == "unlinked" and r["entity_id"] is None
    assert r["reason"].startswith("USCC belongs to another entity")


def test_another_entitys_code_says_nothing_of_the_district(spark: Any, master: tuple[Any, Any],
                                                           ent: pd.DataFrame) -> None:
    """鑫盛's code (双塔区) on 宏达's name (建平县): the code's division is 鑫盛's, so it does not contradict
    宏达's district when the name is compared."""
    m = mentions(ingest_table(spark, "penalty", [_pen("p-wrong", "朝阳县宏达建筑有限公司", U_XS)]), "penalty")
    res = resolve_links(m, master[0], POLICY, identifiers=master[1], keep_pairs=True)
    pairs = res.figures["pairs"].toPandas().set_index("eid")
    hd = ent.loc[U_HD, "entity_id"]
    assert pairs.loc[hd, "district_conflict"] == 0.0
    assert res.links.toPandas().iloc[0]["entity_id"] == hd


def test_name_link_without_usable_code(links: pd.DataFrame, ent: pd.DataFrame) -> None:
    # a checksum failure one character off its entity's code, with the entity's name: a typo (entities with
    # codes as near whose names differ do not contend)
    r = _link(links, "p-invalid")
    assert (r["rule"], r["entity_id"], r["wrong_code"]) == ("near_code", ent.loc[U_XS, "entity_id"], False)
    expected = {
        "p-placeholder": U_HD,    # 00000000000000000X
        "c-name": U_HD,           # no code and no subject category
        "p-zone": U_HT,           # registry name starts with 朝阳经济技术开发区
        "p-nbsp": U_XS,           # a no-break space in the name
        "p-unknown": None,
    }
    for key, code in expected.items():
        r = _link(links, key)
        if code is None:
            assert r["method"] == "unlinked" and r["reason"] == "name not found in the registry"
        else:
            assert (r["method"], r["entity_id"]) == ("name", ent.loc[code, "entity_id"]), key
            assert r["probability"] >= POLICY.match.accept and not r["wrong_code"]


def test_shared_name_settled_by_address_or_ambiguous(links: pd.DataFrame, ent: pd.DataFrame) -> None:
    r = _link(links, "c-name-addr")
    assert (r["method"], r["entity_id"]) == ("name+address", ent.loc[U_HM1, "entity_id"])
    assert r["probability"] >= POLICY.match.accept
    for key in ["p-ambiguous", "p-name-addr"]:
        r = _link(links, key)
        assert r["method"] == "unlinked" and r["entity_id"] is None
        # two namesakes alike: unlinked, and in the review queue when they score in its band
        if r["probability"] >= POLICY.match.review:
            assert r["reason"] == f"awaiting review: 2 entities tie at p={r['probability']:.2f}"
        else:
            assert r["reason"] == "ambiguous name: 2 entities"


def test_unlicensed_vendor_is_not_matched_by_its_address(links: pd.DataFrame) -> None:
    """A complaint naming a street vendor (流动商贩) at a registered shop's address is not that shop's."""
    r = _link(links, "c-vendor")
    assert r["method"] == "unlinked" and r["entity_id"] is None and r["candidate_entity_id"] is None
    assert r["reason"] == "name describes an unlicensed vendor, not a registered entity"


def test_former_registry_name_links_to_the_renamed_entity(links: pd.DataFrame, ent: pd.DataFrame) -> None:
    """A record naming an entity by a name of its older registry rows is that entity's, not unlinked."""
    r = _link(links, "p-renamed-old")
    assert (r["method"], r["entity_id"]) == ("name", ent.loc[U_RN, "entity_id"])


def test_registration_number(links: pd.DataFrame, ent: pd.DataFrame) -> None:
    for key in ["p-reg-no", "c-reg-no"]:
        r = _link(links, key)
        assert (r["method"], r["entity_id"]) == ("reg_no", ent.loc[U_REG, "entity_id"]), key


def test_natural_person_is_not_linked(links: pd.DataFrame) -> None:
    """李华 is also the core of the individual business 朝阳市双塔区李华商行: a person never links to it by name."""
    for key in ["p-person", "p-masked"]:
        r = _link(links, key)
        assert r["method"] == "unlinked" and r["entity_id"] is None
        assert r["reason"] == "natural person: not a market entity"


def test_unlinkable_names_have_reasons(links: pd.DataFrame) -> None:
    reasons = {
        "p-empty": "no identifier and no name",
        "p-empty-bad-code": "no name and the identifier matches no entity",
        "p-region": "name is only a region or an organisation form",
        "p-suffix": "name is only a region or an organisation form",
        "p-elsewhere": "valid USCC not in the registry and name not found",
    }
    for key, reason in reasons.items():
        r = _link(links, key)
        assert (r["method"], r["entity_id"], r["probability"]) == ("unlinked", None, 0.0), key
        assert r["reason"] == reason, key
    assert links.loc[links["method"] != "unlinked", "reason"].isna().all()


def test_reviewers_decisions_change_the_next_links(spark: Any, master: tuple[Any, Any], ent: pd.DataFrame,
                                                   tmp_path: Any) -> None:
    """Decisions stored by a reviewer (the dashboard's 待复核匹配 page writes them with Store.decide_match) come
    back through the resolve job's ``review_decisions``: accepted is linked with method ``review``, a rejected
    pair is never proposed again."""
    from types import SimpleNamespace

    from radar.jobs.resolve import review_decisions
    from radar.store import Store

    rows = [_pen("p-ambiguous", "华美商贸有限公司")]
    m = mentions(ingest_table(spark, "penalty", rows), "penalty").unionByName(
        mentions(ingest_table(spark, "complaint", COMPLAINTS[:2]), "complaint")
    )
    keys = {(k.split("|")[1] if "|" in k else k): k for (k,) in m.select("record_key").collect()}
    hm1, hm2 = ent.loc[U_HM1, "entity_id"], ent.loc[U_HM2, "entity_id"]
    url = f"sqlite:///{tmp_path}/store.db"
    ctx = SimpleNamespace(spark=spark, profile=SimpleNamespace(store_url=url))
    assert review_decisions(ctx) is None  # an empty store: nothing to reuse
    with Store(url) as store:
        store.upsert_match_reviews(
            [{"source_type": "penalty", "record_key": keys["p-ambiguous"], "entity_id": hm2, "probability": 0.6},
             {"source_type": "complaint", "record_key": "c-name-addr", "entity_id": hm1, "probability": 0.9},
             {"source_type": "complaint", "record_key": "c-name", "entity_id": hm2, "probability": 0.5}],
            AS_OF,
        )
        ids = {r["record_key"]: r["review_id"] for r in store.list_match_reviews()}
        store.decide_match(ids[keys["p-ambiguous"]], "accepted", "shuangta")
        store.decide_match(ids["c-name-addr"], "rejected", "shuangta")  # the one the address settled
    before = link_records(m, master[0], POLICY, identifiers=master[1]).toPandas().set_index("record_key")
    after = link_records(m, master[0], POLICY, identifiers=master[1], decisions=review_decisions(ctx))
    after = after.toPandas().set_index("record_key")
    assert before.loc[keys["p-ambiguous"], "method"] == "unlinked"
    assert (after.loc[keys["p-ambiguous"], "method"], after.loc[keys["p-ambiguous"], "entity_id"]) == ("review", hm2)
    assert after.loc[keys["p-ambiguous"], "probability"] == 1.0
    assert before.loc["c-name-addr", "entity_id"] == hm1
    assert after.loc["c-name-addr", "entity_id"] != hm1
    assert after.loc["c-name-addr", "candidate_entity_id"] != hm1  # not even proposed
    # a pending review changes nothing
    assert after.loc["c-name", "entity_id"] == before.loc["c-name", "entity_id"] == ent.loc[U_HD, "entity_id"]


def test_only_current_active_records_are_mentioned(spark: Any) -> None:
    rows = [_pen("a", "鑫盛商贸"), _pen("b", "鑫盛商贸", is_current=False), _pen("c", "鑫盛商贸", record_status="revoked")]
    m = mentions(ingest_table(spark, "penalty", rows), "penalty").collect()
    assert [r["record_key"].split("|")[1] for r in m] == ["a"]


# ---------------------------------------------------------------- attributes
SHAREHOLDERS = [
    {"uscc": U_XS, "shareholder_name": "王强", "shareholder_id_no": PERSON_ID, "subscribed_date": "2015-03-01"},
    {"uscc": U_XS, "shareholder_name": "刘洋", "shareholder_id_no": "21010219900505567x",
     "subscribed_date": "2016-01-01", "exit_date": "2022-06-30"},
    {"uscc": U_XS, "shareholder_name": "朝阳市宏达建筑有限公司", "shareholder_id_no": U_HD},
    {"uscc": U_XS, "shareholder_name": "陈某", "shareholder_id_no": "2101021985****0011"},
    {"uscc": U_XS, "shareholder_name": "张伟"},
    {"uscc": U_ELSEWHERE, "shareholder_name": "孙某", "shareholder_id_no": "210102197001010011"},
]
OFFICERS = [
    {"uscc": U_HD, "person_name": "刘洋", "position": "监事", "person_id_no": "21010219900505567X",
     "appointed_date": "2019-01-01", "left_date": "2023-03-01"},
    {"uscc": U_HD, "person_name": "张伟", "position": "经理", "person_id_no": "2101021985****0011"},
    {"uscc": U_HD, "person_name": "赵六", "position": "董事", "person_id_no": "21010219851301001X"},  # month 13
    # one person in two positions from the same day: he left one, he holds the other
    {"uscc": U_HM2, "person_name": "周七", "position": "董事", "person_id_no": "210102197707070777",
     "appointed_date": "2020-01-01", "left_date": "2022-01-01"},
    {"uscc": U_HM2, "person_name": "周七", "position": "经理", "person_id_no": "210102197707070777",
     "appointed_date": "2020-01-01"},
]


@pytest.fixture(scope="module")
def attrs(spark: Any, entities: Any) -> pd.DataFrame:
    out = build_attributes(
        entities, ingest_table(spark, "shareholder", SHAREHOLDERS), ingest_table(spark, "key_personnel", OFFICERS)
    ).toPandas()
    code = {v: k for k, v in entities.select("uscc", "entity_id").toPandas().itertuples(index=False)}
    out["uscc"] = out["entity_id"].map(code)
    return out


def test_people_by_id_else_by_name_within_a_shared_context(attrs: pd.DataFrame, ent: pd.DataFrame) -> None:
    people = attrs[attrs["attr_type"].isin(["legal_rep", "shareholder", "officer"])]
    xs, hd = ent.loc[U_XS, "entity_id"], ent.loc[U_HD, "entity_id"]
    assert set(people["attr_key"]) == {
        f"id:{PERSON_ID}",
        "id:21010219900505567X",  # the lower-case x is folded
        f"org:{hd}",  # a corporate shareholder, found by its USCC
        "id:210102197707070777",
        f"name:陈某@{xs}",  # a masked ID is no key: a person of his own entity
        # 张伟 of 鑫盛 and 张伟 of 宏达: one person, the two share their legal representative and an owner
        f"name:张伟@{min(xs, hd)}",
        f"name:赵六@{hd}",  # an invalid ID (month 13) is no key
        f"name:赵敏@{ent.loc[U_HM2, 'entity_id']}",
        f"name:李华@{ent.loc[U_LH, 'entity_id']}",
    }
    # the same person is one key in both entities
    legal = people[people["attr_type"] == "legal_rep"].set_index("uscc")["attr_key"]
    assert legal[U_XS] == legal[U_HD] == f"id:{PERSON_ID}"
    assert U_HM1 not in legal.index  # masked ID and no name
    assert U_ELSEWHERE not in set(attrs["uscc"].dropna())
    assert attrs["entity_id"].notna().all()
    basis = people.groupby("attr_key")["basis"].agg(lambda b: "/".join(sorted(set(b))))
    assert basis[f"id:{PERSON_ID}"] == "id" and basis[f"name:张伟@{min(xs, hd)}"] == "name"
    # the owner is tied to its own node, so the ownership links the two
    owner = attrs[attrs["attr_type"] == "entity"]
    assert owner[["entity_id", "attr_key"]].values.tolist() == [[hd, f"org:{hd}"]]


def test_until_dates_carried(attrs: pd.DataFrame) -> None:
    liu = attrs[attrs["attr_key"] == "id:21010219900505567X"].set_index("attr_type")
    assert liu.loc["shareholder", "since"] == D("2016-01-01")
    assert liu.loc["shareholder", "until"] == D("2022-06-30")
    assert liu.loc["officer", "until"] == D("2023-03-01")
    assert pd.isna(attrs.loc[attrs["attr_type"] == "legal_rep", "until"]).all()
    # two positions from the same day collapse to one tie, open-ended while he holds either
    zhou = attrs[attrs["attr_key"] == "id:210102197707070777"]
    assert len(zhou) == 1 and pd.isna(zhou["until"].iloc[0]) and zhou["since"].iloc[0] == D("2020-01-01")


def test_address_and_phone_keys(attrs: pd.DataFrame) -> None:
    xs = attrs[attrs["uscc"] == U_XS].set_index("attr_type")["attr_key"]
    assert xs["address"] == "addr:双塔区友谊大街1号"
    assert xs["phone"] == "tel:04212612345"
    assert not attrs.duplicated(["entity_id", "attr_type", "attr_key", "since"]).any()


def test_a_code_one_character_off_links_by_near_code(
    spark: Any, master: tuple[Any, Any], ent: pd.DataFrame
) -> None:
    typo = U_HT[:4] + ("7" if U_HT[4] != "7" else "8") + U_HT[5:]  # one character off 恒通物流's code only
    two_off = typo[:5] + ("7" if U_HT[5] != "7" else "8") + U_HT[6:]  # two, side by side: no typo
    rows = [
        _pen("n-typo", "恒通物流有限公司", typo),
        _pen("n-two-off", "恒通物流有限公司", two_off),
        _pen("n-exact", "恒通物流有限公司", U_HT),  # settled by its code: no near-code search
        _pen("n-typo-no-name", None, typo),  # a typo is confirmed only by a name
    ]
    m = mentions(ingest_table(spark, "penalty", rows), "penalty")
    out = link_records(m, master[0], POLICY, identifiers=master[1]).toPandas()
    out["key"] = out["record_key"].str.split("|").str[1]
    got = out.set_index("key")
    assert (got.loc["n-typo", "rule"], got.loc["n-typo", "entity_id"]) == ("near_code", ent.loc[U_HT, "entity_id"])
    assert got.loc["n-typo", "probability"] == POLICY.match.near_code_probability
    assert got.loc["n-two-off", "rule"] != "near_code"
    assert (got.loc["n-exact", "rule"], got.loc["n-exact", "entity_id"]) == ("uscc", ent.loc[U_HT, "entity_id"])
    assert got.loc["n-typo-no-name", "entity_id"] is None and got.loc["n-typo-no-name", "method"] == "unlinked"


def test_code_of_an_entity_without_a_legal_representative_is_checked_too(
    spark: Any, master: tuple[Any, Any], ent: pd.DataFrame
) -> None:
    """恒通物流 has no legal representative on file: its code on 宏达建筑's name is still another entity's code
    (the name check does not wave it through for want of a representative), while its own name settles."""
    rows = [_pen("o-wrong", "朝阳县宏达建筑有限公司", U_HT), _pen("o-right", "恒通物流有限公司", U_HT)]
    m = mentions(ingest_table(spark, "penalty", rows), "penalty")
    got = link_records(m, master[0], POLICY, identifiers=master[1]).toPandas()
    got = got.set_index(got["record_key"].str.split("|").str[1])
    assert pd.isna(ent.loc[U_HT, "legal_rep_name"])
    assert got.loc["o-wrong", "wrong_code"] and got.loc["o-wrong", "entity_id"] != ent.loc[U_HT, "entity_id"]
    assert (got.loc["o-right", "rule"], got.loc["o-right", "entity_id"]) == ("uscc", ent.loc[U_HT, "entity_id"])


def test_identifier_rules_in_order_of_precedence(spark: Any, master: tuple[Any, Any], ent: pd.DataFrame) -> None:
    """A record's USCC settles it before its registration number; another entity's USCC (the name disagrees)
    leaves the registration number to settle it, flagged as a wrong code; a natural person's registration
    number links nothing. (Later rules are not looked up once an earlier one settles the record.)"""
    reg_no = "211300000012345"  # 老字号's
    rows = [
        _pen("r-code-first", "鑫盛商贸有限公司", U_XS, business_reg_no=reg_no),
        _pen("r-wrong-code", "老字号", U_XS, business_reg_no=reg_no),
        _pen("r-person", "李华", category="自然人", business_reg_no=reg_no),
    ]
    m = mentions(ingest_table(spark, "penalty", rows), "penalty")
    got = link_records(m, master[0], POLICY, identifiers=master[1]).toPandas()
    got = got.set_index(got["record_key"].str.split("|").str[1])
    first = got.loc["r-code-first"]
    assert (first["rule"], first["entity_id"], first["wrong_code"]) == ("uscc", ent.loc[U_XS, "entity_id"], False)
    wrong = got.loc["r-wrong-code"]
    assert (wrong["rule"], wrong["entity_id"], wrong["wrong_code"]) == ("reg_no", ent.loc[U_REG, "entity_id"], True)
    assert got.loc["r-person", "entity_id"] is None and got.loc["r-person", "method"] == "unlinked"


def test_records_linked_by_code_and_very_name_skip_the_checks_and_link_alike(
    spark: Any, master: tuple[Any, Any], ent: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record carrying an entity's own USCC under its very registry name is linked at once, without its name
    and address being prepared and checked: only when the rules would link it so, flags and all. Not a
    natural person's record, nor one whose organisation code is another entity's (that entity is then the
    code's owner: the record's code is flagged wrong), nor a name written otherwise. Every record links the
    same as when all go through the preparation and the checks."""
    xs_org = U_XS[8:17]  # 鑫盛's organisation code, on 李华商行's record
    rows = [
        _pen("q-exact", "朝阳市鑫盛商贸有限公司", U_XS),
        _pen("q-variant", "鑫盛商贸有限公司", U_XS),
        _pen("q-person", "朝阳市双塔区李华商行", U_LH, category="自然人"),
        _pen("q-owner", "朝阳市双塔区李华商行", U_LH, org_code=xs_org),
        _pen("q-own-org", "朝阳市双塔区李华商行", U_LH),
        _pen("q-other-code", "朝阳县宏达建筑有限公司", U_XS),
    ]
    m = mentions(ingest_table(spark, "penalty", rows), "penalty")
    marked = quick_links(m, master[1], master[0]).toPandas()
    marked = marked.set_index(marked["record_key"].str.split("|").str[1])
    assert set(marked.index[marked["_q_eid"].notna()]) == {"q-exact", "q-own-org"}
    assert marked.loc["q-exact", "_q_eid"] == ent.loc[U_XS, "entity_id"]
    assert marked.loc["q-exact", "_q_core"] == ent.loc[U_XS, "name_core"]

    def linked(mention: Any = m) -> pd.DataFrame:
        out = link_records(mention, master[0], POLICY, identifiers=master[1]).toPandas()
        return out.set_index(out["record_key"].str.split("|").str[1]).sort_index()

    got = linked()
    # mentions built before records were dated link the same
    assert list(linked(m.drop("event_date"))["entity_id"]) == list(got["entity_id"])
    assert (got.loc["q-exact", "rule"], got.loc["q-exact", "entity_id"]) == ("uscc", ent.loc[U_XS, "entity_id"])
    assert got.loc["q-person", "entity_id"] is None
    owner = got.loc["q-owner"]
    assert (owner["rule"], owner["entity_id"], owner["wrong_code"]) == ("uscc", ent.loc[U_LH, "entity_id"], True)
    assert not got.loc["q-own-org", "wrong_code"]

    def nothing_quick(mention: Any, identifiers: Any, entities: Any) -> Any:
        from pyspark.sql import functions as F

        return quick_links(mention, identifiers, entities).withColumn("_q_eid", F.lit(None).cast("string"))

    monkeypatch.setattr(link_module, "quick_links", nothing_quick)
    pd.testing.assert_frame_equal(got, linked())
