"""Events and point-in-time snapshots on hand-made records, with hand-computed expected values.

Three builds: the events of one hand-made entity's records (``build_events``); a snapshot table over hand-made
events (golden values of every feature family, labels, repairs, listings, related parties); and the leakage
check, which builds events and snapshots twice from ingest tables, with and without records dated or known
after T, and compares every feature at T.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd
import pytest
from pyspark.sql import DataFrame
from tables import D, event_tables, in_world

from radar.config import feature_catalog, policy
from radar.features.events import EVENT_COLUMNS, build_events
from radar.features.snapshots import build_snapshots, snapshot_dates
from radar.reference import city_districts

POL = policy()
CATALOG = feature_catalog()
FEATURES = [f.name for f in CATALOG.features]
DISTRICTS = list(city_districts(POL.resolve.city_division, POL.resolve.extra_divisions))
AS_OF = date(2024, 6, 30)
ENTITY_SCHEMA = (
    "entity_id string, uscc string, established_date date, deregistered_date date, registration_status string, "
    "registered_capital_yuan double, district_code string, industry_section string, entity_class string"
)
ATTRIBUTE_SCHEMA = "entity_id string, attr_type string, attr_key string, attr_label string, since date, until date"


def _entity(eid: str, est: str = "2018-01-01", dereg: str | None = None, status: str = "存续",
            capital: float | None = 500_000.0, district: str | None = "211302", section: str | None = "F",
            cls: str = "enterprise") -> tuple[Any, ...]:
    """One entity-master row (the columns events and snapshots read)."""
    return (eid, f"U{eid}", D(est), D(dereg) if dereg else None, status, capital, district, section, cls)


def _tie(eid: str, attr_type: str, key: str, since: str | None = None, until: str | None = None) -> tuple[Any, ...]:
    """One linking attribute row."""
    return (eid, attr_type, key, key, D(since) if since else None, D(until) if until else None)


def _feature_policy(months: int) -> Any:
    """The policy's feature settings with ``months`` snapshot dates."""
    return POL.features.model_copy(update={"snapshot_months": months})


# ================================================================ events
def _pen(no: str, cats: list[str], day: str = "2024-01-10", entity: str | None = "EV1", **kw: Any) -> dict[str, Any]:
    """One penalty row linked to ``entity``; ``no`` is its decision number."""
    row: dict[str, Any] = {"decision_no": no, "subject_name": "测试公司", "penalty_category": cats,
                           "decision_date": day, "_entity": entity}
    row.update(kw)
    return row


EVENT_ROWS: dict[str, list[dict[str, Any]]] = {
    "penalty": [
        _pen("罚-警告", ["警告"]),
        _pen("罚-通报", ["通报批评", "警告"]),
        _pen("罚-罚款", ["警告", "罚款"], fine_amount_yuan=5000.0, confiscation_amount_yuan=1000.0,
             publish_date="2024-01-20", publicity_end_date="2027-01-10"),
        _pen("罚-类别2", ["通报批评"], penalty_category_2=["罚款"]),
        _pen("罚-撤销", ["罚款"], day="2023-06-01"),
        _pen("罚-维持", ["罚款"]),
        _pen("罚-不予撤销", ["罚款"]),
        _pen("罚-他人", ["罚款"], entity="EV2"),
        _pen("罚-修复", ["罚款"], day="2023-01-10"),
        _pen("罚-修复驳回", ["罚款"], day="2023-01-11"),
        _pen("罚-未关联", ["罚款"], entity=None),
        _pen("罚-旧版", ["罚款"], is_current=False),
        _pen("罚-已撤销状态", ["罚款"], record_status="revoked"),
    ],
    "objection": [
        {"objection_id": "O1", "record_ref": "罚-撤销", "outcome": "撤销", "decided_date": "2024-05-01", "_entity": "EV1"},
        {"objection_id": "O2", "record_ref": "罚-维持", "outcome": "维持", "_entity": "EV1"},
        {"objection_id": "O3", "record_ref": "罚-不予撤销", "outcome": "不予撤销", "_entity": "EV1"},
        {"objection_id": "O4", "record_ref": "罚-他人", "outcome": "撤销", "_entity": "EV1"},  # not EV1's penalty
    ],
    "repair": [
        {"repair_id": "R1", "original_record_ref": "罚-修复", "decision": "准予修复", "decision_date": "2024-03-01",
         "_entity": "EV1"},
        {"repair_id": "R2", "original_record_ref": "罚-修复驳回", "decision": "不予修复", "decision_date": "2024-03-02",
         "_entity": "EV1"},
        {"repair_id": "R3", "original_record_ref": "异-1", "decision": "同意", "decision_date": "2023-08-01",
         "_entity": "EV1"},
    ],
    "abnormal_list": [
        {"uscc": "UEV1", "listing_reason": "未按规定报送年度报告", "listed_date": "2023-03-01",
         "removed_date": "2023-09-01", "listing_doc_no": "异-1", "_entity": "EV1"},
    ],
    "spot_check": [
        {"task_id": f"T{i}", "uscc": "UEV1", "completed_date": "2024-02-01", "check_result": res, "_entity": "EV1"}
        for i, res in enumerate([
            ["未发现问题"],
            ["发现问题待后续处理"],
            ["未发现问题", "违反其他部门相关规定"],
            ["不予配合情节严重"],
            ["未发现开展本次抽查涉及的经营活动"],
        ])
    ],
    "complaint": [
        {"registration_no": f"C{i}", "respondent_name": "测试公司", "appeal_type": t, "registered_at": "2024-02-01",
         "_entity": "EV1"}
        for i, t in enumerate(["投诉", "举报", "咨询", None, "1", "2", "意见建议"])
    ],
    "commitment": [
        {"commitment_code": "K1", "subject_name": "测试公司", "commitment_date": "2023-01-01",
         "fulfillment_status": "全部履行", "_entity": "EV1"},
        {"commitment_code": "K2", "subject_name": "测试公司", "commitment_date": "2023-02-01",
         "fulfillment_status": "未履行", "fulfillment_determined_date": "2023-08-15", "_entity": "EV1"},
        {"commitment_code": "K3", "subject_name": "测试公司", "commitment_date": "2023-03-01",
         "fulfillment_status": "部分履行", "_entity": "EV1"},
    ],
    "change": [
        {"uscc": "UEV1", "change_item": item, "change_date": "2024-01-15", "after": str(i), "_entity": "EV1"}
        for i, item in enumerate(["法定代表人变更", "负责人变更", "住所变更", "经营场所变更", "名称变更",
                                  "注册资本变更", "经营范围变更", "章程备案", None])
    ],
    "license": [
        {"decision_no": "许-1", "license_category": "普通", "decision_date": "2022-03-01", "valid_to": "2027-03-01",
         "_entity": "EV1"},
    ],
    "dishonest_debtor": [
        {"case_no": "(2022)辽1302执1号", "debtor_name": "测试公司", "publish_date": "2022-06-01",
         "removed_date": "2023-01-01", "_entity": "EV1"},
    ],
    "serious_violation": [
        {"uscc": "UEV1", "serious_listing_reason": "提交虚假材料", "listed_date": "2022-07-01", "_entity": "EV1"},
    ],
    "third_party": [
        {"entity_key": "UEV1", "signal_date": "2024-01-05", "signal_name": "舆情", "signal_value": 3.0, "_entity": "EV1"},
    ],
}
EVENT_ENTITIES = [
    _entity("EV1"),
    _entity("EV2"),
    _entity("EVD", dereg="2023-05-01", status="注销"),
    _entity("EVR", dereg="2023-07-01", status="吊销，未注销"),
]


@pytest.fixture(scope="module")
def world(spark: Any) -> dict[str, DataFrame]:
    """One events build for two parallel worlds: the records above (entities EV1, EV2, ...) and a copy of them
    plus the late records of the leakage test (entities EV1~, EV2~, ..., EVN~)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for rt in {*EVENT_ROWS, *LATE_ROWS}:
        late = EVENT_ROWS.get(rt, []) + LATE_ROWS.get(rt, [])
        rows[rt] = EVENT_ROWS.get(rt, []) + [in_world(rt, r, i, LATE) for i, r in enumerate(late)]
    tables, links = event_tables(spark, rows)
    ents = spark.createDataFrame(LEAK_ENTITIES, ENTITY_SCHEMA)
    ev = build_events(tables, links, ents, POL.features, POL.labels).cache()
    return {"events": ev, "entities": ents}


@pytest.fixture(scope="module")
def events(world: dict[str, DataFrame]) -> pd.DataFrame:
    """The events of the first world, collected."""
    out = world["events"].toPandas()
    assert list(out.columns) == EVENT_COLUMNS
    out = out[~out["entity_id"].str.endswith(LATE)].copy()
    out["ref"] = out["record_key"].str.split("|").str[1]
    return out


def _of(events: pd.DataFrame, source_type: str) -> pd.DataFrame:
    """The events of one record type."""
    return events[events["source_type"] == source_type]


def test_penalty_minor_or_not(events: pd.DataFrame) -> None:
    pen = _of(events, "penalty").set_index("ref")
    assert pen.loc["罚-警告", "event_type"] == "penalty_minor"
    assert pen.loc["罚-通报", "event_type"] == "penalty_minor"
    assert pen.loc["罚-罚款", "event_type"] == "penalty"       # 警告 + 罚款 is not warning-only
    assert pen.loc["罚-类别2", "event_type"] == "penalty"      # the second category counts too
    assert pen.loc["罚-罚款", "amount_yuan"] == 6000.0        # fine + confiscation
    assert pen.loc["罚-罚款", "known_date"] == D("2024-01-20")  # publication date
    assert pen.loc["罚-警告", "known_date"] == D("2024-01-10")  # no publication date: the decision date
    assert pen.loc["罚-罚款", "end_date"] == D("2027-01-10")


def test_objection_retracts_only_the_named_penalty(events: pd.DataFrame) -> None:
    refs = set(_of(events, "penalty")["ref"])
    assert "罚-撤销" not in refs                     # 撤销 after an objection: gone at every date
    assert {"罚-维持", "罚-不予撤销", "罚-他人"} <= refs  # 维持, 不予撤销, and another entity's penalty stay
    assert not {"罚-未关联", "罚-旧版", "罚-已撤销状态"} & refs  # unlinked, superseded, revoked records
    assert len(events) == len(events.drop_duplicates(["source_type", "record_key", "event_type"]))


def test_repair_date(events: pd.DataFrame) -> None:
    pen = _of(events, "penalty").set_index("ref")
    assert pen.loc["罚-修复", "repair_date"] == D("2024-03-01")
    assert pd.isna(pen.loc["罚-修复驳回", "repair_date"])  # 不予修复
    assert pd.isna(pen.loc["罚-罚款", "repair_date"])
    ab = _of(events, "abnormal_list").iloc[0]
    assert (ab["event_type"], ab["event_date"], ab["end_date"], ab["repair_date"]) == (
        "abnormal_list", D("2023-03-01"), D("2023-09-01"), D("2023-08-01")
    )


def test_spot_check_results(events: pd.DataFrame) -> None:
    sc = _of(events, "spot_check")
    sc = dict(zip(sc["record_key"].str.split("|").str[0], sc["event_type"], strict=True))
    assert sc == {"T0": "spot_check_ok", "T1": "spot_check_problem", "T2": "spot_check_problem",
                  "T3": "spot_check_problem", "T4": "spot_check_ok"}


def test_complaint_or_report(events: pd.DataFrame) -> None:
    cp = _of(events, "complaint").set_index("record_key")["event_type"].to_dict()
    assert cp == {"C0": "complaint", "C1": "report", "C3": "complaint", "C4": "complaint", "C5": "report"}


def test_commitment_breach(events: pd.DataFrame) -> None:
    cm = _of(events, "commitment")
    made = cm[cm["event_type"] == "commitment"]
    breach = cm[cm["event_type"] == "commitment_breach"].set_index("record_key")["event_date"].to_dict()
    assert len(made) == 3
    assert breach == {"K2": D("2023-08-15"), "K3": D("2023-03-01")}  # determination date, else commitment date


def test_change_kinds(events: pd.DataFrame) -> None:
    ch = _of(events, "change").set_index("ref")["event_type"].to_dict()
    assert ch == {
        "法定代表人变更": "change_legal_rep", "负责人变更": "change_legal_rep", "住所变更": "change_address",
        "经营场所变更": "change_address", "名称变更": "change_name", "注册资本变更": "change_capital",
        "经营范围变更": "change_scope", "章程备案": "change_other", "": "change_other",
    }


def test_registry_and_list_events(events: pd.DataFrame) -> None:
    reg = _of(events, "registry").set_index("entity_id")
    assert reg["event_type"].to_dict() == {"EVD": "deregistered", "EVR": "revoked"}
    assert reg.loc["EVD", "event_date"] == D("2023-05-01")
    types = set(events["event_type"])
    assert {"license", "dishonest_debtor", "serious_violation", "signal"} <= types
    dd = events[events["event_type"] == "dishonest_debtor"].iloc[0]
    assert (dd["event_date"], dd["end_date"]) == (D("2022-06-01"), D("2023-01-01"))


# ================================================================ snapshots: golden city
def _ev(eid: str, typ: str, day: str, known: str | None = None, end: str | None = None,
        repair: str | None = None, amount: float | None = None) -> tuple[Any, ...]:
    """One event row (EVENT_COLUMNS)."""
    return (eid, "hand", f"{eid}-{typ}-{day}", typ, D(day), D(known or day), D(end) if end else None,
            D(repair) if repair else None, amount, None, False, None)


EVENT_SCHEMA = (
    "entity_id string, source_type string, record_key string, event_type string, event_date date, known_date date, "
    "end_date date, repair_date date, amount_yuan double, detail string, is_random_check boolean, "
    "inclusion_probability double"
)
GOLDEN_ENTITIES = [
    _entity("G", est="2020-01-01", capital=1_000_000.0, district="211303", section="F"),
    _entity("N1"), _entity("N2"), _entity("N3"),
    _entity("N4", dereg="2024-03-01", status="注销"),
    _entity("H1"), _entity("H2"), _entity("H3"),
    _entity("L1"), _entity("L2"), _entity("L3"), _entity("L4"),
    _entity("R1"), _entity("AB"),
    _entity("A1", est="2024-03-10", capital=None, district=None, section=None, cls="individual"),
    _entity("A2", dereg="2024-01-15"), _entity("A3", dereg="2024-01-31"),
]
GOLDEN_EVENTS = [
    # dynamic
    _ev("G", "change_legal_rep", "2024-03-01"), _ev("G", "change_legal_rep", "2023-05-01"),
    _ev("G", "change_address", "2024-06-01"), _ev("G", "change_other", "2024-05-15"),
    _ev("G", "change_name", "2022-01-01"), _ev("G", "change_capital", "2023-08-01"),
    # supervision
    _ev("G", "penalty", "2024-02-10", amount=5000.0),
    _ev("G", "penalty", "2022-01-10", amount=20000.0),
    _ev("G", "penalty_minor", "2024-05-20", amount=0.0),
    _ev("G", "penalty", "2021-03-01", amount=1000.0),                      # older than 3 years
    _ev("G", "penalty", "2023-10-01", repair="2024-05-15", amount=3000.0),  # repaired before T
    _ev("G", "penalty", "2024-06-10", known="2024-07-05", amount=9000.0),   # published after T
    _ev("G", "abnormal_list", "2023-01-01", end="2024-06-01"),
    _ev("G", "abnormal_list", "2024-06-15"),
    _ev("G", "dishonest_debtor", "2022-06-01", end="2023-01-01"),
    _ev("G", "spot_check_problem", "2023-06-01"), _ev("G", "spot_check_ok", "2024-01-01"),
    _ev("G", "commitment_breach", "2023-09-01"), _ev("G", "commitment", "2023-01-01"),
    _ev("G", "license", "2022-03-01"), _ev("G", "license", "2021-01-01"),
    # social
    _ev("G", "complaint", "2024-04-10"), _ev("G", "complaint", "2024-05-05"), _ev("G", "complaint", "2024-06-20"),
    _ev("G", "report", "2024-06-25"),
    _ev("G", "complaint", "2024-01-15"), _ev("G", "complaint", "2023-09-01"), _ev("G", "complaint", "2023-05-01"),
    _ev("G", "signal", "2024-02-01"), _ev("G", "signal", "2023-01-01"),
    # related parties
    _ev("N1", "penalty", "2024-01-01", amount=100.0),
    _ev("N3", "penalty", "2024-02-01", amount=100.0),
    _ev("N4", "deregistered", "2024-03-01"),
    _ev("H1", "penalty", "2024-05-01", amount=100.0),
    # labels
    _ev("L1", "penalty", "2024-03-15"), _ev("L2", "penalty_minor", "2024-03-15"),
    _ev("L3", "penalty", "2024-06-20"), _ev("L4", "spot_check_problem", "2024-02-15"),
    _ev("L4", "complaint", "2024-02-15"),
    # repair and listing
    _ev("R1", "penalty", "2023-10-01", repair="2024-05-15", amount=3000.0),
    _ev("AB", "abnormal_list", "2023-12-01", end="2024-05-31"),
    _ev("A1", "penalty", "2024-03-20"),
]
GOLDEN_ATTRIBUTES = [
    _tie("G", "legal_rep", "id:210102198001011234", "2020-01-01"),
    _tie("N1", "legal_rep", "id:210102198001011234", "2018-01-01"),
    _tie("G", "phone", "tel:13800000001", "2020-01-01"),
    _tie("N2", "officer", "tel:13800000001", "2018-01-01"),
    _tie("G", "officer", "id:210102199001011234", "2020-01-01", "2024-01-01"),  # left before T
    _tie("N3", "officer", "id:210102199001011234", "2018-01-01"),
    _tie("G", "address", "addr:双塔区友谊大街1号", "2020-01-01"),
    _tie("N4", "address", "addr:双塔区友谊大街1号", "2018-01-01"),
    *[_tie(e, "address", "addr:商务中心8楼", "2018-01-01") for e in ["G", "H1", "H2", "H3"]],  # a hub (cap 3)
]
GOLDEN_HUB_CAP = 3
GOLDEN_MONTHS = 8


@pytest.fixture(scope="module")
def snaps(spark: Any) -> pd.DataFrame:
    out = build_snapshots(
        spark.createDataFrame(GOLDEN_ENTITIES, ENTITY_SCHEMA),
        spark.createDataFrame(GOLDEN_EVENTS, EVENT_SCHEMA),
        spark.createDataFrame(GOLDEN_ATTRIBUTES, ATTRIBUTE_SCHEMA),
        CATALOG, _feature_policy(GOLDEN_MONTHS), POL.labels, AS_OF, DISTRICTS, GOLDEN_HUB_CAP,
    ).toPandas()
    assert list(out.columns) == ["entity_id", "snapshot_date", "district_code", "industry_section", "entity_class",
                                 *FEATURES, "label", "label_complete"]
    return out.set_index(["entity_id", "snapshot_date"]).sort_index()


def _at(snaps: pd.DataFrame, eid: str, day: str) -> pd.Series:
    """The snapshot row of one entity at one date."""
    return snaps.loc[(eid, D(day))]


def test_snapshot_dates() -> None:
    assert snapshot_dates(date(2024, 6, 30), 3) == [D("2024-04-30"), D("2024-05-31"), D("2024-06-30")]
    assert snapshot_dates(date(2024, 3, 15), 4) == [D("2023-12-31"), D("2024-01-31"), D("2024-02-29"), D("2024-03-15")]
    assert snapshot_dates(date(2024, 1, 10), 1) == [D("2024-01-10")]


def test_rows_only_for_alive_entities(snaps: pd.DataFrame) -> None:
    dates = snapshot_dates(AS_OF, GOLDEN_MONTHS)
    assert sorted({d for _, d in snaps.index}) == dates
    assert not snaps.index.duplicated().any()
    days = {e: sorted(d for x, d in snaps.index if x == e) for e in ["A1", "A2", "A3", "N4", "G"]}
    assert days["A1"] == [d for d in dates if d >= D("2024-03-10")]  # established 2024-03-10
    assert days["A2"] == [D("2023-11-30"), D("2023-12-31")]           # deregistered 2024-01-15
    assert days["A3"] == [D("2023-11-30"), D("2023-12-31")]           # deregistered on 2024-01-31
    assert days["N4"] == [d for d in dates if d < D("2024-03-01")]
    assert days["G"] == dates


def test_golden_basic(snaps: pd.DataFrame) -> None:
    g = _at(snaps, "G", "2024-06-30")
    assert g["age_years"] == pytest.approx(1642 / 365.25)  # 2020-01-01 .. 2024-06-30
    assert g["log_registered_capital"] == pytest.approx(math.log(1_000_001))
    assert g["entity_class_code"] == 0.0                   # enterprise
    assert g["industry_section_code"] == 5.0               # F is the sixth section
    assert g["district_index"] == 1.0                      # 211303 after 211302
    assert g["is_new_entity"] == 0.0
    assert (g["district_code"], g["industry_section"], g["entity_class"]) == ("211303", "F", "enterprise")
    a1 = _at(snaps, "A1", "2024-06-30")
    assert a1["is_new_entity"] == 1.0 and a1["entity_class_code"] == 1.0
    assert a1["log_registered_capital"] == 0.0
    assert pd.isna(a1["district_index"]) and pd.isna(a1["industry_section_code"])


def test_golden_dynamic(snaps: pd.DataFrame) -> None:
    g = _at(snaps, "G", "2024-06-30")
    assert g[["change_legal_rep_count_365d", "change_address_count_365d", "change_name_count_365d",
              "change_capital_count_365d", "change_scope_count_365d", "change_any_count_90d"]].tolist() == [
        1.0, 1.0, 0.0, 1.0, 0.0, 2.0]


def test_golden_supervision(snaps: pd.DataFrame) -> None:
    g = _at(snaps, "G", "2024-06-30")
    expected = {
        "penalty_count_365d": 1,            # 2024-02-10 (repaired 2023-10-01 and unpublished 2024-06-10 do not count)
        "penalty_count_1095d": 2,           # + 2022-01-10; 2021-03-01 is outside (T - 1095 = 2021-07-01)
        "penalty_minor_count_365d": 1,
        "penalty_amount_1095d": 25000.0,
        "days_since_penalty": 41,           # the warning of 2024-05-20
        "abnormal_list_current": 1,         # listed 2024-06-15; the 2023 listing was removed 2024-06-01
        "abnormal_list_count_1095d": 2,
        "serious_violation_current": 0,
        "dishonest_debtor_current": 0,      # removed 2023-01-01
        "dishonest_debtor_count_1095d": 1,
        "spot_check_problem_count_1095d": 1,
        "spot_check_count_1095d": 2,
        "commitment_breach_count_1095d": 1,
        "license_count_1095d": 1,
    }
    assert g[list(expected)].astype(float).to_dict() == {k: float(v) for k, v in expected.items()}
    assert pd.isna(_at(snaps, "N2", "2024-06-30")["days_since_penalty"])


def test_golden_related(snaps: pd.DataFrame) -> None:
    """N1 (same legal rep, penalised), N2 (same phone), N4 (same address, deregistered 2024-03-01); N3's tie ended
    before T and the 商务中心8楼 address is a hub (4 entities > cap 3)."""
    g = _at(snaps, "G", "2024-06-30")
    assert g["related_entity_count"] == 3.0
    assert g["related_adverse_count_1095d"] == 1.0
    assert g["related_adverse_share_1095d"] == pytest.approx(1 / 3)
    assert g["related_closed_count_365d"] == 1.0
    # before N3's tie ended (2024-01-01) N3 was related; its penalty of 2024-02-01 was not yet there
    early = _at(snaps, "G", "2023-12-31")
    assert early["related_entity_count"] == 4.0
    assert early["related_adverse_count_1095d"] == 0.0   # N1's penalty is 2024-01-01
    assert early["related_closed_count_365d"] == 0.0
    assert _at(snaps, "G", "2024-01-31")["related_adverse_count_1095d"] == 1.0  # N1 only: N3's tie has ended
    # the hub links nothing: H1's penalty never reaches G, and H1..H3 are related to nobody
    assert _at(snaps, "H2", "2024-06-30")["related_entity_count"] == 0.0
    # the deregistered neighbour's other side: N1 sees only G
    assert _at(snaps, "N1", "2024-06-30")["related_entity_count"] == 1.0


def test_golden_social(snaps: pd.DataFrame) -> None:
    g = _at(snaps, "G", "2024-06-30")
    assert g["complaint_count_90d"] == 4.0     # 04-10, 05-05, 06-20 and the report of 06-25
    assert g["complaint_count_365d"] == 6.0    # + 2023-09-01, 2024-01-15 (2023-05-01 is older than 365 days)
    assert g["report_count_365d"] == 1.0
    # recent 4; base (2023-04-02, 2024-04-01]: 3 complaints -> (4 + 1) / (3 * 90 / 365 + 1)
    assert g["complaint_trend"] == pytest.approx(5 / (3 * 90 / 365 + 1))
    assert g["signal_count_365d"] == 1.0
    quiet = _at(snaps, "N2", "2024-06-30")
    assert quiet["complaint_trend"] == 1.0 and quiet["complaint_count_90d"] == 0.0


def test_repaired_penalty_stops_counting(snaps: pd.DataFrame) -> None:
    counts = {d: _at(snaps, "R1", d)[["penalty_count_365d", "penalty_amount_1095d"]].tolist()
              for d in ["2023-11-30", "2024-04-30", "2024-05-31"]}
    assert counts == {"2023-11-30": [1.0, 3000.0], "2024-04-30": [1.0, 3000.0], "2024-05-31": [0.0, 0.0]}


def test_abnormal_listing_current_until_removal(snaps: pd.DataFrame) -> None:
    cur = {d: _at(snaps, "AB", d)["abnormal_list_current"] for d in ["2023-11-30", "2023-12-31", "2024-04-30",
                                                                      "2024-05-31", "2024-06-30"]}
    assert cur == {"2023-11-30": 0.0, "2023-12-31": 1.0, "2024-04-30": 1.0, "2024-05-31": 0.0, "2024-06-30": 0.0}
    assert _at(snaps, "AB", "2024-06-30")["abnormal_list_count_1095d"] == 1.0  # a removed listing still counts


def test_labels(snaps: pd.DataFrame) -> None:
    dates = [d.isoformat() for d in snapshot_dates(AS_OF, GOLDEN_MONTHS)]

    def labels(eid: str) -> list[int]:
        """The entity's label at every snapshot date."""
        return [int(_at(snaps, eid, d)["label"]) for d in dates]

    # 2023-11-30 .. 2024-06-30; horizon 180 days
    assert labels("L1") == [1, 1, 1, 1, 0, 0, 0, 0]  # penalty 2024-03-15
    assert labels("L2") == [0] * 8                   # a warning is not adverse
    assert labels("L3") == [0, 1, 1, 1, 1, 1, 1, 0]  # 2024-06-20 is after 2023-11-30 + 180 = 2024-05-28
    assert labels("L4") == [1, 1, 1, 0, 0, 0, 0, 0]  # a spot check with problems (the complaint is not adverse)
    complete = [bool(_at(snaps, "L1", d)["label_complete"]) for d in dates]
    assert complete == [True, True, False, False, False, False, False, False]  # T + 180 <= 2024-06-30


# ================================================================ leakage
T_LEAK = D("2024-04-30")
LATE = "~"  # the suffix of the second world's entities
_PERSON = "id:210102198001011234"
LEAK_ENTITIES = [
    *EVENT_ENTITIES,
    *[(e[0] + LATE, *e[1:]) for e in EVENT_ENTITIES],
    _entity("EVN" + LATE, est="2024-05-15"),
]
LEAK_ATTRIBUTES = [
    _tie("EV1", "legal_rep", _PERSON, "2018-01-01"),
    _tie("EV2", "legal_rep", _PERSON, "2018-01-01"),
    _tie("EV1" + LATE, "legal_rep", _PERSON + LATE, "2018-01-01"),
    _tie("EV2" + LATE, "legal_rep", _PERSON + LATE, "2018-01-01"),
    # a firm founded 2024-05-15 with the same person as an officer (appointment date unknown): with hub cap 2
    # the person is a hub, but only once that firm exists
    _tie("EVN" + LATE, "officer", _PERSON + LATE),
]
LEAK_HUB_CAP = 2
LATE_ROWS: dict[str, list[dict[str, Any]]] = {
    "penalty": [
        _pen("晚-1", ["罚款"], day="2024-05-10", fine_amount_yuan=800.0),
        _pen("晚-未公示", ["罚款"], day="2024-04-20", publish_date="2024-05-10", fine_amount_yuan=700.0),
        _pen("晚-关联", ["罚款"], day="2024-05-20", entity="EV2"),
        _pen("晚-新设", ["罚款"], day="2024-05-20", entity="EVN"),
    ],
    "repair": [  # repairs decided after T of a penalty from before T
        {"repair_id": "R9", "original_record_ref": "罚-罚款", "decision": "准予修复", "decision_date": "2024-05-20",
         "_entity": "EV1"},
    ],
    "abnormal_list": [
        {"uscc": "UEV1", "listing_reason": "通过登记的住所无法联系", "listed_date": "2024-05-02", "_entity": "EV1"},
    ],
    "complaint": [
        {"registration_no": "C-late", "respondent_name": "测试公司", "appeal_type": "投诉",
         "registered_at": "2024-05-05", "_entity": "EV1"},
    ],
    "spot_check": [
        {"task_id": "T-late", "uscc": "UEV2", "completed_date": "2024-06-01", "check_result": ["违反其他部门相关规定"],
         "_entity": "EV2"},
    ],
    "commitment": [
        {"commitment_code": "K-late", "subject_name": "测试公司", "commitment_date": "2024-05-01",
         "fulfillment_status": "未履行", "fulfillment_determined_date": "2024-06-01", "_entity": "EV1"},
    ],
    "change": [
        {"uscc": "UEV1", "change_item": "住所变更", "change_date": "2024-05-03", "after": "late", "_entity": "EV1"},
    ],
    "dishonest_debtor": [
        {"case_no": "(2024)辽1302执9号", "debtor_name": "测试公司", "publish_date": "2024-05-08", "_entity": "EV1"},
    ],
    "third_party": [
        {"entity_key": "UEV1", "signal_date": "2024-06-05", "signal_name": "舆情", "signal_value": 1.0, "_entity": "EV1"},
    ],
}




def test_records_after_t_never_change_features_at_t(spark: Any, world: dict[str, DataFrame]) -> None:
    """Two worlds in one build, the second with records dated (or published) after T: every feature at T is
    the same in both. (An objection retracts at every date by design, so none is among the late records.)"""
    snaps = build_snapshots(
        world["entities"], world["events"], spark.createDataFrame(LEAK_ATTRIBUTES, ATTRIBUTE_SCHEMA), CATALOG,
        _feature_policy(3), POL.labels, AS_OF, DISTRICTS, LEAK_HUB_CAP,
    ).toPandas()
    is_late = snaps["entity_id"].str.endswith(LATE)
    snaps["entity_id"] = snaps["entity_id"].str.removesuffix(LATE)
    base = snaps[~is_late].set_index(["entity_id", "snapshot_date"]).sort_index()
    late = snaps[is_late].set_index(["entity_id", "snapshot_date"]).sort_index()
    at_t = base.xs(T_LEAK, level="snapshot_date")
    assert list(at_t.index) == ["EV1", "EV2"]
    pd.testing.assert_frame_equal(at_t[FEATURES], late.xs(T_LEAK, level="snapshot_date")[FEATURES])
    assert at_t.loc["EV1", "related_entity_count"] == 1.0  # EV1 and EV2 share the legal rep at T
    # the late records are not inert: they change the features at the as-of date ...
    now_b, now_l = base.xs(AS_OF, level="snapshot_date"), late.xs(AS_OF, level="snapshot_date")
    # + 晚-1, + 晚-未公示 (published 05-10), - 罚-罚款 (repaired 05-20)
    assert now_l.loc["EV1", "penalty_count_365d"] == now_b.loc["EV1", "penalty_count_365d"] + 1
    assert now_l.loc["EV1", "abnormal_list_current"] == 1.0 and now_b.loc["EV1", "abnormal_list_current"] == 0.0
    assert now_l.loc["EV1", "related_entity_count"] == 0.0  # the legal rep is a hub (3 firms > cap 2) by then
    assert now_b.loc["EV1", "related_entity_count"] == 1.0
    # ... and the label at T
    assert late.loc[("EV1", T_LEAK), "label"] == 1 and base.loc[("EV1", T_LEAK), "label"] == 0
