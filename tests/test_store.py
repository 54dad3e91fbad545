"""The alert store: migrations, deduplicating upserts, the workflow with optimistic locking, audit, users."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from radar.errors import RadarError
from radar.store import (
    AlertNotFound,
    StaleVersionError,
    Store,
    StoreError,
    TransitionError,
    alert_id_for,
    create_demo_users,
)
from radar.store.migrate import VERSION_TABLE, enable_wal, head_revision
from radar.store.models import Base
from radar.store.store import add_working_days

DUE = {"high": 5, "medium": 15, "low": 30}


def _row(entity_id: str = "E1", rule: str = "grade_d", **extra: Any) -> dict[str, Any]:
    row = {
        "entity_id": entity_id,
        "rule": rule,
        "severity": "high",
        "uscc": "91211302MA0000001A",
        "name": "朝阳双塔甲商贸有限公司",
        "district_code": "211302",
        "risk_score": 0.91,
        "grade": "D",
        "title": "评为D级：朝阳双塔甲商贸有限公司",
        "evidence": {"reasons": [{"label": "近一年行政处罚次数", "value": 3}], "record_keys": ["P-1"]},
    }
    return row | extra


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    # the production cost (12) makes each hash take ~0.3 s; the algorithm under test is the same
    monkeypatch.setattr("radar.store.store.BCRYPT_ROUNDS", 4)


PG_URL_ENV = "RADAR_TEST_PG_URL"  # e.g. postgresql+psycopg://postgres@127.0.0.1:5432/radar_test (emptied!)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, and PostgreSQL when $RADAR_TEST_PG_URL names one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fresh/store.db"
    pg = os.environ.get(PG_URL_ENV)
    if not pg:
        pytest.skip(f"set {PG_URL_ENV} to also test on PostgreSQL")
    from sqlalchemy import create_engine

    engine = create_engine(pg)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return pg


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url)
    s.add_user("zhang", "correct-horse", "supervisor", ["211302"], "张科长")
    s.add_user("li", "battery-staple", "supervisor", ["211302"], "李科员")
    yield s
    s.close()


def _open(store: Store) -> dict[str, Any]:
    (alert,) = store.list_alerts(status=["new", "in_review"])
    return alert


# ---------------------------------------------------------------- migrations
def test_migrations_apply_on_a_fresh_database_and_reopen_is_a_no_op(url: str) -> None:
    first = Store(url)
    tables = set(inspect(first.engine).get_table_names())
    assert {"alerts", "alert_events", "model_history", "users", VERSION_TABLE} <= tables
    first.add_user("zhang", "correct-horse", "supervisor")
    first.close()

    again = Store(url)  # re-open: migrations already at head, data kept
    with again.engine.connect() as conn:
        assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one() == head_revision()
    assert again.get_user("zhang") is not None
    again.close()


def test_a_schema_from_a_newer_radar_is_refused_clearly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    Store(url).close()
    s = Store(url, migrate=False)
    with s.engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    s.close()
    with pytest.raises(RadarError, match="newer radar"):
        Store(url)


def test_models_and_migrations_agree(store: Store) -> None:
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []


_OPEN_AND_UPSERT = """
import sys
from radar.store import Store
s = Store(sys.argv[1])
s.upsert_alerts([{"entity_id": "E1", "rule": "grade_d", "severity": "high"}], "2024-06-30", due_days={"high": 5})
print(len(s.list_alerts()))
"""


def test_several_processes_can_open_a_fresh_database_at_once(url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AND_UPSERT, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in results]
    assert [out.strip() for out, _ in results] == ["1"] * 6


class _Cursor:
    """A cursor whose first ``locked`` statements fail as SQLite fails a contended switch to WAL."""

    def __init__(self, locked: int, message: str = "database is locked") -> None:
        self.locked, self.message, self.calls = locked, message, 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.locked:
            raise sqlite3.OperationalError(self.message)


def test_switch_to_wal_waits_for_a_locked_file() -> None:
    """Another process switching a fresh file at the same moment locks it briefly: the switch is tried again
    (SQLite's busy timeout does not cover it), and gives up with SQLite's error only after the timeout."""
    cur = _Cursor(locked=3)
    enable_wal(cur, timeout_s=5)
    assert cur.calls == 4
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        enable_wal(_Cursor(locked=10**6), timeout_s=0.1)
    other = _Cursor(locked=1, message="disk I/O error")  # not a lock: no retry
    with pytest.raises(sqlite3.OperationalError, match="disk"):
        enable_wal(other, timeout_s=5)
    assert other.calls == 1


# ---------------------------------------------------------------- upserts
def test_upsert_is_idempotent(store: Store) -> None:
    rows = [_row("E1"), _row("E2", "complaint_surge", severity="medium"), _row("E1")]
    first = store.upsert_alerts(rows, "2024-06-30", due_days=DUE)
    assert first == {"inserted": 2, "reraised": 0, "updated": 0, "unchanged": 0, "duplicates": 1}
    before = {a["alert_id"]: a for a in store.list_alerts()}
    second = store.upsert_alerts(rows, "2024-06-30", due_days=DUE)
    assert second == {"inserted": 0, "reraised": 0, "updated": 0, "unchanged": 2, "duplicates": 1}
    after = {a["alert_id"]: a for a in store.list_alerts()}
    assert after == before
    assert set(after) == {
        alert_id_for("E1", "grade_d", "2024-06-30"),
        alert_id_for("E2", "complaint_surge", "2024-06-30"),
    }
    assert all(len(store.history(i)) == 1 for i in after)  # one "created" each, nothing more


def test_later_run_reraises_the_open_alert(store: Store) -> None:
    store.upsert_alerts([_row()], "2024-06-30", due_days=DUE)
    new_evidence = {"reasons": [{"label": "近一年行政处罚次数", "value": 4}], "record_keys": ["P-1", "P-2"]}
    counts = store.upsert_alerts([_row(evidence=new_evidence, risk_score=0.95)], "2024-07-31", due_days=DUE)
    assert counts["reraised"] == 1 and counts["inserted"] == 0
    alert = _open(store)
    assert (alert["first_as_of"], alert["last_as_of"]) == ("2024-06-30", "2024-07-31")
    assert alert["evidence"] == new_evidence and alert["risk_score"] == 0.95
    actions = [(e["action"], e["from_value"], e["to_value"]) for e in store.history(alert["alert_id"])]
    assert actions == [("created", None, "2024-06-30"), ("reraised", "2024-06-30", "2024-07-31")]
    # replaying the older run changes nothing
    assert store.upsert_alerts([_row()], "2024-06-30", due_days=DUE)["unchanged"] == 1
    assert _open(store)["last_as_of"] == "2024-07-31"


def test_closed_alert_reappearing_in_a_later_run_opens_a_new_alert(store: Store) -> None:
    store.upsert_alerts([_row()], "2024-06-30", due_days=DUE)
    a = _open(store)
    a = store.set_status(a["alert_id"], "in_review", "zhang", a["version"])
    store.set_status(a["alert_id"], "closed", "zhang", a["version"], outcome="false_positive")
    # the same run again: its condition was already decided
    assert store.upsert_alerts([_row()], "2024-06-30", due_days=DUE)["unchanged"] == 1
    assert store.list_alerts(status="new") == []
    # a later run: a fresh alert, pointing back to the closed one
    assert store.upsert_alerts([_row()], "2024-07-31", due_days=DUE)["inserted"] == 1
    fresh = _open(store)
    assert fresh["alert_id"] == alert_id_for("E1", "grade_d", "2024-07-31") != a["alert_id"]
    assert fresh["status"] == "new" and fresh["outcome"] is None
    assert a["alert_id"] in (store.history(fresh["alert_id"])[0]["note"] or "")
    assert len(store.list_alerts()) == 2


def _review(key: str, eid: str, p: float = 0.6) -> dict[str, Any]:
    return {"source_type": "complaint", "record_key": key, "entity_id": eid, "probability": p,
            "record_name": "金鼎通讯部", "district_code": "211302"}


def test_match_reviews_follow_the_runs_that_propose_them(store: Store) -> None:
    """A pair is pending while runs propose it; a decision outlives later runs; a pair the newest run (of a
    later date, or the same date again under another policy) no longer proposes becomes obsolete, while a
    replayed older run leaves the newer run's pairs alone."""
    rows = [_review("C1", "E1"), _review("C2", "E2"), _review("C3", "E3")]
    assert store.upsert_match_reviews(rows, "2024-06-30")["inserted"] == 3
    assert store.upsert_match_reviews(rows, "2024-06-30")["unchanged"] == 3
    ids = {r["record_key"]: r["review_id"] for r in store.list_match_reviews()}
    store.decide_match(ids["C1"], "accepted", "zhang")
    # the same date re-run under another policy proposes C1 and C2 only (C3 was linked automatically)
    counts = store.upsert_match_reviews(rows[:2], "2024-06-30")
    assert (counts["decided"], counts["unchanged"], counts["obsoleted"]) == (1, 1, 1)
    assert store.get_match_review(ids["C3"])["status"] == "obsolete"
    with pytest.raises(StoreError, match="已失效"):
        store.decide_match(ids["C3"], "accepted", "zhang")
    # a later run proposes C3 again (and a changed probability for C2): pending again, refreshed
    counts = store.upsert_match_reviews([_review("C2", "E2", 0.65), rows[2]], "2024-07-31")
    assert (counts["refreshed"], counts["obsoleted"]) == (2, 0)
    assert {r["record_key"] for r in store.list_match_reviews()} == {"C2", "C3"}
    assert store.get_match_review(ids["C2"])["probability"] == 0.65
    # replaying the June run: the July run's pairs stay pending, the decision stays
    counts = store.upsert_match_reviews(rows[:1], "2024-06-30")
    assert (counts["decided"], counts["obsoleted"]) == (1, 0)
    assert {r["record_key"] for r in store.list_match_reviews()} == {"C2", "C3"}
    assert store.match_decisions() == [
        {"source_type": "complaint", "record_key": "C1", "entity_id": "E1", "decision": "accepted"}
    ]


def test_match_review_filters_counts_and_related_reviews(store: Store) -> None:
    """The review queue's filters and counts are applied in the query; the reviews related to one are those of
    the same record name and entity, decided first, never obsolete ones."""
    rows = [_review("C1", "E1", 0.68), _review("C2", "E1", 0.41), _review("C3", "E2", 0.55),
            {**_review("P4", "E1", 0.62), "source_type": "penalty"}, {**_review("C5", "E1"), "record_name": "金鼎"}]
    store.upsert_match_reviews(rows, "2024-06-30")
    ids = {r["record_key"]: r["review_id"] for r in store.list_match_reviews()}
    assert [r["record_key"] for r in store.list_match_reviews(source_types=["complaint"], min_probability=0.5)] == [
        "C1", "C5", "C3"]
    assert store.review_counts_by_type() == {"complaint": 4, "penalty": 1}
    store.decide_match(ids["C2"], "rejected", "zhang")
    assert store.review_counts_by_type(status="rejected") == {"complaint": 1}
    assert [r["record_key"] for r in store.related_match_reviews(ids["C1"])] == ["C2", "P4"]
    store.upsert_match_reviews(rows[:3], "2024-07-31")  # P4 and C5 are no longer proposed: obsolete
    assert [r["record_key"] for r in store.related_match_reviews(ids["C1"])] == ["C2"]
    assert store.related_match_reviews("no-such-review") == []


def test_upsert_checks_rows_and_sets_deadlines(store: Store) -> None:
    with pytest.raises(StoreError, match="severity"):
        store.upsert_alerts([_row(severity="urgent")], "2024-06-30", due_days=DUE)
    with pytest.raises(StoreError, match="as_of"):
        store.upsert_alerts([_row()], "30/06/2024", due_days=DUE)
    store.upsert_alerts([_row(due_date="2024-07-10")], "2024-06-30", due_days=DUE)
    assert str(_open(store)["due_date"]) == "2024-07-10"
    from datetime import date

    assert add_working_days(date(2024, 6, 28), 5) == date(2024, 7, 5)  # Friday + 5 working days


# ---------------------------------------------------------------- workflow
def test_transition_rules(store: Store) -> None:
    store.upsert_alerts([_row()], "2024-06-30", due_days=DUE)
    a = _open(store)
    aid = a["alert_id"]
    with pytest.raises(TransitionError, match="待处理"):
        store.set_status(aid, "closed", "zhang", a["version"], outcome="confirmed_risk")  # new -> closed
    with pytest.raises(TransitionError):
        store.set_outcome(aid, "confirmed_risk", "zhang", a["version"])  # only under review
    a = store.set_status(aid, "in_review", "zhang", a["version"])
    with pytest.raises(TransitionError, match="处理结论"):
        store.set_status(aid, "closed", "zhang", a["version"])  # closing needs an outcome
    a = store.set_outcome(aid, "referred", "zhang", a["version"], note="移交税务部门")
    a = store.set_status(aid, "closed", "zhang", a["version"])
    assert (a["status"], a["outcome"]) == ("closed", "referred")
    with pytest.raises(TransitionError):
        store.assign(aid, "li", "zhang", a["version"])  # no assigning a closed alert
    with pytest.raises(TransitionError, match="说明"):
        store.set_status(aid, "in_review", "zhang", a["version"])  # reopening needs a note
    a = store.set_status(aid, "in_review", "zhang", a["version"], note="企业提出异议，重新核查")
    assert (a["status"], a["outcome"]) == ("in_review", None)
    with pytest.raises(TransitionError):
        store.set_status(aid, "new", "zhang", a["version"])
    with pytest.raises(AlertNotFound):
        store.set_status("no-such-alert", "in_review", "zhang", 1)


def test_stale_version_is_refused(store: Store) -> None:
    store.upsert_alerts([_row()], "2024-06-30", due_days=DUE)
    seen = _open(store)  # both supervisors open the same alert
    store.assign(seen["alert_id"], "zhang", "zhang", seen["version"])
    with pytest.raises(StaleVersionError, match="刷新") as err:
        store.set_status(seen["alert_id"], "in_review", "li", seen["version"])
    assert "zhang" in str(err.value)
    current = _open(store)
    assert current["status"] == "new" and current["assignee"] == "zhang"
    assert current["version"] == seen["version"] + 1
    # a reraise by a later run also invalidates what the supervisor saw
    store.upsert_alerts([_row(risk_score=0.99)], "2024-07-31", due_days=DUE)
    with pytest.raises(StaleVersionError):
        store.set_status(current["alert_id"], "in_review", "zhang", current["version"])


def test_every_change_writes_an_audit_row(store: Store) -> None:
    store.upsert_alerts([_row()], "2024-06-30", due_days=DUE)
    a = _open(store)
    aid = a["alert_id"]
    a = store.assign(aid, "zhang", "zhang", a["version"])
    a = store.set_status(aid, "in_review", "zhang", a["version"], note="开始核查")
    store.add_note(aid, "已电话联系企业", "zhang")
    a = store.get_alert(aid)
    assert a is not None
    a = store.set_status(aid, "closed", "zhang", a["version"], outcome="confirmed_risk", note="现场检查属实")
    trail = [
        (e["username"], e["action"], e["from_value"], e["to_value"], e["note"]) for e in store.history(aid)
    ]
    assert trail == [
        ("system", "created", None, "2024-06-30", None),
        ("zhang", "assigned", None, "zhang", None),
        ("zhang", "status", "new", "in_review", "开始核查"),
        ("zhang", "note", None, None, "已电话联系企业"),
        ("zhang", "outcome", None, "confirmed_risk", None),
        ("zhang", "status", "in_review", "closed", "现场检查属实"),
    ]
    # a refused change leaves no trace
    with pytest.raises(StaleVersionError):
        store.set_status(aid, "in_review", "zhang", 1, note="x")
    assert len(store.history(aid)) == len(trail)
    with pytest.raises(StoreError):
        store.assign(aid, "nobody", "zhang", a["version"])


def test_list_alerts_filters_by_district(store: Store) -> None:
    store.upsert_alerts(
        [
            _row("E1"),
            _row("E4", district_code="211303"),
            _row("E9", "grade_up", severity="medium", district_code="211381"),
        ],
        "2024-06-30",
        due_days=DUE,
    )
    assert {a["entity_id"] for a in store.list_alerts(["211302"])} == {"E1"}
    assert {a["entity_id"] for a in store.list_alerts(["211302", "211303"])} == {"E1", "E4"}
    assert len(store.list_alerts(None)) == 3 and len(store.list_alerts([])) == 3
    assert {a["entity_id"] for a in store.list_alerts(severity="medium")} == {"E9"}
    counts = store.alert_counts(["211303"])
    assert counts == [
        {"district_code": "211303", "rule": "grade_d", "status": "new", "severity": "high", "count": 1}
    ]


# ---------------------------------------------------------------- model history
def test_model_history(store: Store) -> None:
    store.record_model_event("radar-risk", 1, "registered", metrics={"auc": 0.71})
    store.record_model_event("radar-risk", 1, "promoted", "首个模型", champion_before=None, champion_after=1)
    store.record_model_event("radar-risk", 2, "refused", "验证集AUC低于冠军", {"auc": 0.69}, 1, 1)
    history = store.model_history()
    assert [e["action"] for e in history] == ["refused", "promoted", "registered"]
    assert history[0]["metrics"] == {"auc": 0.69} and history[0]["champion_after"] == "1"
    with pytest.raises(StoreError):
        store.record_model_event("radar-risk", 3, "deployed")


# ---------------------------------------------------------------- users
def test_authentication(store: Store) -> None:
    user = store.authenticate("zhang", "correct-horse")
    assert user is not None and user["role"] == "supervisor" and user["districts"] == ["211302"]
    assert "password_hash" not in user
    assert store.authenticate("zhang", "wrong-password") is None
    assert store.authenticate("nobody", "correct-horse") is None
    assert store.authenticate("zhang", "") is None
    assert store.authenticate("zhang", "x" * 100) is None  # longer than bcrypt reads: refused, no error
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE username = 'zhang'")).scalar_one()
    assert "correct-horse" not in stored and stored.startswith("$2")
    store.set_active("zhang", False)
    assert store.authenticate("zhang", "correct-horse") is None
    store.set_active("zhang", True)
    store.set_password("zhang", "new-password-1")
    assert store.authenticate("zhang", "correct-horse") is None
    assert store.authenticate("zhang", "new-password-1") is not None


def test_add_user_validates(store: Store) -> None:
    with pytest.raises(StoreError, match="already exists"):
        store.add_user("zhang", "another-pass", "supervisor")
    with pytest.raises(StoreError, match="role"):
        store.add_user("wang", "another-pass", "boss")
    with pytest.raises(StoreError, match="8"):
        store.add_user("wang", "short", "analyst")
    with pytest.raises(StoreError, match="6 digits"):
        store.add_user("wang", "another-pass", "analyst", ["双塔区"])
    u = store.add_user("wang", "another-pass", "analyst", "211302, 211303")
    assert u["districts"] == ["211302", "211303"]
    assert store.add_user("chen", "another-pass", "admin")["districts"] == []


def test_demo_users_get_fresh_random_passwords(store: Store) -> None:
    first = create_demo_users(store)
    assert {u["role"] for u in first} == {"admin", "supervisor", "planner", "analyst"}
    for u in first:
        assert store.authenticate(u["username"], u["password"]) is not None
    again = create_demo_users(store)
    for old, new in zip(first, again, strict=True):
        assert old["password"] != new["password"]
        assert store.authenticate(new["username"], old["password"]) is None


# ---------------------------------------------------------------- operations alerts
def test_operations_alerts_are_one_per_kind_and_date_and_leave_entity_alerts_alone(store: Store) -> None:
    details = {"drifted": ["penalty_count_365d"], "score": {"psi": 0.02}}
    first = store.raise_operations_alert("drift", "2024-06-30", "medium", "1 个特征漂移", details, "radar-risk", 3)
    assert first["status"] == "open" and first["details"] == details and first["model_version"] == "3"
    again = store.raise_operations_alert("drift", "2024-06-30", "medium", "1 个特征漂移", details, "radar-risk", 3)
    assert again["id"] == first["id"] and len(store.operations_alerts()) == 1  # a re-run refreshes, no duplicate
    seen = store.acknowledge_operations_alert(first["id"], "zhang")
    assert seen["status"] == "acknowledged" and seen["acknowledged_by"] == "zhang"
    # the same finding stays acknowledged; a different one reopens it
    assert store.raise_operations_alert("drift", "2024-06-30", "medium", "1 个特征漂移", details,
                                        "radar-risk", 3)["status"] == "acknowledged"
    assert store.raise_operations_alert("drift", "2024-06-30", "high", "2 个特征漂移", details,
                                        "radar-risk", 3)["status"] == "open"
    store.raise_operations_alert("drift", "2024-07-31", "medium", "score drift", None, "radar-risk", 3)
    assert [a["as_of"] for a in store.operations_alerts()] == ["2024-07-31", "2024-06-30"]
    assert store.clear_operations_alert("drift", "2024-07-31") and not store.clear_operations_alert("drift", "2024-07-31")
    with pytest.raises(StoreError):
        store.raise_operations_alert("grade_d", "2024-06-30", "high", "x")
    assert store.list_alerts() == []  # nothing leaks into the entity alerts
