"""The dashboard: jurisdiction scoping and masking in the access layer, and the Streamlit app (AppTest)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from radar.dashboard.access import AccessDenied, LakeAccess
from radar.dashboard.labels import source_label
from radar.dashboard.masking import mask_id_no, mask_name, mask_phone, mask_text
from radar.dashboard.settings import dashboard_settings
from radar.errors import ConfigError
from radar.store import Store

APP = Path(__file__).resolve().parent.parent / "radar" / "dashboard" / "app.py"
AS_OF = "2024-06-30"
SHUANGTA, LONGCHENG, BEIPIAO = "211302", "211303", "211381"
DISTRICT_NAMES = {SHUANGTA: "双塔区", LONGCHENG: "龙城区", BEIPIAO: "北票市"}
PASSWORD = "test-password-1"

# entity_id, uscc, name, district, grade, score, legal rep, ID number, phone
ENTITIES = [
    (
        "E1",
        "91211302MA0000001A",
        "朝阳双塔甲商贸有限公司",
        SHUANGTA,
        "D",
        0.91,
        "张三",
        "211302199001011234",
        "13812345678",
    ),
    (
        "E2",
        "92211302MA0000002B",
        "双塔区乙小吃店",
        SHUANGTA,
        "B",
        0.22,
        "李四",
        "211302198505052345",
        "13912345678",
    ),
    (
        "E3",
        "91211302MA0000003C",
        "朝阳丙科技有限公司",
        SHUANGTA,
        "A",
        0.03,
        "王五",
        "211302197703033456",
        "13712345678",
    ),
    (
        "E4",
        "91211303MA0000004D",
        "龙城丁建材有限公司",
        LONGCHENG,
        "D",
        0.88,
        "赵六",
        "211303198808084567",
        "13612345678",
    ),
    (
        "E5",
        "91211303MA0000005E",
        "龙城戊物流有限公司",
        LONGCHENG,
        "C",
        0.57,
        "钱七",
        "211303199909095678",
        "13512345678",
    ),
    (
        "E6",
        "93211381MA0000006F",
        "北票己农民专业合作社",
        BEIPIAO,
        "A",
        0.06,
        "孙八",
        "211381196606066789",
        "13412345678",
    ),
]


def _write(lake: Path, table: str, df: pl.DataFrame) -> None:
    part = lake / table / f"as_of={AS_OF}"
    part.mkdir(parents=True, exist_ok=True)
    df.write_parquet(part / "part-0.parquet")


def _write_json(lake: Path, table: str, obj: dict[str, Any]) -> None:
    part = lake / table / f"as_of={AS_OF}"
    part.mkdir(parents=True, exist_ok=True)
    (part / "report.json").write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


def build_fake_lake(root: Path, optional: bool = True) -> Path:
    """A tiny lake with every table the dashboard reads (six entities in three districts).

    ``optional=False`` leaves out the graph, plan and report tables, which a lake may lack.
    """
    lake = root / "lake"
    lake.mkdir(parents=True)
    (lake / "_lake.json").write_text(json.dumps({"format": 1, "created_by": "test"}), encoding="utf-8")
    reasons = json.dumps(
        [
            {
                "feature": "penalty_count_365d",
                "label": "近一年行政处罚次数",
                "value": 3,
                "contribution": 0.41,
            },
            {"feature": "complaints_90d", "label": "近三个月投诉数", "value": 5, "contribution": 0.22},
        ],
        ensure_ascii=False,
    )
    _write(
        lake,
        "score/scores",
        pl.DataFrame(
            [
                {
                    "entity_id": e, "uscc": u, "name": n, "entity_class": "enterprise", "district_code": d,
                    "district_name": DISTRICT_NAMES[d], "industry_section": "F", "industry_name": "批发和零售业",
                    "risk_score": s, "grade": g, "model_grade": g, "grade_reason": "模型评分",
                    "reasons": reasons, "reasons_text": "近一年行政处罚3次；近三个月投诉5件",
                    "legal_rep_name": rep, "model_version": "3", "previous_grade": "B", "anomaly_score": 0.875,
                }
                for e, u, n, d, g, s, rep, _, _ in ENTITIES
            ]
        ),
    )  # fmt: skip
    _write(
        lake,
        "resolve/entities",
        pl.DataFrame(
            [
                {
                    "entity_id": e, "uscc": u, "name": n, "entity_class": "enterprise", "entity_type": "有限责任公司",
                    "legal_rep_name": rep, "legal_rep_id_no": idno, "address": f"朝阳市{DISTRICT_NAMES[d]}某路1号",
                    "phone": phone, "district_code": d, "district_name": DISTRICT_NAMES[d], "industry_code": "F5100",
                    "industry_section": "F", "established_date": "2015-03-01", "registration_status": "存续",
                    "is_active": True, "registered_capital_yuan": 1_000_000.0,
                }
                for e, u, n, d, _, _, rep, idno, phone in ENTITIES
            ]
        ),
    )  # fmt: skip
    _write(
        lake,
        "resolve/links",
        pl.DataFrame(
            [
                {"source_type": "penalty", "record_key": f"P-{e}", "entity_id": e, "uscc": u, "method": "uscc",
                 "probability": 1.0, "source_file": "penalty.csv", "source_row": i + 2}
                for i, (e, u, *_rest) in enumerate(ENTITIES)
            ]
        ),
    )  # fmt: skip
    _write(
        lake,
        "features/events",
        pl.DataFrame(
            [
                {"entity_id": e, "source_type": "penalty", "record_key": f"P-{e}", "event_type": "penalty",
                 "event_date": "2024-03-01", "end_date": None, "amount_yuan": 5000.0,
                 "detail": f"行政处罚：法定代表人{rep}，身份证号{idno}，联系电话{phone}"}
                for e, _, _, _, _, _, rep, idno, phone in ENTITIES
            ],
            schema_overrides={"end_date": pl.String},
        ),
    )  # fmt: skip
    if not optional:
        return lake
    _write(
        lake,
        "graph/flags",
        pl.DataFrame(
            [
                {"entity_id": "E1", "uscc": ENTITIES[0][1], "flag": "cross_region", "component_id": "C1",
                 "evidence": json.dumps({"shared_person": "张三", "legal_rep_id_no": "211302199001011234",
                                         "note": "张三同时担任龙城丁建材有限公司股东"}, ensure_ascii=False)},
                {"entity_id": "E1", "uscc": ENTITIES[0][1], "flag": "phoenix", "component_id": "C1",
                 "evidence": json.dumps([{"from": ENTITIES[3][1], "to": ENTITIES[0][1], "event": "serious_violation 2023-07-23",
                                          "via": {"type": "legal_rep", "label": "张三", "since": "2018-01-27"}},
                                         {"from": ENTITIES[3][1], "to": ENTITIES[0][1], "event": "deregistered 2023-04-22",
                                          "via": {"type": "phone", "label": "0421-6425375", "since": "2021-12-14"}}],
                                        ensure_ascii=False)},
                {"entity_id": "E4", "uscc": ENTITIES[3][1], "flag": "ring", "component_id": "C1",
                 "evidence": json.dumps({"shared_person": "赵六"}, ensure_ascii=False)},
            ]
        ),
    )  # fmt: skip
    _write(
        lake,
        "score/drift",
        pl.DataFrame(
            [
                {"kind": "feature", "feature": "penalty_count_365d", "psi": 0.41, "threshold": 0.25, "drifted": True,
                 "n_reference": 4000, "n_current": 6, "bins": 3},
                {"kind": "feature", "feature": "age_years", "psi": 0.02, "threshold": 0.25, "drifted": False,
                 "n_reference": 4000, "n_current": 6, "bins": 3},
                {"kind": "score", "feature": "risk_score", "psi": 0.05, "threshold": 0.9, "drifted": False,
                 "n_reference": 6, "n_current": 6, "bins": 2},
            ]
        ),
    )  # fmt: skip
    _write(
        lake,
        "graph/components",
        pl.DataFrame(
            [
                {"entity_id": e, "component_id": "C1", "component_size": 3, "n_districts": 2, "n_industries": 1,
                 "risky_members": 2}
                for e in ("E1", "E2", "E4")
            ]
        ),
    )  # fmt: skip
    _write(
        lake,
        "plan/plans",
        pl.DataFrame(
            [
                {"plan_id": "P2024-07", "entity_id": e, "uscc": u, "name": n, "district_code": d, "grade": g,
                 "stratum": g, "stratum_size": 2, "stratum_drawn": 1, "inclusion_probability": p,
                 "inspectors": "检查员甲;检查员乙", "seed": 20240630, "as_of": AS_OF}
                for e, u, n, d, g, p in [
                    ("E1", ENTITIES[0][1], ENTITIES[0][2], SHUANGTA, "D", 1.0),
                    ("E4", ENTITIES[3][1], ENTITIES[3][2], LONGCHENG, "D", 1.0),
                    ("E3", ENTITIES[2][1], ENTITIES[2][2], SHUANGTA, "A", 0.5),
                ]
            ]
        ),
    )  # fmt: skip
    _write_json(
        lake,
        "reports/dq",
        {
            "as_of": AS_OF,
            "files": {
                "penalty.csv": {"record_type": "penalty", "rows_in": 100, "accepted": 97, "quarantined": 3,
                                "unknown_columns": ["备注2"], "reconciled": True, "late_publication": 4},
                "complaint.csv": {"record_type": "complaint", "rows_in": 10, "accepted": 10, "quarantined": 0,
                                  "unknown_columns": [], "reconciled": True, "late_publication": None},
            },
            "record_types": {
                "penalty": {"files": 1, "rows_in": 100, "accepted": 97, "quarantined": 3, "invalid_uscc_rate": 0.02,
                            "missing_uscc_rate": 0.03, "duplicate_rate": 0.01, "unknown_columns": ["备注2"],
                            "late_publication": 4, "late_publication_rate": 0.0412},
                "complaint": {"files": 1, "rows_in": 10, "accepted": 10, "quarantined": 0, "invalid_uscc_rate": 0.0,
                              "missing_uscc_rate": 0.5, "duplicate_rate": 0.0, "unknown_columns": [],
                              "late_publication": None, "late_publication_rate": None},
            },
            "files_rejected": [],
            "event_dates": {"penalty": ["2021-01-05", "2024-06-20"]},
        },
    )  # fmt: skip
    _write_json(lake, "reports/run", {"stages": {"ingest": 1.5}, "model": {"name": "radar-risk", "version": "3",
                                                                         "trained_at": "2024-06-15"}})  # fmt: skip
    return lake


def _alert_rows() -> list[dict[str, Any]]:
    """Alerts as the alerts job raises them (E2's evidence names its records by key only)."""
    by_id = {e[0]: e for e in ENTITIES}
    rows = []
    for eid, rule, severity in (
        ("E1", "grade_d", "high"),
        ("E2", "grade_up", "medium"),
        ("E4", "grade_d", "high"),
    ):
        _, uscc, name, district, grade, score, rep, idno, phone = by_id[eid]
        rows.append(
            {
                "entity_id": eid, "rule": rule, "severity": severity, "uscc": uscc, "name": name,
                "district_code": district, "risk_score": score, "grade": grade, "title": f"{name}：风险预警",
                "evidence": {
                    "rule": rule, "as_of": AS_OF, "risk_score": score, "grade": grade, "previous_grade": "B",
                    "model_version": "3",
                    "reasons": [{"label": "近一年行政处罚次数", "value": 3, "contribution": 0.41}],
                    "reasons_text": "近一年行政处罚3次",
                    "legal_rep_name": rep, "legal_rep_id_no": idno, "phone": phone,
                    "summary": f"法定代表人{rep}名下另有被处罚企业",
                },
            }
        )  # fmt: skip
        if eid == "E2":
            rows[-1]["evidence"]["record_keys"] = [f"P-{eid}"]
        else:
            rows[-1]["evidence"]["records"] = [
                {"date": "2024-03-01", "event_type": "penalty", "source_type": "penalty", "record_key": f"P-{eid}",
                 "detail": f"行政处罚：法定代表人{rep}，联系电话{phone}"}
            ]  # fmt: skip
    return rows


USERS = {
    # username: (role, districts)
    "shuangta": ("supervisor", [SHUANGTA]),
    "longcheng": ("supervisor", [LONGCHENG]),
    "planner": ("planner", [SHUANGTA]),
    "analyst": ("analyst", []),
    "admin": ("admin", []),
}


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("radar.store.store.BCRYPT_ROUNDS", 4)


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    # AppTest leaves the app installed as sys.modules["__main__"]; multiprocessing's spawn would then
    # re-run the app in every child process of later tests
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return build_fake_lake(tmp_path)


@pytest.fixture
def store(lake: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{lake}/store.db")  # where the default (local) profile puts it
    for username, (role, districts) in USERS.items():
        s.add_user(username, PASSWORD, role, districts, username)
    s.upsert_alerts(_alert_rows(), AS_OF, due_days={"high": 5, "medium": 15, "low": 30})
    yield s
    s.close()


def _access(lake: Path, store: Store, username: str) -> LakeAccess:
    user = store.get_user(username)
    assert user is not None
    return LakeAccess(lake, user, store=store)


def _districts(df: pl.DataFrame) -> set[str]:
    return set(df.get_column("district_code").to_list())


# ---------------------------------------------------------------- access layer: jurisdiction
def test_a_district_user_never_receives_another_districts_rows(lake: Path, store: Store) -> None:
    acc = _access(lake, store, "shuangta")
    mine = {"E1", "E2", "E3"}
    assert _districts(acc.scores()) == {SHUANGTA}
    assert _districts(acc.entities()) == {SHUANGTA}
    assert set(acc.links().get_column("entity_id")) == mine
    assert set(acc.events().get_column("entity_id")) == mine
    assert acc.events("E4").is_empty() and acc.links("E4").is_empty()
    assert set(acc.flags().get_column("entity_id")) == {"E1"}  # E4's flag is 龙城区's
    assert set(acc.components().get_column("entity_id")) == {"E1", "E2"}
    assert _districts(acc.plans()) == {SHUANGTA}
    assert _districts(acc.grade_distribution()) == {SHUANGTA}
    assert set(acc.search_entities("有限公司").get_column("entity_id")) == {"E1", "E3"}
    assert acc.search_entities("龙城").is_empty()
    assert acc.search_entities(ENTITIES[3][1]).is_empty()  # a foreign USCC finds nothing
    assert acc.entity_profile("E4") is None
    assert acc.entity_profile("E1")["score"]["grade"] == "D"
    related = acc.related_parties("E1")
    assert set(related["members"].get_column("entity_id")) == {"E2"} and related["outside"] == 1
    strata = acc.plan_strata()
    assert strata.get_column("drawn_here").sum() == 2
    # alerts: listing, reading, history, counts
    alerts = acc.alerts()
    assert {a["entity_id"] for a in alerts} == {"E1", "E2"}
    assert {a["district_code"] for a in alerts} == {SHUANGTA}
    assert set(acc.alert_counts().get_column("district_code")) == {SHUANGTA}
    assert acc.alerts(entity_id="E4") == []
    with pytest.raises(AccessDenied):
        acc.alerts(district=LONGCHENG)


def test_alert_actions_on_a_foreign_alert_are_refused(lake: Path, store: Store) -> None:
    acc = _access(lake, store, "shuangta")
    (foreign,) = store.list_alerts([LONGCHENG])
    fid, version = foreign["alert_id"], foreign["version"]
    attempts = [
        lambda: acc.alert(fid),
        lambda: acc.alert_history(fid),
        lambda: acc.assign_to_me(fid, version),
        lambda: acc.assign(fid, "longcheng", version),
        lambda: acc.set_status(fid, "in_review", version),
        lambda: acc.set_outcome(fid, "false_positive", version),
        lambda: acc.add_note(fid, "越权备注"),
    ]
    for attempt in attempts:
        with pytest.raises(AccessDenied):
            attempt()
    after = store.get_alert(fid)
    assert after is not None and after["version"] == version and after["assignee"] is None
    assert [e["action"] for e in store.history(fid)] == ["created"]


def test_workflow_through_the_access_layer(lake: Path, store: Store) -> None:
    acc = _access(lake, store, "shuangta")
    (alert,) = acc.alerts(entity_id="E1")
    alert = acc.assign_to_me(alert["alert_id"], alert["version"])
    assert alert["assignee"] == "shuangta"
    with pytest.raises(AccessDenied):  # the 龙城区 supervisor may not be given a 双塔区 alert
        acc.assign(alert["alert_id"], "longcheng", alert["version"])
    with pytest.raises(AccessDenied):  # a planner's role does not act on alerts
        acc.assign(alert["alert_id"], "planner", alert["version"])
    alert = acc.set_status(alert["alert_id"], "in_review", alert["version"], note="开始核查")
    acc.add_note(alert["alert_id"], "已约谈法定代表人")
    history = acc.alert_history(alert["alert_id"])
    assert [(e["username"], e["action"]) for e in history][-3:] == [
        ("shuangta", "assigned"),
        ("shuangta", "status"),
        ("shuangta", "note"),
    ]
    # roles without alert actions may read but not act
    viewer = _access(lake, store, "planner")
    assert viewer.alert(alert["alert_id"])["alert_id"] == alert["alert_id"]
    with pytest.raises(AccessDenied, match="只能查看"):
        viewer.add_note(alert["alert_id"], "x")


def test_a_city_wide_user_sees_every_district(lake: Path, store: Store) -> None:
    acc = _access(lake, store, "analyst")
    assert _districts(acc.scores()) == {SHUANGTA, LONGCHENG, BEIPIAO}
    assert len(acc.alerts()) == 3
    assert acc.related_parties("E1")["outside"] == 0


def test_missing_tables_give_empty_frames(tmp_path: Path, store: Store) -> None:
    bare = build_fake_lake(tmp_path / "bare", optional=False)
    acc = LakeAccess(bare, store.get_user("shuangta") or {}, store=store)
    assert acc.flags().is_empty() and acc.components().is_empty() and acc.plans().is_empty()
    assert acc.related_parties("E1")["members"].is_empty()
    assert acc.dq_report() is None and acc.dq_tables() == {} and acc.run_report() is None
    assert acc.plan_strata().is_empty()


def test_a_district_user_sees_nothing_when_rows_cannot_be_placed(tmp_path: Path, store: Store) -> None:
    lake = build_fake_lake(tmp_path / "nodistrict", optional=False)
    shutil.rmtree(lake / "resolve" / "entities")
    shutil.rmtree(lake / "score" / "scores")
    acc = LakeAccess(lake, store.get_user("shuangta") or {}, store=store)
    assert acc.links().is_empty() and acc.events().is_empty()  # fail closed


# ---------------------------------------------------------------- access layer: masking
@pytest.mark.parametrize("table", ["score/scores", "resolve/links"])
def test_a_read_made_while_a_job_swaps_the_partition_is_made_again(
    lake: Path, store: Store, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # readers take no lock: the files a reader listed just before a job swapped the partition are gone when it
    # opens them (polars: FileNotFoundError). The reader lists them, the job republishes, the reader opens them.
    import glob

    from radar.lake import Lake

    lk = Lake(lake).open(recover=False)
    new = lk.read_polars(table, AS_OF).head(2)
    fn = "scan_parquet" if table == "resolve/links" else "read_parquet"  # large tables are scanned
    real, calls = getattr(pl, fn), []

    def racing(source: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(source)
        if len(calls) == 1:
            listed = sorted(glob.glob(str(source)))
            lk.publish_pandas(new, table, AS_OF)
            return real(listed, *args, **kwargs)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pl, fn, racing)
    acc = _access(lake, store, "analyst")
    got = acc.links() if table == "resolve/links" else lk.read_polars(table, AS_OF)
    assert len(calls) == 2 and got.height == 2
    assert sorted(got["entity_id"].to_list()) == sorted(new["entity_id"].to_list())


def test_masking_helpers() -> None:
    assert mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧***"
    assert mask_id_no("211302199001011234") == "2113**********1234"
    assert mask_phone("13812345678") == "138****5678"
    text = "法定代表人张三，身份证号211302199001011234，电话13812345678；信用代码91211302MA0000001A"
    assert mask_text(text, ["张三"]) == (
        "法定代表人张*，身份证号2113**********1234，电话138****5678；信用代码91211302MA0000001A"
    )


@pytest.mark.parametrize(
    ("username", "masked"), [("analyst", True), ("planner", True), ("shuangta", False), ("admin", False)]
)
def test_personal_data_is_masked_by_role(lake: Path, store: Store, username: str, masked: bool) -> None:
    acc = _access(lake, store, username)
    assert acc.masked is masked
    ent = acc.entities().filter(pl.col("entity_id") == "E1").row(0, named=True)
    score = acc.scores().filter(pl.col("entity_id") == "E1").row(0, named=True)
    event = acc.events("E1").row(0, named=True)
    flags = acc.flags("E1")
    flag = json.loads(flags.filter(pl.col("flag") == "cross_region").row(0, named=True)["evidence"])
    phoenix = json.loads(flags.filter(pl.col("flag") == "phoenix").row(0, named=True)["evidence"])
    (alert,) = acc.alerts(entity_id="E1")
    if masked:
        assert (ent["legal_rep_name"], ent["legal_rep_id_no"], ent["phone"]) == (
            "张*",
            "2113**********1234",
            "138****5678",
        )
        assert score["legal_rep_name"] == "张*"
        assert "张三" not in event["detail"] and "211302199001011234" not in event["detail"]
        assert "13812345678" not in event["detail"] and "张*" in event["detail"]
        assert flag["shared_person"] == "张*" and flag["legal_rep_id_no"] == "2113**********1234"
        assert "张三" not in flag["note"]
        assert [p["via"]["label"] for p in phoenix] == ["张*", "042*****5375"]
        ev = alert["evidence"]
        assert (ev["legal_rep_name"], ev["legal_rep_id_no"], ev["phone"]) == (
            "张*",
            "2113**********1234",
            "138****5678",
        )
        assert "张三" not in ev["summary"]
        assert "张三" not in ev["records"][0]["detail"] and "13812345678" not in ev["records"][0]["detail"]
        assert ent["name"] == "朝阳双塔甲商贸有限公司"  # entity names are not personal data
    else:
        assert (ent["legal_rep_name"], ent["legal_rep_id_no"], ent["phone"]) == (
            "张三",
            "211302199001011234",
            "13812345678",
        )
        assert "张三" in event["detail"] and flag["shared_person"] == "张三"
        assert [p["via"]["label"] for p in phoenix] == ["张三", "0421-6425375"]
        assert alert["evidence"]["legal_rep_id_no"] == "211302199001011234"
    # notes in the audit trail are masked too
    store.add_note(alert["alert_id"], "已约谈张三，电话13812345678", "shuangta")
    note = acc.alert_history(alert["alert_id"])[-1]["note"]
    assert ("张三" in note) is not masked and ("13812345678" in note) is not masked
    # masking never changes the store
    stored = store.list_alerts()
    assert any(a["evidence"]["legal_rep_name"] == "张三" for a in stored)


def test_bad_dashboard_settings_name_the_file_and_key(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    good = (Path(__file__).resolve().parent.parent / "conf" / "dashboard.yaml").read_text(encoding="utf-8")
    (conf / "dashboard.yaml").write_text(
        good.replace("personal_data: masked", "personal_data: hidden", 1), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"dashboard.yaml: roles\.planner\.personal_data"):
        dashboard_settings(conf)
    (conf / "dashboard.yaml").write_text(good.replace("  analyst:\n", "  auditor:\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="missing roles: analyst"):
        dashboard_settings(conf)


# ---------------------------------------------------------------- the app (AppTest, headless)
@pytest.fixture
def app_env(lake: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RADAR_LAKE", str(lake))
    monkeypatch.delenv("RADAR_PROFILE", raising=False)
    return lake


def _app() -> Any:
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(APP), default_timeout=60)


def _login(at: Any, username: str, password: str = PASSWORD) -> Any:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "登录").click()
    return at.run()


def _texts(at: Any) -> str:
    parts = [
        e.value
        for kind in ("title", "markdown", "caption", "subheader", "info", "error", "warning")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def test_nothing_but_the_login_form_before_login(app_env: Path) -> None:
    at = _app().run()
    assert not at.exception
    assert [t.key for t in at.text_input] == ["login_username", "login_password"]
    assert [b.label for b in at.button] == ["登录"]
    assert not at.get("plotly_chart") and not at.dataframe and not at.metric and not at.sidebar.children
    assert "朝阳双塔甲商贸有限公司" not in _texts(at)
    # asking for a page directly still gives the login form
    at.switch_page("views/alerts.py").run()
    assert not at.dataframe and [t.key for t in at.text_input] == ["login_username", "login_password"]


def test_wrong_password_is_refused(app_env: Path) -> None:
    at = _login(_app().run(), "shuangta", "not-the-password")
    assert any("密码错误" in e.value for e in at.error)
    assert not at.get("plotly_chart") and at.session_state["login_password"] == ""


def test_overview_renders_the_grade_chart_after_login(app_env: Path) -> None:
    at = _login(_app().run(), "shuangta")
    assert not at.exception, at.exception
    (chart,) = at.get("plotly_chart")
    spec = json.dumps(json.loads(chart.proto.spec), ensure_ascii=False)
    assert "双塔区" in spec and "龙城区" not in spec and "北票市" not in spec
    assert at.title[0].value == "总览"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["主体总数"] == "3" and metrics["高风险"] == "1"
    # logout returns to the login form
    next(b for b in at.button if b.key == "logout").click()
    at.run()
    assert [t.key for t in at.text_input] == ["login_username", "login_password"]


def test_a_running_job_is_announced_and_a_dead_ones_file_is_not(app_env: Path) -> None:
    import os
    import socket
    import subprocess

    def holder(pid: int) -> None:
        (app_env / "_run.json").write_text(json.dumps({
            "command": "radar run --as-of 2024-07-31", "host": socket.gethostname(), "pid": pid,
            "started": "2024-08-01T02:00:00+00:00"}), encoding="utf-8")

    holder(os.getpid())
    at = _login(_app().run(), "shuangta")
    assert not at.exception, at.exception
    notice = " ".join(i.value for i in at.sidebar.info)
    assert "数据湖正在更新" in notice and "radar run --as-of 2024-07-31" in notice and "2024-08-01 02:00" in notice
    gone = subprocess.Popen(["true"])
    gone.wait()
    holder(gone.pid)
    at = _login(_app().run(), "shuangta")
    assert not at.exception and not at.sidebar.info


def test_idle_sessions_and_disabled_accounts_are_logged_out(app_env: Path, store: Store) -> None:
    from radar.dashboard import ui

    at = _login(_app().run(), "shuangta")
    assert at.get("plotly_chart")
    at.session_state[ui.SEEN_KEY] = time.time() - 31 * 60  # conf: session_timeout_minutes: 30
    at.run()
    assert [t.key for t in at.text_input] == ["login_username", "login_password"]
    assert any("自动退出" in i.value for i in at.info)

    at = _login(at, "shuangta")
    assert at.get("plotly_chart")
    store.set_active("shuangta", False)
    at.run()
    assert not at.get("plotly_chart") and [t.key for t in at.text_input] == [
        "login_username",
        "login_password",
    ]


def test_notebook_login(lake: Path, store: Store) -> None:
    acc = LakeAccess.login(lake, "shuangta", PASSWORD)
    assert _districts(acc.scores()) == {SHUANGTA}
    with pytest.raises(AccessDenied):
        LakeAccess.login(lake, "shuangta", "wrong-password")


def test_alerts_page_lists_only_the_users_district_and_actions_are_audited(
    app_env: Path, store: Store
) -> None:
    at = _login(_app().run(), "shuangta")
    at.switch_page("views/alerts.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert set(table["辖区"]) == {"双塔区"}
    assert set(table["主体名称"]) == {"朝阳双塔甲商贸有限公司", "双塔区乙小吃店"}
    assert "龙城丁建材有限公司" not in _texts(at)

    aid = at.selectbox(key="alert_pick").value
    assign = next(b for b in at.button if b.key == f"assign_me_{aid}")
    assign.click()
    at.run()
    assert not at.exception, at.exception
    assert any("已指派给您" in s.value for s in at.success)
    events = store.history(aid)
    assert (events[-1]["username"], events[-1]["action"], events[-1]["to_value"]) == (
        "shuangta",
        "assigned",
        "shuangta",
    )
    trail = at.dataframe[-1].value  # the audit trail is the last table on the page
    assert "指派" in set(trail["操作"])

    # an alert whose evidence names its records by key: they are looked up in the lake
    other = next(a for a in store.list_alerts([SHUANGTA]) if a["entity_id"] == "E2")["alert_id"]
    at.selectbox(key="alert_pick").select(other).run()
    assert not at.exception, at.exception
    assert any("P-E2" in set(df.value.get("记录编号", [])) for df in at.dataframe)
    at.selectbox(key="alert_pick").select(aid).run()

    # move it to review through the status form
    next(b for b in at.button if b.label == "提交状态变更").click()
    at.run()
    assert store.get_alert(aid)["status"] == "in_review"
    assert store.history(aid)[-1]["action"] == "status"


def test_a_stale_edit_in_the_app_is_refused_with_a_message(app_env: Path, store: Store) -> None:
    at = _login(_app().run(), "shuangta")
    at.switch_page("views/alerts.py").run()
    aid = at.selectbox(key="alert_pick").value
    seen = store.get_alert(aid)
    store.assign(aid, "shuangta", "admin", seen["version"])  # someone else acts meanwhile
    store.assign(aid, None, "admin", seen["version"] + 1)
    next(b for b in at.button if b.key == f"assign_me_{aid}").click()
    at.run()
    assert any("刷新" in e.value for e in at.error)
    assert store.get_alert(aid)["assignee"] is None


def test_every_page_renders_for_every_role(app_env: Path) -> None:
    pages = ["overview", "alerts", "entity", "plans", "quality", "models", "review"]
    for username in ("shuangta", "planner", "analyst", "admin"):
        at = _login(_app().run(), username)
        for page in pages:
            try:
                at.switch_page(f"views/{page}.py").run()
            except ValueError:  # not among the role's pages
                assert username == "planner" and page in ("models", "review")
                continue
            assert not at.exception, (username, page, at.exception)


def test_quality_page_shows_late_publication_or_not_applicable(app_env: Path) -> None:
    """A record type with no publication date shows 不适用 for late publication, not a misleading 0."""
    at = _login(_app().run(), "admin")
    at.switch_page("views/quality.py").run()
    assert not at.exception, at.exception
    by_type = next(d.value for d in at.dataframe if "记录类型" in d.value.columns and "文件数" in d.value.columns)
    late = dict(zip(by_type["记录类型"], zip(by_type["逾期公示"], by_type["逾期公示率"], strict=True), strict=True))
    assert late == {source_label("penalty"): ("4", "4.12"), source_label("complaint"): ("不适用", "不适用")}


def test_entity_page_shows_grade_reasons_and_masks_by_role(app_env: Path) -> None:
    at = _login(_app().run(), "analyst")
    at.switch_page("views/entity.py").run()
    at.text_input(key="entity_query").input("甲商贸").run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "朝阳双塔甲商贸有限公司" in text and "张*" in text and "张三" not in text
    assert "近一年行政处罚3次" in text
    assert any(m.label == "信用风险等级" and m.value.startswith("D") for m in at.metric)


def test_entity_page_shows_the_anomaly_score(app_env: Path) -> None:
    at = _login(_app().run(), "shuangta")
    at.switch_page("views/entity.py").run()
    at.text_input(key="entity_query").input("甲商贸").run()
    assert not at.exception, at.exception
    assert any(m.label == "异常度" and m.value == "0.875" for m in at.metric)


def test_drift_and_operations_alerts_through_the_access_layer(lake: Path, store: Store) -> None:
    store.raise_operations_alert(
        "drift", AS_OF, "medium", "1/2 个模型特征分布较训练数据发生漂移",
        {"drifted": [{"kind": "feature", "feature": "penalty_count_365d", "psi": 0.41, "threshold": 0.25,
                      "n_reference": 4000, "n_current": 6}]}, "radar-risk", "3",
    )
    acc = _access(lake, store, "shuangta")  # district users see the city-wide system figures too
    drift = acc.drift()
    assert drift["feature"].to_list()[0] == "penalty_count_365d" and drift["drifted"].to_list() == [True, False, False]
    (alert,) = acc.operations_alerts()
    assert alert["status"] == "open"
    with pytest.raises(AccessDenied):
        _access(lake, store, "analyst").acknowledge_operations_alert(alert["id"])
    assert acc.acknowledge_operations_alert(alert["id"])["acknowledged_by"] == "shuangta"
    assert store.list_alerts(districts=None)  # the entity alerts are untouched


def test_models_page_shows_operations_alerts_and_the_drift_checks(app_env: Path, store: Store) -> None:
    store.raise_operations_alert(
        "drift", AS_OF, "medium", "1/2 个模型特征分布较训练数据发生漂移",
        {"drifted": [{"kind": "feature", "feature": "penalty_count_365d", "psi": 0.41, "threshold": 0.25,
                      "n_reference": 4000, "n_current": 6}]}, "radar-risk", "3",
    )
    at = _login(_app().run(), "admin")
    at.switch_page("views/models.py").run()
    assert not at.exception, at.exception
    assert "运维预警" in _texts(at)
    assert any("1/2 个模型特征分布较训练数据发生漂移" in e.label for e in at.expander)
    tables = [d.value for d in at.dataframe]
    assert any("PSI" in t.columns and "近1年行政处罚次数" in set(t["特征"]) for t in tables)


def test_plans_page_offers_a_csv_of_the_jurisdictions_draws(app_env: Path) -> None:
    at = _login(_app().run(), "shuangta")
    at.switch_page("views/plans.py").run()
    assert not at.exception, at.exception
    names = set(at.dataframe[1].value["主体名称"])
    assert names == {"朝阳双塔甲商贸有限公司", "朝阳丙科技有限公司"}
    assert any(m.label == "随机种子" and m.value == "20240630" for m in at.metric)
    assert at.get("download_button")


def test_pages_show_a_notice_when_optional_tables_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = build_fake_lake(tmp_path / "bare", optional=False)
    with Store(f"sqlite:///{bare}/store.db") as s:
        s.add_user("shuangta", PASSWORD, "supervisor", [SHUANGTA])
    monkeypatch.setenv("RADAR_LAKE", str(bare))
    at = _login(_app().run(), "shuangta")
    for page in ("plans", "quality", "models", "alerts"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, at.exception)
        assert at.info, page
    at.switch_page("views/entity.py").run()
    at.text_input(key="entity_query").input("甲商贸").run()
    assert not at.exception and any("关联图谱" in i.value for i in at.info)


# ---------------------------------------------------------------- match reviews (待复核匹配)
def _add_reviews(store: Store) -> dict[str, str]:
    """Three uncertain matches as a resolve run queues them: two in 双塔区, one in 龙城区; review ids by name."""
    by_id = {e[0]: e for e in ENTITIES}
    evidence = [{"label": "名称相似度", "contribution": 2.1}, {"label": "地址一致", "contribution": -0.4}]
    rows = []
    for key, name, address, eid, p in (
        ("P-R1", "双塔甲商贸", "双塔区某路1号，电话13812345678", "E1", 0.71),
        ("C-R2", "李四", "双塔区某路2号", "E2", 0.62),
        ("C-R3", "龙城丁建材", "龙城区某路4号", "E4", 0.83),
    ):
        _, uscc, ename, district, *_rest = by_id[eid]
        rows.append({"source_type": "penalty" if key.startswith("P") else "complaint", "record_key": key,
                     "entity_id": eid, "probability": p, "record_name": name, "record_address": address,
                     "entity_name": ename, "entity_uscc": uscc, "district_code": district,
                     "entity_address": f"朝阳市{DISTRICT_NAMES[district]}某路1号", "evidence": evidence})  # fmt: skip
    store.upsert_match_reviews(rows, AS_OF)
    return {r["record_key"]: r["review_id"] for r in store.list_match_reviews()}


def test_match_reviews_are_scoped_masked_and_decided_by_allowed_roles(lake: Path, store: Store) -> None:
    ids = _add_reviews(store)
    shuangta = _access(lake, store, "shuangta")
    assert {r["record_key"] for r in shuangta.match_reviews()} == {"P-R1", "C-R2"}
    with pytest.raises(AccessDenied):
        shuangta.match_reviews(district=LONGCHENG)
    with pytest.raises(AccessDenied):
        shuangta.match_review(ids["C-R3"])
    with pytest.raises(AccessDenied):
        shuangta.decide_match(ids["C-R3"], "accepted")
    assert store.get_match_review(ids["C-R3"])["status"] == "pending"
    assert shuangta.match_review_counts() == {"pending": 2}

    analyst = _access(lake, store, "analyst")  # city-wide, masked, may not decide
    seen = {r["record_key"]: r for r in analyst.match_reviews()}
    assert set(seen) == {"P-R1", "C-R2", "C-R3"}
    assert seen["C-R2"]["record_name"] == "李*"  # an operator's name: personal data
    assert "13812345678" not in seen["P-R1"]["record_address"] and "138****5678" in seen["P-R1"]["record_address"]
    assert seen["P-R1"]["record_name"] == "双塔甲商贸"
    # filters, applied by the store: one record type (most likely first), the likelier proposals only
    assert [r["record_key"] for r in analyst.match_reviews(source_type="complaint")] == ["C-R3", "C-R2"]
    assert [r["record_key"] for r in analyst.match_reviews(min_probability=0.7)] == ["C-R3", "P-R1"]
    assert [r["record_key"] for r in shuangta.match_reviews(source_type="complaint", min_probability=0.7)] == []
    assert analyst.match_review_types() == {"complaint": 2, "penalty": 1}
    assert shuangta.match_review_types() == {"complaint": 1, "penalty": 1}
    with pytest.raises(AccessDenied):
        analyst.decide_match(ids["P-R1"], "accepted")

    done = shuangta.decide_match(ids["P-R1"], "accepted", "名称与地址一致")
    assert (done["status"], done["decided_by"], done["note"]) == ("accepted", "shuangta", "名称与地址一致")
    assert done["decided_at"] is not None
    assert {"source_type": "penalty", "record_key": "P-R1", "entity_id": "E1", "decision": "accepted"} in (
        store.match_decisions()
    )
    assert {r["record_key"] for r in shuangta.match_reviews()} == {"C-R2"}
    assert [r["record_key"] for r in shuangta.match_reviews(status="accepted")] == ["P-R1"]


def test_review_page_lists_the_jurisdictions_queue_and_stores_a_decision(app_env: Path, store: Store) -> None:
    ids = _add_reviews(store)
    at = _login(_app().run(), "shuangta")
    at.switch_page("views/review.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "待复核匹配"
    table = at.dataframe[0].value
    assert set(table["记录编号"]) == {"P-R1", "C-R2"} and set(table["辖区"]) == {"双塔区"}
    assert "龙城丁建材" not in _texts(at)
    assert at.selectbox(key="review_pick").value == ids["P-R1"]  # most likely first
    text = _texts(at)
    assert "朝阳双塔甲商贸有限公司" in text and "双塔区某路1号" in text and "91211302MA0000001A" in text
    assert any("名称相似度" in set(d.value.get("依据", [])) for d in at.dataframe)
    assert any(m.label == "匹配概率" and m.value == "0.710" for m in at.metric)

    at.selectbox(key="review_pick").select(ids["C-R2"]).run()
    at.text_input(key=f"review_note_{ids['C-R2']}").input("经营者与投诉对象不符")
    next(b for b in at.button if b.key == f"review_reject_{ids['C-R2']}").click()
    at.run()
    assert not at.exception, at.exception
    assert any("不是同一主体" in s.value for s in at.success)
    r = store.get_match_review(ids["C-R2"])
    assert (r["status"], r["decided_by"], r["note"]) == ("rejected", "shuangta", "经营者与投诉对象不符")
    assert set(at.dataframe[0].value["记录编号"]) == {"P-R1"}


def test_reviews_of_the_same_name_and_entity_are_shown_together(app_env: Path, store: Store) -> None:
    ids = _add_reviews(store)
    shuangta = _access(app_env, store, "shuangta")
    assert shuangta.related_match_reviews(ids["C-R2"]) == []  # no other record of that name
    shuangta.decide_match(ids["P-R1"], "accepted")
    # the next month's run proposes the same entity for another record of P-R1's name
    row = {"source_type": "complaint", "record_key": "C-R5", "entity_id": "E1", "probability": 0.55,
           "record_name": "双塔甲商贸", "record_address": "双塔区某路9号", "district_code": SHUANGTA}
    store.upsert_match_reviews([row], "2024-07-31")
    r5 = next(r["review_id"] for r in store.list_match_reviews() if r["record_key"] == "C-R5")
    assert [r["record_key"] for r in shuangta.related_match_reviews(r5)] == ["P-R1"]
    assert [r["record_key"] for r in shuangta.related_match_reviews(ids["P-R1"])] == ["C-R5"]
    with pytest.raises(AccessDenied):
        _access(app_env, store, "longcheng").related_match_reviews(r5)

    at = _login(_app().run(), "shuangta")
    at.switch_page("views/review.py").run()
    at.selectbox(key="review_pick").select(r5).run()
    assert not at.exception, at.exception
    assert any("同名记录的其他复核任务" in m.value for m in at.markdown)
    others = next(d.value for d in at.dataframe if "状态" in d.value.columns)
    assert list(others["记录编号"]) == ["P-R1"] and list(others["状态"]) == ["确认为同一主体"]


def test_review_page_filters_by_record_type_and_probability(app_env: Path, store: Store) -> None:
    _add_reviews(store)
    at = _login(_app().run(), "admin")
    at.switch_page("views/review.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="review_type").options == ["全部", "12315投诉举报（2）", "行政处罚（1）"]
    at.selectbox(key="review_type").select("complaint").run()
    assert list(at.dataframe[0].value["记录编号"]) == ["C-R3", "C-R2"]
    at.number_input(key="review_min_p").set_value(0.7).run()
    assert not at.exception, at.exception
    assert list(at.dataframe[0].value["记录编号"]) == ["C-R3"]
    at.number_input(key="review_min_p").set_value(0.9).run()
    assert any("没有符合条件" in i.value or "暂无待复核" in i.value for i in at.info)


def test_review_page_is_read_only_and_masked_for_analysts(app_env: Path, store: Store) -> None:
    _add_reviews(store)
    at = _login(_app().run(), "analyst")
    at.switch_page("views/review.py").run()
    assert not at.exception, at.exception
    assert set(at.dataframe[0].value["记录编号"]) == {"P-R1", "C-R2", "C-R3"}
    assert "李*" in set(at.dataframe[0].value["记录名称"]) and "李四" not in set(at.dataframe[0].value["记录名称"])
    assert not [b for b in at.button if (b.key or "").startswith("review_")]
    assert "只能查看" in _texts(at)


def test_review_page_without_reviews_shows_a_notice(app_env: Path) -> None:
    at = _login(_app().run(), "admin")
    at.switch_page("views/review.py").run()
    assert not at.exception, at.exception
    assert any("暂无待复核" in i.value for i in at.info)


# ---------------------------------------------------------------- launching
def test_launch_command_binds_to_localhost_only(lake: Path) -> None:
    from radar.dashboard.launch import command

    cmd = command(lake, 8600)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"
    assert cmd[-2:] == ["--lake", str(lake.resolve())]


def test_serve_refuses_a_lake_without_users(tmp_path: Path) -> None:
    from radar.dashboard.launch import serve
    from radar.errors import RadarError

    with pytest.raises(RadarError, match="radar users add"):
        serve(build_fake_lake(tmp_path), port=8600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_browser_smoke(app_env: Path) -> None:
    """Optional: log in through a real browser (Playwright with Debian's chromium)."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip("no chromium installed (apt install chromium) for the browser smoke test")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) is not installed")
    from radar.dashboard.launch import command

    port = _free_port()
    proc = subprocess.Popen(
        command(app_env, port), env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}")
            page.get_by_label("用户名").fill("shuangta")
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.get_by_text("各辖区信用风险等级分布").wait_for(timeout=30_000)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
