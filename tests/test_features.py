"""Events and point-in-time snapshots on hand-made records, with hand-computed expected values.

Three builds: the events of one hand-made entity's records (``build_events``); a snapshot table over hand-made
events (golden values of every feature family, labels, repairs, listings, related parties); and the leakage
check, which builds events and snapshots twice from ingest tables, with and without records dated or known
after T, and compares every feature at T.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from pyspark.sql import DataFrame
from tables import D, event_tables, in_world

from radar.config import FeatureCatalog, feature_catalog, policy
from radar.errors import ConfigError
from radar.features.catalog import catalog_markdown, catalog_rows
from radar.features.events import EVENT_COLUMNS, REPORT_COLUMNS, build_events, build_reports
from radar.features.snapshots import build_snapshots, check_catalog, date_index, snapshot_dates
from radar.reference import city_districts

POL = policy()
CATALOG = feature_catalog()
FEATURES = [f.name for f in CATALOG.built()]
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


def _feature_policy(months: int, **kw: Any) -> Any:
    """The policy's feature settings with ``months`` snapshot dates (and other settings changed)."""
    return POL.features.model_copy(update={"snapshot_months": months, **kw})


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
        # categories, severity and amount (enterprise: large from 100,000 yuan; individual: from 10,000)
        _pen("罚-没收停业", ["罚款", "没收违法所得、没收非法财物", "责令停产停业"], fine_amount_yuan=20000.0,
             confiscation_amount_yuan=5000.0, publicity_end_date="2026-01-10"),
        _pen("罚-吊销", ["吊销许可证件"], day="2023-05-05"),
        _pen("罚-大额", ["罚款"], fine_amount_yuan=100000.0),
        _pen("罚-个体大额", ["罚款"], fine_amount_yuan=12000.0, entity="EVI"),
        _pen("罚-个体小额", ["罚款"], fine_amount_yuan=9000.0, entity="EVI"),
        # publicity ended (公示截止期) before its repair
        _pen("罚-公示期满", ["罚款"], day="2022-02-01", publicity_end_date="2022-05-01"),
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
        {"repair_id": "R4", "original_record_ref": "罚-公示期满", "decision": "准予修复",
         "decision_date": "2022-09-01", "_entity": "EV1"},
    ],
    "abnormal_list": [
        {"uscc": "UEV1", "listing_reason": "未按规定报送年度报告", "listed_date": "2023-03-01",
         "removed_date": "2023-09-01", "listing_doc_no": "异-1", "_entity": "EV1"},
        {"uscc": "UEV2", "listing_reason": "通过登记的住所或者经营场所无法联系的", "listed_date": "2023-04-01",
         "_entity": "EV2"},
    ],
    "spot_check": [
        {"task_id": f"T{i}", "uscc": "UEV1", "completed_date": "2024-02-01", "check_result": res, "_entity": "EV1"}
        for i, res in enumerate([
            ["未发现问题"],
            ["发现问题待后续处理"],
            ["未发现问题", "违反其他部门相关规定"],
            ["不予配合情节严重"],
            ["未发现开展本次抽查涉及的经营活动"],
            ["通过登记的住所（经营场所）无法联系"],
        ])
    ],
    "complaint": [
        {"registration_no": f"C{i}", "respondent_name": "测试公司", "appeal_type": t, "registered_at": "2024-02-01",
         "_entity": "EV1"}
        for i, t in enumerate(["投诉", "举报", "咨询", None, "1", "2", "意见建议"])
    ] + [
        # outcomes: dated when the case closed, else 60 days after acceptance (or registration)
        {"registration_no": f"CO{i}", "respondent_name": "测试公司", "appeal_type": t, "registered_at": "2024-02-01",
         "outcome": outcome, "closed_at": closed, "accepted_at": accepted, "case_filed": filed, "_entity": "EV1"}
        for i, (t, outcome, closed, accepted, filed) in enumerate([
            ("投诉", "调解成功", "2024-03-05", None, None),
            ("投诉", "调解不成功(终止调解)", None, "2024-02-03", None),
            ("投诉", "不予受理", "2024-02-10", None, None),
            ("举报", "已立案", "2024-02-20", None, True),
            ("举报", "不予立案", "2024-02-20", None, False),
            ("举报", None, None, None, True),
            ("投诉", None, None, None, None),
            ("投诉", "调解成功", "2024-05-20", None, None),  # closed after the leakage test's T
        ])
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
    ] + [
        {"uscc": "UEV2", "change_item": "注册资本变更", "change_date": "2024-01-15", "before": before,
         "after": after, "_entity": "EV2"}
        for before, after in [("100万元人民币", "20万元人民币"), ("100万元人民币", "500万元人民币"),
                              ("100万元人民币", "150万元人民币")]
    ],
    "license": [
        {"decision_no": "许-1", "license_category": "普通", "decision_date": "2022-03-01", "valid_to": "2027-03-01",
         "_entity": "EV1"},
    ],
    "dishonest_debtor": [
        {"case_no": "(2022)辽1302执1号", "debtor_name": "测试公司", "publish_date": "2022-06-01",
         "removed_date": "2023-01-01", "_entity": "EV1"},
        # the unperformed amount: 未履行部分 where it holds one; all unperformed: the obligation's amount
        {"case_no": "(2023)辽1302执2号", "debtor_name": "测试公司", "publish_date": "2023-06-01",
         "performance_status": "部分未履行", "unperformed_part": "120680元", "_entity": "EV2"},
        {"case_no": "(2023)辽1302执3号", "debtor_name": "测试公司", "publish_date": "2023-06-01",
         "performance_status": "部分未履行", "unperformed_part": "1.5万元", "_entity": "EV2"},
        {"case_no": "(2023)辽1302执4号", "debtor_name": "测试公司", "publish_date": "2023-06-01",
         "performance_status": "全部未履行", "unperformed_part": "暂无",
         "obligation": "被执行人于判决生效之日起十日内给付申请执行人货款人民币80000元及利息", "_entity": "EV2"},
        {"case_no": "(2023)辽1302执5号", "debtor_name": "测试公司", "publish_date": "2023-06-01",
         "performance_status": "部分未履行", "unperformed_part": "暂无",
         "obligation": "给付人民币5000元", "_entity": "EV2"},
    ],
    "serious_violation": [
        {"uscc": "UEV1", "serious_listing_reason": "提交虚假材料", "listed_date": "2022-07-01", "_entity": "EV1"},
    ],
    "third_party": [
        {"entity_key": "UEV1", "signal_date": "2024-01-05", "signal_name": "舆情", "signal_value": 3.0, "_entity": "EV1"},
        {"entity_key": "UEV2", "signal_date": "2024-01-31", "signal_name": "欠税金额", "signal_value": 20000.0,
         "_entity": "EV2"},
        {"entity_key": "UEV2", "signal_date": "2024-01-31", "signal_name": "社保欠缴月数", "signal_value": 2.0,
         "_entity": "EV2"},
    ],
    "annual_report": [
        {"uscc": "UEV1", "report_year": "2022", "filed_date": "2023-05-20", "staff_count": 12,
         "total_revenue_yuan": 3_000_000.0, "total_tax_yuan": 90_000.0, "_entity": "EV1"},
        {"uscc": "UEV1", "report_year": "2023年度", "filed_date": "2024-07-10", "staff_count": 0,
         "total_revenue_yuan": 0.0, "_entity": "EV1"},
        {"uscc": "UEV2", "report_year": "报告", "filed_date": "2024-03-01", "_entity": "EV2"},  # no year: dropped
    ],
}
EVENT_ENTITIES = [
    _entity("EV1"),
    _entity("EV2"),
    _entity("EVI", cls="individual"),
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
    reports = build_reports(tables, links)
    assert reports is not None
    return {"events": ev, "entities": ents, "reports": reports.cache()}


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
    ab = _of(events, "abnormal_list").set_index("entity_id").loc["EV1"]
    assert (ab["event_type"], ab["event_date"], ab["end_date"], ab["repair_date"]) == (
        "abnormal_list", D("2023-03-01"), D("2023-09-01"), D("2023-08-01")
    )


def test_spot_check_results(events: pd.DataFrame) -> None:
    sc = _of(events, "spot_check")
    sc = dict(zip(sc["record_key"].str.split("|").str[0], sc["event_type"], strict=True))
    assert sc == {"T0": "spot_check_ok", "T1": "spot_check_problem", "T2": "spot_check_problem",
                  "T3": "spot_check_problem", "T4": "spot_check_ok", "T5": "spot_check_problem"}


def test_complaint_or_report(events: pd.DataFrame) -> None:
    cp = _of(events, "complaint")
    cp = cp[cp["event_type"].isin(["complaint", "report"])].set_index("record_key")["event_type"].to_dict()
    assert cp == {"C0": "complaint", "C1": "report", "C3": "complaint", "C4": "complaint", "C5": "report",
                  "CO0": "complaint", "CO1": "complaint", "CO2": "complaint", "CO3": "report", "CO4": "report",
                  "CO5": "report", "CO6": "complaint", "CO7": "complaint"}


def test_complaint_outcomes_are_events_dated_when_the_case_closed(events: pd.DataFrame) -> None:
    cp = _of(events, "complaint")
    out = cp[~cp["event_type"].isin(["complaint", "report"])].set_index("record_key")
    assert out["event_type"].to_dict() == {
        "CO0": "complaint_mediated",            # 调解成功
        "CO1": "complaint_mediation_failed",    # 调解不成功(终止调解)
        "CO3": "report_case_filed",             # 已立案 (不予受理, 不予立案 and no outcome: none)
        "CO5": "report_case_filed",             # no 处理结果, but 是否立案 = 是
        "CO7": "complaint_mediated",
    }
    assert out.loc["CO0", "event_date"] == D("2024-03-05")                # 办结时间
    assert out.loc["CO1", "event_date"] == D("2024-02-03") + pd.Timedelta(days=60)  # accepted + lag
    assert out.loc["CO5", "event_date"] == D("2024-02-01") + pd.Timedelta(days=60)  # registered + lag


def test_penalty_categories_severity_and_amount(events: pd.DataFrame) -> None:
    pen = _of(events, "penalty").set_index("ref")
    tags = {r: sorted(t) for r, t in pen["tags"].items()}
    assert tags["罚-没收停业"] == ["confiscation", "fine", "severe", "suspension"]
    assert tags["罚-吊销"] == ["revocation", "severe"]
    assert tags["罚-大额"] == ["fine", "large_amount", "severe"]       # enterprise: >= 100,000
    assert tags["罚-个体大额"] == ["fine", "large_amount", "severe"]   # individual business: >= 10,000
    assert tags["罚-个体小额"] == ["fine"]
    assert tags["罚-警告"] == []
    assert pen.loc["罚-没收停业", "amount_yuan"] == 25000.0


def test_publicity_end_and_repair_set_the_stop_date(events: pd.DataFrame) -> None:
    pen = _of(events, "penalty").set_index("ref")
    # 公示截止期 as exported, else derived: 3 years after the decision, 90 days for a warning
    assert pen.loc["罚-没收停业", "end_date"] == D("2026-01-10")
    assert pen.loc["罚-大额", "end_date"] == D("2024-01-10") + pd.Timedelta(days=1095)
    assert pen.loc["罚-警告", "end_date"] == D("2024-04-09")
    assert pen.loc["罚-没收停业", "stop_date"] == D("2026-01-10")
    # the earlier of publicity end and repair
    assert pen.loc["罚-公示期满", "stop_date"] == D("2022-05-01")
    assert pen.loc["罚-公示期满", "repair_date"] == D("2022-09-01")
    assert pen.loc["罚-修复", "stop_date"] == D("2024-03-01")
    # a list's removal ends its listing, not its counting (no stop date)
    ab = _of(events, "abnormal_list").set_index("entity_id")
    assert pd.isna(ab.loc["EV2", "stop_date"]) and ab.loc["EV1", "stop_date"] == D("2023-08-01")  # repaired


def test_dishonest_debtor_unperformed_amount(events: pd.DataFrame) -> None:
    dd = _of(events, "dishonest_debtor").set_index("record_key")["amount_yuan"]
    amounts = {k.split("|")[0]: v for k, v in dd.items()}
    assert amounts["(2023)辽1302执2号"] == 120680.0      # 120680元
    assert amounts["(2023)辽1302执3号"] == 15000.0       # 1.5万元
    assert amounts["(2023)辽1302执4号"] == 80000.0       # 全部未履行: the obligation's amount
    assert pd.isna(amounts["(2023)辽1302执5号"])          # partly performed, amount unknown
    assert pd.isna(amounts["(2022)辽1302执1号"])


def test_tags_of_signals_checks_listings_and_capital_changes(events: pd.DataFrame) -> None:
    def tags(df: pd.DataFrame) -> list[list[str]]:
        return [sorted(t) for t in df.sort_values("record_key")["tags"]]

    sig = _of(events, "third_party")
    assert tags(sig[sig["entity_id"] == "EV2"]) == [["tax_arrears"], ["social_insurance_arrears"]]
    assert tags(sig[sig["entity_id"] == "EV1"]) == [[]]  # 舆情: not a listed signal
    sc = _of(events, "spot_check").set_index("record_key")
    assert list(sc.loc["T5|UEV1", "tags"]) == ["unreachable"] and sc.loc["T5|UEV1", "event_type"] == "spot_check_problem"
    assert list(sc.loc["T3|UEV1", "tags"]) == ["uncooperative"]
    ab = _of(events, "abnormal_list").set_index("entity_id")
    assert list(ab.loc["EV1", "tags"]) == ["annual_report"] and list(ab.loc["EV2", "tags"]) == ["unreachable"]
    cap = _of(events, "change")
    cap = cap[cap["entity_id"] == "EV2"].set_index("detail")
    assert set(cap["amount_yuan"]) == {1_000_000.0}  # the capital before the change: 100万元人民币
    cap = cap["tags"]
    assert {k: list(v) for k, v in cap.items()} == {
        "注册资本变更：20万元人民币": ["capital_cut"], "注册资本变更：500万元人民币": ["capital_increase"],
        "注册资本变更：150万元人民币": [],
    }


def test_annual_reports_as_events_and_rows(world: dict[str, DataFrame], events: pd.DataFrame) -> None:
    ar = _of(events, "annual_report").sort_values("event_date")
    assert ar["event_date"].tolist() == [D("2023-05-20"), D("2024-07-10")]
    assert [list(t) for t in ar["tags"]] == [[], ["late"]]  # 2023's report filed after 2024-06-30
    assert "2022年度报告" in ar["detail"].iloc[0] and "从业人数12" in ar["detail"].iloc[0]
    rows = world["reports"].toPandas()
    assert list(rows.columns) == REPORT_COLUMNS
    rows = rows[~rows["entity_id"].str.endswith(LATE)].sort_values("report_year")
    assert rows[["entity_id", "report_year", "staff_count", "revenue_yuan"]].values.tolist() == [
        ["EV1", 2022, 12, 3_000_000.0], ["EV1", 2023, 0, 0.0]]  # a report without a year is dropped


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
    dd = events[(events["event_type"] == "dishonest_debtor") & (events["entity_id"] == "EV1")].iloc[0]
    assert (dd["event_date"], dd["end_date"]) == (D("2022-06-01"), D("2023-01-01"))


# ================================================================ snapshots: golden city
def _ev(eid: str, typ: str, day: str, known: str | None = None, end: str | None = None,
        repair: str | None = None, amount: float | None = None, tags: list[str] | None = None,
        stop: str | None = None, key: str | None = None) -> tuple[Any, ...]:
    """One event row (EVENT_COLUMNS); it stops counting at ``stop``, else at its repair."""
    return (eid, "hand", key or f"{eid}-{typ}-{day}", typ, D(day), D(known or day), D(end) if end else None,
            D(repair) if repair else None, amount, None, False, None, tags or [],
            D(stop) if stop else (D(repair) if repair else None))


EVENT_SCHEMA = (
    "entity_id string, source_type string, record_key string, event_type string, event_date date, known_date date, "
    "end_date date, repair_date date, amount_yuan double, detail string, is_random_check boolean, "
    "inclusion_probability double, tags array<string>, stop_date date"
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
    # the indicator system's families: tags and publicity, debts, annual reports, new entities
    _entity("TG"), _entity("DD"), _entity("SH", capital=2e8),
    _entity("AR1", est="2019-05-01"), _entity("AR2", est="2022-06-01"), _entity("AR3", est="2023-03-01"),
    _entity("NE", est="2024-01-20"), _entity("NP"), _entity("CP", capital=2e6),
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
    _ev("A1", "complaint", "2024-05-01"),
    # penalties by category, severity and amount; one whose publicity ended 2024-02-01
    _ev("TG", "penalty", "2024-01-15", amount=30000.0, tags=["fine", "suspension", "severe"]),
    _ev("TG", "penalty", "2023-03-01", amount=0.0, tags=["revocation", "severe"]),
    _ev("TG", "penalty", "2022-08-01", amount=7000.0, tags=["fine"], stop="2024-02-01"),
    _ev("TG", "penalty_minor", "2024-06-01", stop="2024-08-30"),
    # complaints, reports and their outcomes
    _ev("TG", "complaint", "2024-03-01"), _ev("TG", "report", "2024-04-01"), _ev("TG", "report", "2023-12-01"),
    _ev("TG", "complaint_mediated", "2024-04-10"),
    _ev("TG", "complaint_mediation_failed", "2024-05-10"), _ev("TG", "complaint_mediation_failed", "2024-06-15"),
    _ev("TG", "report_case_filed", "2024-06-20"),
    # third-party signals by name
    _ev("TG", "signal", "2024-05-31", tags=["tax_arrears"]), _ev("TG", "signal", "2024-04-30", tags=["tax_arrears"]),
    _ev("TG", "signal", "2023-12-31", tags=["utility_arrears"]),
    _ev("TG", "signal", "2024-03-31", tags=["social_insurance_arrears"]),
    # commitments, listings, spot checks, registration churn
    _ev("TG", "commitment", "2023-01-01"), _ev("TG", "commitment", "2023-06-01"),
    _ev("TG", "commitment_breach", "2023-09-01"),
    _ev("TG", "abnormal_list", "2024-02-01", tags=["unreachable"]),
    _ev("TG", "spot_check_problem", "2023-10-01", tags=["unreachable"]),
    _ev("TG", "change_capital", "2024-01-10", tags=["capital_cut"]),
    _ev("TG", "change_capital", "2022-07-01", tags=["capital_increase"]),
    _ev("TG", "change_legal_rep", "2022-01-01"),
    # dishonest debtor: unperformed amounts of the listings in force
    _ev("DD", "dishonest_debtor", "2023-06-01", amount=80000.0),
    _ev("DD", "dishonest_debtor", "2023-01-01", end="2024-03-01", amount=15000.0),
    _ev("DD", "dishonest_debtor", "2024-06-10", known="2024-07-05", amount=5000.0),
    # a new entity related to a penalised one
    _ev("NP", "penalty", "2024-02-01", amount=100.0),
    # the registry shows today's capital (2,000,000); it was 500,000 before a change of 2024-03-15
    _ev("CP", "change_capital", "2024-03-15", amount=500_000.0),
]
# annual reports (REPORT_COLUMNS): AR1 files 2022's report late and 2023's on time; SH is a shell
GOLDEN_REPORTS = [
    ("AR1", "AR1-2021", 2021, D("2022-05-10"), 5, 1_000_000.0, 10_000.0, None),
    ("AR1", "AR1-2022", 2022, D("2023-08-15"), 6, None, None, None),  # financial figures not published
    ("AR1", "AR1-2023", 2023, D("2024-05-20"), 0, 5_000_000.0, 0.0, None),
    ("SH", "SH-2023", 2023, D("2024-03-01"), 3, 0.0, 0.0, 2e8),
]
REPORT_SCHEMA = (
    "entity_id string, record_key string, report_year int, filed_date date, staff_count int, revenue_yuan double, "
    "tax_yuan double, assets_yuan double"
)
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
    _tie("NE", "phone", "tel:13900000009", "2024-01-20"),
    _tie("NP", "phone", "tel:13900000009", "2018-01-01"),
]
GOLDEN_HUB_CAP = 3
GOLDEN_MONTHS = 8


@pytest.fixture(scope="module")
def snaps(spark: Any) -> pd.DataFrame:
    out = build_snapshots(
        spark.createDataFrame(GOLDEN_ENTITIES, ENTITY_SCHEMA),
        spark.createDataFrame(GOLDEN_EVENTS, EVENT_SCHEMA),
        spark.createDataFrame(GOLDEN_ATTRIBUTES, ATTRIBUTE_SCHEMA),
        # an address with 4 entities is "shared" here (the Shandong screen says 10)
        CATALOG, _feature_policy(GOLDEN_MONTHS, shell_address_min_entities=4), POL.labels, AS_OF, DISTRICTS,
        GOLDEN_HUB_CAP, reports=spark.createDataFrame(GOLDEN_REPORTS, REPORT_SCHEMA),
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


def _values(snaps: pd.DataFrame, eid: str, day: str, names: list[str]) -> dict[str, float]:
    row = _at(snaps, eid, day)
    return {n: (None if pd.isna(row[n]) else float(row[n])) for n in names}


def test_golden_penalties_by_category_severity_and_publicity(snaps: pd.DataFrame) -> None:
    """TG: 2024-01-15 fine + suspension (30,000), 2023-03-01 revocation, 2022-08-01 fine (7,000) whose
    publicity ended 2024-02-01, a warning of 2024-06-01."""
    names = ["penalty_count_365d", "penalty_count_1095d", "penalty_amount_365d", "penalty_amount_1095d",
             "penalty_fine_count_1095d", "penalty_confiscation_count_1095d", "penalty_suspension_count_1095d",
             "penalty_revocation_count_1095d", "penalty_severe_count_1095d", "days_since_penalty"]
    assert _values(snaps, "TG", "2024-06-30", names) == dict(zip(names, [
        1.0, 2.0, 30000.0, 30000.0, 1.0, 0.0, 1.0, 1.0, 2.0, 29.0], strict=True))
    # before its publicity ended the 2022 fine still counted; the 2024 one was not there yet
    assert _values(snaps, "TG", "2023-12-31", names[:9]) == dict(zip(names[:9], [
        1.0, 2.0, 0.0, 7000.0, 1.0, 0.0, 0.0, 1.0, 1.0], strict=True))
    assert _at(snaps, "TG", "2024-01-31")["penalty_amount_1095d"] == 37000.0
    assert _at(snaps, "TG", "2024-02-29")["penalty_amount_1095d"] == 30000.0  # publicity ended 2024-02-01


def test_golden_supervision_families(snaps: pd.DataFrame) -> None:
    tg = _values(snaps, "TG", "2024-06-30", [
        "abnormal_list_current", "abnormal_unreachable_current", "spot_check_unreachable_count_1095d",
        "commitment_count_1095d", "commitment_breach_count_1095d", "commitment_breach_share_1095d"])
    assert tg == {"abnormal_list_current": 1.0, "abnormal_unreachable_current": 1.0,
                  "spot_check_unreachable_count_1095d": 1.0, "commitment_count_1095d": 2.0,
                  "commitment_breach_count_1095d": 1.0, "commitment_breach_share_1095d": 0.5}
    assert _at(snaps, "TG", "2023-12-31")["abnormal_unreachable_current"] == 0.0
    assert _at(snaps, "N2", "2024-06-30")["commitment_breach_share_1095d"] == 0.0  # no commitment: 0
    # unperformed amounts of the listings in force: removed 2024-03-01; the third published after T
    dd = {d: _at(snaps, "DD", d)["dishonest_unperformed_amount"] for d in ["2024-02-29", "2024-03-31", "2024-06-30"]}
    assert dd == {"2024-02-29": 95000.0, "2024-03-31": 80000.0, "2024-06-30": 80000.0}
    assert _at(snaps, "DD", "2024-06-30")["dishonest_debtor_current"] == 1.0


def test_golden_capital_at_t_before_a_later_change(snaps: pd.DataFrame) -> None:
    cap = {d: _at(snaps, "CP", d)["log_registered_capital"] for d in ["2024-02-29", "2024-03-31", "2024-06-30"]}
    assert cap == {"2024-02-29": pytest.approx(math.log1p(5e5)), "2024-03-31": pytest.approx(math.log1p(2e6)),
                   "2024-06-30": pytest.approx(math.log1p(2e6))}


def test_golden_dynamic_churn(snaps: pd.DataFrame) -> None:
    assert _values(snaps, "TG", "2024-06-30", [
        "capital_cut_count_1095d", "capital_increase_count_1095d", "change_legal_rep_count_1095d",
        "change_legal_rep_count_365d", "change_capital_count_365d"]) == {
        "capital_cut_count_1095d": 1.0, "capital_increase_count_1095d": 1.0, "change_legal_rep_count_1095d": 1.0,
        "change_legal_rep_count_365d": 0.0, "change_capital_count_365d": 1.0}


def test_golden_social_outcomes_shares_and_signals(snaps: pd.DataFrame) -> None:
    names = ["report_share_365d", "complaint_mediated_count_365d", "complaint_mediation_failed_count_365d",
             "complaint_mediation_failed_share_365d", "report_case_filed_count_365d",
             "signal_tax_arrears_count_180d", "signal_social_insurance_count_180d",
             "signal_utility_arrears_count_180d", "signal_count_365d"]
    assert _values(snaps, "TG", "2024-06-30", names) == dict(zip(names, [
        2 / 3, 1.0, 2.0, 2 / 3, 1.0, 2.0, 1.0, 0.0, 4.0], strict=True))
    # the report of 2023-12-01 alone: all of TG's complaints were reports then; no outcome yet
    assert _values(snaps, "TG", "2023-12-31", names[:4]) == dict(zip(names[:4], [1.0, 0.0, 0.0, 0.0], strict=True))
    assert _at(snaps, "N2", "2024-06-30")["report_share_365d"] == 0.0


def test_golden_cell_trend(snaps: pd.DataFrame) -> None:
    """G is alone in its cell (F x 211303): the cell's trend is its own. N2's cell (F x 211302) had four
    complaints and reports in the base period (TG's three and L4's) and none in the last 90 days. A1's
    industry and district are unknown: no cell, 1.0."""
    g = _at(snaps, "G", "2024-06-30")
    assert g["cell_complaint_trend"] == pytest.approx(g["complaint_trend"])
    assert _at(snaps, "N2", "2024-06-30")["cell_complaint_trend"] == pytest.approx(1 / (4 * 90 / 365 + 1))
    assert _at(snaps, "A1", "2024-06-30")["cell_complaint_trend"] == 1.0


def test_golden_addresses_and_new_entities(snaps: pd.DataFrame) -> None:
    g, h2, n2 = (_at(snaps, e, "2024-06-30") for e in ("G", "H2", "N2"))
    assert (g["address_entity_count"], g["shared_address"]) == (4.0, 1.0)  # 商务中心8楼 (its other address: 2)
    assert (h2["address_entity_count"], n2["address_entity_count"], n2["shared_address"]) == (4.0, 1.0, 0.0)
    a1 = _at(snaps, "A1", "2024-06-30")
    assert (a1["new_entity_complaint_count_90d"], a1["complaint_count_90d"]) == (1.0, 1.0)
    assert g["new_entity_complaint_count_90d"] == 0.0 and g["complaint_count_90d"] == 4.0  # not new
    ne = _at(snaps, "NE", "2024-06-30")
    assert (ne["is_new_entity"], ne["related_adverse_count_1095d"], ne["new_entity_related_adverse"]) == (1.0, 1.0, 1.0)
    assert ne["new_entity_shared_address"] == 1.0 and g["new_entity_shared_address"] == 0.0


def test_golden_annual_reports(snaps: pd.DataFrame) -> None:
    names = ["annual_report_missing", "annual_report_missing_2y", "annual_report_pending",
             "annual_report_late_count_3y", "report_staff_count", "report_log_revenue", "report_staff_zero",
             "report_revenue_zero", "report_tax_zero", "shell_screen"]

    def row(eid: str, day: str) -> list[float | None]:
        return list(_values(snaps, eid, day, names).values())

    # AR1 (est. 2019): 2022's report filed late (2023-08-15), 2023's on 2024-05-20 (no staff, no tax)
    assert row("AR1", "2023-11-30") == [0.0, 0.0, 0.0, 1.0, 6.0, None, 0.0, 0.0, 0.0, 0.0]
    assert row("AR1", "2024-04-30") == [0.0, 0.0, 1.0, 1.0, 6.0, None, 0.0, 0.0, 0.0, 0.0]  # 2023's not yet filed
    assert row("AR1", "2024-05-31") == [0.0, 0.0, 0.0, 1.0, 0.0, pytest.approx(math.log1p(5e6)), 1.0, 0.0, 1.0, 0.0]
    # AR2 (est. 2022-06-01) files nothing: 2022's report is missing (2021's was not due)
    assert row("AR2", "2023-11-30")[:3] == [1.0, 1.0, 0.0]
    assert row("AR2", "2024-04-30")[:3] == [1.0, 1.0, 1.0]
    assert row("AR2", "2024-04-30")[4] is None
    # AR3 (est. 2023-03-01): nothing due in 2023; 2023's report pending in 2024
    assert row("AR3", "2023-11-30")[:3] == [0.0, 0.0, 0.0] and row("AR3", "2024-04-30")[:3] == [0.0, 0.0, 1.0]
    # SH: 200 million yuan of capital, a report of 2024-03-01 without revenue or tax: the shell screen
    assert row("SH", "2024-02-29")[-1] == 0.0
    assert row("SH", "2024-03-31")[-3:] == [1.0, 1.0, 1.0]
    # G (est. 2020) never filed: 2022's report missing; 2023's pending from January 2024
    assert row("G", "2023-12-31")[:3] == [1.0, 2.0, 0.0] and row("G", "2024-01-31")[:3] == [1.0, 2.0, 1.0]


def test_date_index(spark: Any) -> None:
    """Snapshot i satisfies T_i >= x exactly when i >= date_index(x); null x: never."""
    import pyspark.sql.functions as F

    dates = snapshot_dates(AS_OF, 5)  # 2024-02-29 .. 2024-06-30
    xs = [None, D("2020-01-01"), D("2024-02-29"), D("2024-03-01"), D("2024-05-31"), D("2024-06-30"), D("2024-07-01")]
    df = spark.createDataFrame([(x,) for x in xs], "x date")
    got = [r[0] for r in df.select(date_index(F.col("x"), dates)).collect()]
    assert got == [5, 0, 0, 1, 3, 4, 5]


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
    *[(e[0] + LATE, *e[1:5], 5_000_000.0 if e[0] == "EV1" else e[5], *e[6:]) for e in EVENT_ENTITIES],
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
        # after T the capital grew from 50万 to 500万: the registry of the late world shows 500万 (below)
        {"uscc": "UEV1", "change_item": "注册资本变更", "change_date": "2024-05-10", "before": "50万元人民币",
         "after": "500万元人民币", "_entity": "EV1"},
    ],
    "dishonest_debtor": [
        {"case_no": "(2024)辽1302执9号", "debtor_name": "测试公司", "publish_date": "2024-05-08", "_entity": "EV1"},
    ],
    "third_party": [
        {"entity_key": "UEV1", "signal_date": "2024-06-05", "signal_name": "舆情", "signal_value": 1.0, "_entity": "EV1"},
    ],
    "annual_report": [
        {"uscc": "UEV2", "report_year": "2023", "filed_date": "2024-05-15", "staff_count": 7, "_entity": "EV2"},
    ],
}




def test_records_after_t_never_change_features_at_t(spark: Any, world: dict[str, DataFrame]) -> None:
    """Two worlds in one build, the second with records dated (or published) after T: every feature at T is
    the same in both. (An objection retracts at every date by design, so none is among the late records.)"""
    snaps = build_snapshots(
        world["entities"], world["events"], spark.createDataFrame(LEAK_ATTRIBUTES, ATTRIBUTE_SCHEMA), CATALOG,
        _feature_policy(3), POL.labels, AS_OF, DISTRICTS, LEAK_HUB_CAP, reports=world["reports"],
    ).toPandas()
    is_late = snaps["entity_id"].str.endswith(LATE)
    snaps["entity_id"] = snaps["entity_id"].str.removesuffix(LATE)
    base = snaps[~is_late].set_index(["entity_id", "snapshot_date"]).sort_index()
    late = snaps[is_late].set_index(["entity_id", "snapshot_date"]).sort_index()
    at_t = base.xs(T_LEAK, level="snapshot_date")
    assert list(at_t.index) == ["EV1", "EV2", "EVI"]
    pd.testing.assert_frame_equal(at_t[FEATURES], late.xs(T_LEAK, level="snapshot_date")[FEATURES])
    assert at_t.loc["EV1", "related_entity_count"] == 1.0  # EV1 and EV2 share the legal rep at T
    # the late records are not inert: they change the features at the as-of date ...
    now_b, now_l = base.xs(AS_OF, level="snapshot_date"), late.xs(AS_OF, level="snapshot_date")
    # + 晚-1, + 晚-未公示 (published 05-10), - 罚-罚款 (repaired 05-20)
    assert now_l.loc["EV1", "penalty_count_365d"] == now_b.loc["EV1", "penalty_count_365d"] + 1
    assert now_l.loc["EV1", "abnormal_list_current"] == 1.0 and now_b.loc["EV1", "abnormal_list_current"] == 0.0
    # the late world's registry shows the capital after the change of 2024-05-10; at T it was 50万 in both
    assert now_l.loc["EV1", "log_registered_capital"] == pytest.approx(math.log1p(5e6))
    assert at_t.loc["EV1", "log_registered_capital"] == pytest.approx(math.log1p(5e5))
    assert now_l.loc["EV1", "related_entity_count"] == 0.0  # the legal rep is a hub (3 firms > cap 2) by then
    assert now_b.loc["EV1", "related_entity_count"] == 1.0
    # an annual report filed after T: last year's report is no longer pending, its staff count is known
    assert now_l.loc["EV2", "report_staff_count"] == 7.0 and pd.isna(now_b.loc["EV2", "report_staff_count"])
    assert (now_l.loc["EV2", "annual_report_pending"], now_b.loc["EV2", "annual_report_pending"]) == (0.0, 1.0)
    # ... and the label at T
    assert late.loc[("EV1", T_LEAK), "label"] == 1 and base.loc[("EV1", T_LEAK), "label"] == 0
    # in both worlds, a complaint registered before T but closed (mediated) after T counts only once closed
    assert (at_t.loc["EV1", "complaint_mediated_count_365d"], now_b.loc["EV1", "complaint_mediated_count_365d"]) == (
        1.0, 2.0)


# ================================================================ the catalog as documentation
ROOT = Path(__file__).resolve().parent.parent
CATALOG_DOC = ROOT / "docs" / "features.md"


def test_catalog_documents_every_feature_with_its_dimension_and_definition() -> None:
    rows = catalog_rows(CATALOG, POL.features)
    assert [r["name"] for r in rows] == [f.name for f in CATALOG.features]
    assert all(r["definition"] and r["dimension_label"] for r in rows)
    md = catalog_markdown(CATALOG, POL.features)
    for f in CATALOG.features:
        assert f"`{f.name}` | {f.label} |" in md
    for label in CATALOG.dimensions.values():
        assert f"## {label}" in md
    # the policy's choices are spelled out: tags, publicity, outcomes
    assert "| `suspension` | 处罚类别 责令停产停业、责令关闭" in md and "公示截止期" in md and "调解成功 -> complaint_mediated" in md
    # every SAMR dimension has features of its own
    assert {f.dimension for f in CATALOG.features} == set(CATALOG.dimensions)


def test_the_catalog_document_in_the_repository_is_generated_from_conf() -> None:
    """docs/features.md (linked from the README) is exactly what `radar features catalog` writes."""
    assert CATALOG_DOC.read_text(encoding="utf-8") == catalog_markdown(CATALOG, POL.features), (
        "regenerate it: radar features catalog --out docs/features.md"
    )


def test_features_catalog_command_writes_markdown(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from radar.cli import app

    out = tmp_path / "sub" / "features.md"
    result = CliRunner().invoke(app, ["features", "catalog", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == catalog_markdown(CATALOG, POL.features)


def _catalog_file(tmp_path: Path, features: list[dict[str, Any]]) -> Path:
    (tmp_path / "features.yaml").write_text(
        yaml.safe_dump({"dimensions": {"supervision": "监管信息"}, "features": features}, allow_unicode=True),
        encoding="utf-8",
    )
    return tmp_path


def test_a_bad_feature_definition_names_the_file_and_the_problem(tmp_path: Path) -> None:
    base = {"name": "x", "dimension": "supervision", "label": "x", "window_days": 365, "events": ["report"]}
    for feature, message in [
        ({**base, "kind": "share"}, "needs of_events"),
        ({**base, "kind": "cell_trend", "base_days": 365}, "needs cell"),
        ({**base, "kind": "annual_report", "events": [], "measure": "value"}, "needs field"),
        ({**base, "kind": "count", "events": ["no_such_event"]}, "features.0.events.0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            feature_catalog.__wrapped__(_catalog_file(tmp_path, [feature]))
    later = [{**base, "kind": "when_new", "of": "y"}, {**base, "name": "y", "kind": "count"}]
    with pytest.raises(ConfigError, match="'of' must name a feature defined before it"):
        feature_catalog.__wrapped__(_catalog_file(tmp_path, later))


def test_a_feature_counting_an_unknown_tag_is_refused() -> None:
    bad = FeatureCatalog.model_validate({"dimensions": {"supervision": "监管信息"}, "features": [
        {"name": "x", "dimension": "supervision", "label": "x", "kind": "count", "events": ["penalty"],
         "tags": ["fine", "no_such_tag"], "window_days": 365}]})
    with pytest.raises(ConfigError, match="x: unknown tags no_such_tag"):
        check_catalog(bad, POL.features)
    check_catalog(CATALOG, POL.features)  # the shipped catalog only counts tags the policy sets


# ================================================================ annual reports in the simulated city
def test_simulated_annual_reports_are_late_or_missing_for_risky_and_dormant_entities() -> None:
    from radar.config import simulation
    from radar.ingest.headers import detect_record_type
    from radar.simulate.city import build_city
    from radar.simulate.events import simulate_story
    from radar.simulate.records import History
    from radar.simulate.reports import annual_reports
    from radar.simulate.timeline import NEVER, Timeline, day

    spec = simulation()
    tl = Timeline(start=day("2021-01-01"), end=day("2024-06-30"), future_end=day("2025-06-30"))
    city = build_city(dict(spec.rates), dict(spec.mix), 1500, 11, tl, spec.development_zone_code)
    story = simulate_story(city, dict(spec.rates), 11)
    ar = annual_reports(city, story, History(city, story, 11), 11)
    ent = city.entities
    year = ar["report_year"].astype(int).to_numpy()
    filed = ar["filed_date"].to_numpy()
    deadline = np.array([day(f"{y + 1}-06-30") for y in year])
    assert (filed >= np.array([day(f"{y + 1}-01-01") for y in year])).all()  # never before the year is over
    late = filed > deadline
    risk = ent["latent_risk"].to_numpy()[ar["_entity"].to_numpy()]
    lo, hi = np.quantile(risk, [0.25, 0.75])
    assert late[risk >= hi].mean() > 2 * late[risk <= lo].mean()
    # an entity dormant since before a year began and never revived files nothing for that year
    dormant, revived = ent["dormant"].to_numpy(), ent["revived"].to_numpy()
    e = ar["_entity"].to_numpy()
    asleep = (dormant[e] < np.array([day(f"{y}-01-01") for y in year])) & (revived[e] == NEVER)
    assert not asleep.any()
    assert (ar["staff_count"] == 0).any() and (ar["total_revenue"] == 0).any() and ar["total_revenue"].isna().any()
    # the export's headers (label and GSXT code styles) are recognised as annual reports
    assert detect_record_type(["统一社会信用代码", "企业名称", "年报年度", "报送日期", "从业人数", "营业总收入"]).record_type == (
        "annual_report")
    assert detect_record_type(["UNISCID", "ENTNAME", "ANCHEYEAR", "ANCHEDATE", "EMPNUM", "VENDINC"]).record_type == (
        "annual_report")


# ================================================================ the dashboard's catalog page
def test_dashboard_catalog_page_shows_definitions_and_jurisdiction_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polars as pl
    from test_dashboard import PASSWORD, SHUANGTA, _app, _login, build_fake_lake

    from radar.dashboard.access import LakeAccess
    from radar.store import Store

    lake = build_fake_lake(tmp_path)
    with Store(f"sqlite:///{lake}/store.db") as s:
        s.add_user("shuangta", PASSWORD, "supervisor", [SHUANGTA])
        user = s.authenticate("shuangta", PASSWORD)
    part = lake / "features" / "catalog" / "as_of=2024-06-30"
    part.mkdir(parents=True)
    pl.DataFrame(catalog_rows(CATALOG, POL.features)).write_parquet(part / "part-0.parquet")
    part = lake / "features" / "snapshots" / "as_of=2024-06-30"
    part.mkdir(parents=True)
    rows = [("E1", D("2024-05-31"), SHUANGTA, 9.0), ("E1", D("2024-06-30"), SHUANGTA, 3.0),
            ("E2", D("2024-06-30"), SHUANGTA, 0.0), ("E4", D("2024-06-30"), "211303", 7.0)]
    pl.DataFrame(rows, schema=["entity_id", "snapshot_date", "district_code", "penalty_count_365d"],
                 orient="row").write_parquet(part / "part-0.parquet")
    # the access layer: only the latest snapshot, only the user's districts
    prof = LakeAccess(lake, user).feature_profile().row(0, named=True)
    assert prof == {"name": "penalty_count_365d", "entities": 2, "nonzero": 1, "mean": 1.5}
    monkeypatch.setenv("RADAR_LAKE", str(lake))
    monkeypatch.delenv("RADAR_PROFILE", raising=False)
    at = _login(_app().run(), "shuangta")
    at.switch_page("views/features.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert len(table) == len(CATALOG.features) and "近1年行政处罚次数" in set(table["名称"])
    assert table.set_index("特征").loc["penalty_count_365d", "非零占比（%）"] == 50.0
    assert any("辖区内 2 个主体" in c.value for c in at.caption)
    at.selectbox(key="feature_dimension").select("社会评价信息").run()
    assert set(at.dataframe[0].value["维度"]) == {"社会评价信息"}
