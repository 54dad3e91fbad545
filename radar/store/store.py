"""The alert store: alerts and their workflow, the audit trail, model history and dashboard users.

Many supervisors edit alerts at once, so every change is checked against the version the editor saw
(optimistic locking) and writes its ``alert_events`` row in the same transaction as the change itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import bcrypt
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from radar.errors import RadarError
from radar.store.migrate import WRITE_OPTION, lock_for_write, make_engine, upgrade_to_head
from radar.store.models import (
    MODEL_ACTIONS,
    OPS_KINDS,
    OUTCOMES,
    ROLES,
    SEVERITIES,
    STATUSES,
    Alert,
    AlertEvent,
    MatchReview,
    ModelEvent,
    OperationsAlert,
    User,
)

SYSTEM_USER = "system"
BCRYPT_ROUNDS = 12
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt only reads 72 bytes; longer passwords are refused, not truncated

# allowed status changes; reopening (closed -> in_review) needs a note saying why
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("in_review",),
    "in_review": ("closed",),
    "closed": ("in_review",),
}
STATUS_LABELS = {"new": "待处理", "in_review": "核查中", "closed": "已办结"}
REVIEW_DECISIONS = ("accepted", "rejected")
REVIEW_LABELS = {"pending": "待复核", "accepted": "确认为同一主体", "rejected": "不是同一主体", "obsolete": "已失效"}
_REVIEW_FIELDS = (
    "probability", "record_name", "record_address", "record_uscc", "entity_name", "entity_address", "entity_uscc",
    "district_code", "evidence",
)
OUTCOME_LABELS = {"confirmed_risk": "确认风险", "false_positive": "误报", "referred": "移交"}

_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
_DISTRICT = re.compile(r"^\d{6}$")
_UPSERT_LOCK = 0x72616C657274  # "ralert": serialises concurrent upserts on PostgreSQL
_REVIEW_LOCK = 0x726576696577  # "review": serialises concurrent review upserts on PostgreSQL
_ALERT_FIELDS = ("uscc", "name", "district_code", "risk_score", "grade", "title", "evidence", "severity")
# a valid hash to check against when the user is unknown, so both cases take the same time
_DUMMY_HASH = bcrypt.hashpw(b"radar-no-such-user", bcrypt.gensalt(rounds=4))


class StoreError(RadarError):
    """A store operation was refused; the message says why."""


class AlertNotFound(StoreError):
    """No alert has this id."""


class StaleVersionError(StoreError):
    """Someone changed the alert after the editor loaded it."""


class TransitionError(StoreError):
    """A workflow change the rules do not allow."""


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(dt: datetime | None) -> datetime | None:
    # SQLite gives back naive datetimes: they were stored in UTC
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _check_as_of(as_of: str | date) -> str:
    text = as_of.isoformat() if isinstance(as_of, date) else str(as_of)
    try:
        date.fromisoformat(text)
    except ValueError:
        raise StoreError(f"as_of {text!r} is not a date (YYYY-MM-DD)") from None
    return text


def alert_id_for(entity_id: str, rule: str, first_as_of: str) -> str:
    """The deterministic id of the alert a rule first raised on an entity in a scoring run."""
    return hashlib.sha1(f"{entity_id}|{rule}|{first_as_of}".encode()).hexdigest()[:20]


def review_id_for(source_type: str, record_key: str, entity_id: str) -> str:
    """The deterministic id of the review of one (record, candidate entity) pair."""
    return hashlib.sha1(f"{source_type}|{record_key}|{entity_id}".encode()).hexdigest()[:20]


def review_dict(r: MatchReview) -> dict[str, Any]:
    """A review as a plain dict (evidence parsed)."""
    return {
        "review_id": r.review_id,
        "source_type": r.source_type,
        "record_key": r.record_key,
        "entity_id": r.entity_id,
        "probability": r.probability,
        "record_name": r.record_name,
        "record_address": r.record_address,
        "record_uscc": r.record_uscc,
        "entity_name": r.entity_name,
        "entity_address": r.entity_address,
        "entity_uscc": r.entity_uscc,
        "district_code": r.district_code,
        "evidence": _parse_json(r.evidence),
        "status": r.status,
        "first_as_of": r.first_as_of,
        "last_as_of": r.last_as_of,
        "decided_by": r.decided_by,
        "decided_at": _utc(r.decided_at),
        "note": r.note,
        "created_at": _utc(r.created_at),
        "updated_at": _utc(r.updated_at),
    }


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days (Monday to Friday) after ``start``; public holidays are not known."""
    d = start
    left = days
    while left > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            left -= 1
    return d


def _evidence_text(evidence: Any) -> str:
    if evidence is None:
        return "{}"
    if isinstance(evidence, str):
        try:
            json.loads(evidence)
        except ValueError:
            return json.dumps({"text": evidence}, ensure_ascii=False)
        return evidence
    return json.dumps(evidence, ensure_ascii=False, sort_keys=True, default=str)


def _parse_json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _districts_text(districts: Iterable[str] | str | None) -> str:
    if districts is None:
        codes: list[str] = []
    elif isinstance(districts, str):
        codes = [c.strip() for c in districts.replace("，", ",").split(",") if c.strip()]
    else:
        codes = [str(c).strip() for c in districts if str(c).strip()]
    bad = [c for c in codes if not _DISTRICT.match(c)]
    if bad:
        raise StoreError(f"district codes must have 6 digits: {', '.join(bad)}")
    return json.dumps(sorted(set(codes)))


def _districts_list(text: str | None) -> list[str]:
    value = _parse_json(text)
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):  # tolerate a comma list written by hand
        return [c.strip() for c in value.split(",") if c.strip()]
    return []


def _hash_password(password: str) -> str:
    raw = password.encode("utf-8")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StoreError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise StoreError(f"a password may have at most {MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode("ascii")


def alert_dict(a: Alert) -> dict[str, Any]:
    """An alert as a plain dict; ``evidence`` parsed from its JSON text, times in UTC."""
    return {
        "alert_id": a.alert_id,
        "entity_id": a.entity_id,
        "uscc": a.uscc,
        "name": a.name,
        "district_code": a.district_code,
        "rule": a.rule,
        "severity": a.severity,
        "first_as_of": a.first_as_of,
        "last_as_of": a.last_as_of,
        "risk_score": a.risk_score,
        "grade": a.grade,
        "title": a.title,
        "evidence": _parse_json(a.evidence),
        "status": a.status,
        "outcome": a.outcome,
        "assignee": a.assignee,
        "due_date": a.due_date,
        "created_at": _utc(a.created_at),
        "updated_at": _utc(a.updated_at),
        "version": a.version,
    }


def _event_dict(e: AlertEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "alert_id": e.alert_id,
        "at": _utc(e.at),
        "username": e.username,
        "action": e.action,
        "from_value": e.from_value,
        "to_value": e.to_value,
        "note": e.note,
    }


def _user_dict(u: User) -> dict[str, Any]:
    # never hand out the password hash
    return {
        "username": u.username,
        "role": u.role,
        "districts": _districts_list(u.districts),
        "display_name": u.display_name or u.username,
        "active": bool(u.active),
        "created_at": _utc(u.created_at),
    }


def _model_event_dict(m: ModelEvent) -> dict[str, Any]:
    return {
        "id": m.id,
        "at": _utc(m.at),
        "model_name": m.model_name,
        "version": m.version,
        "action": m.action,
        "reason": m.reason,
        "metrics": _parse_json(m.metrics_json),
        "champion_before": m.champion_before,
        "champion_after": m.champion_after,
    }


def _ops_alert_dict(o: OperationsAlert) -> dict[str, Any]:
    return {
        "id": o.id,
        "kind": o.kind,
        "as_of": o.as_of,
        "severity": o.severity,
        "model_name": o.model_name,
        "model_version": o.model_version,
        "title": o.title,
        "details": _parse_json(o.details_json),
        "status": o.status,
        "acknowledged_by": o.acknowledged_by,
        "raised_at": _utc(o.raised_at),
        "updated_at": _utc(o.updated_at),
    }


class Store:
    """The relational store at a SQLAlchemy URL (SQLite by default, PostgreSQL in production).

    Opening it migrates the schema to the newest revision (idempotent; safe when several processes open
    the same database at once).
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        if migrate:
            upgrade_to_head(self.engine)

    def close(self) -> None:
        """Release the store's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _session(self, write: bool = False, lock: int | None = None) -> Iterator[Session]:
        """One transaction; writers take SQLite's write lock at BEGIN (and a PostgreSQL lock if asked)."""
        with self.engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            with Session(bind=conn, expire_on_commit=False, autoflush=True) as session, session.begin():
                if lock is not None:
                    lock_for_write(session, lock)
                try:
                    yield session
                    session.flush()
                except StaleDataError:
                    raise StaleVersionError("该预警刚被其他人修改，请刷新后重试") from None

    @staticmethod
    def _event(
        session: Session,
        alert_id: str,
        user: str,
        action: str,
        from_value: Any = None,
        to_value: Any = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> None:
        session.add(
            AlertEvent(
                alert_id=alert_id,
                at=at or _now(),
                username=user,
                action=action,
                from_value=None if from_value is None else str(from_value),
                to_value=None if to_value is None else str(to_value),
                note=note,
            )
        )

    # ------------------------------------------------------------------ alerts: from the scoring run
    def upsert_alerts(
        self,
        rows: list[dict[str, Any]],
        as_of: str | date,
        user: str = SYSTEM_USER,
        due_days: dict[str, int] | None = None,
    ) -> dict[str, int]:
        """Store the alerts a scoring run raised, without duplicates.

        Each row needs ``entity_id``, ``rule`` and ``severity`` (high/medium/low) and may carry ``uscc``,
        ``name``, ``district_code``, ``risk_score``, ``grade``, ``title`` (Chinese), ``evidence`` (a dict
        or list, or its JSON text: reasons and the source record keys behind them) and ``due_date``.
        There is at most one open alert per (entity_id, rule):

        - no alert yet, or only closed ones from earlier runs: a new alert (``inserted``);
        - an open alert from an earlier run: its ``last_as_of``, evidence and score are refreshed and a
          ``reraised`` event is logged (``reraised``);
        - an open alert from this same run with other content (a rerun after a fix): refreshed
          (``updated``); with the same content, or from a later run, or a closed alert that already
          covers this run: nothing happens (``unchanged``). Running the same run twice changes nothing.

        Repeated (entity_id, rule) pairs within ``rows`` are counted in ``duplicates`` and ignored.
        Without a ``due_date`` the deadline is ``due_days[severity]`` working days from today
        (default: conf/policy.yaml ``alerts.due_days``). Returns the counts.
        """
        run = _check_as_of(as_of)
        counts = {"inserted": 0, "reraised": 0, "updated": 0, "unchanged": 0, "duplicates": 0}
        wanted: dict[tuple[str, str], dict[str, Any]] = {}
        for i, row in enumerate(rows):
            entity_id, rule, severity = row.get("entity_id"), row.get("rule"), row.get("severity")
            if not entity_id or not rule:
                raise StoreError(f"alert row {i}: entity_id and rule are required")
            if severity not in SEVERITIES:
                raise StoreError(
                    f"alert row {i}: severity must be one of {', '.join(SEVERITIES)}, not {severity!r}"
                )
            key = (str(entity_id), str(rule))
            if key in wanted:
                counts["duplicates"] += 1
                continue
            wanted[key] = row
        if not wanted:
            return counts
        if due_days is None and any(not r.get("due_date") for r in wanted.values()):
            from radar.config import policy

            due_days = dict(policy().alerts.due_days)

        now = _now()
        with self._session(write=True, lock=_UPSERT_LOCK) as s:
            existing: dict[tuple[str, str], list[Alert]] = {}
            entity_ids = sorted({k[0] for k in wanted})
            rules = sorted({k[1] for k in wanted})
            for start in range(0, len(entity_ids), 500):
                chunk = entity_ids[start : start + 500]
                q = select(Alert).where(Alert.entity_id.in_(chunk), Alert.rule.in_(rules))
                for a in s.scalars(q):
                    existing.setdefault((a.entity_id, a.rule), []).append(a)

            for key, row in wanted.items():
                fields = self._alert_fields(row)
                alerts = existing.get(key, [])
                open_alert = next((a for a in alerts if a.status != "closed"), None)
                if open_alert is not None:
                    counts[self._refresh(s, open_alert, fields, run, now, user)] += 1
                    continue
                closed = [a for a in alerts if a.status == "closed"]
                if any(a.last_as_of >= run for a in closed):
                    counts["unchanged"] += 1  # this run's condition was already decided
                    continue
                due = row.get("due_date")
                if not due:
                    days = (due_days or {}).get(fields["severity"], 0)
                    due = add_working_days(now.astimezone().date(), int(days))
                elif isinstance(due, str):
                    due = date.fromisoformat(due[:10])
                alert = Alert(
                    alert_id=alert_id_for(key[0], key[1], run),
                    entity_id=key[0],
                    rule=key[1],
                    first_as_of=run,
                    last_as_of=run,
                    status="new",
                    outcome=None,
                    assignee=None,
                    due_date=due,
                    created_at=now,
                    updated_at=now,
                    **fields,
                )
                s.add(alert)
                note = None
                if closed:
                    last = max(closed, key=lambda a: a.last_as_of)
                    outcome = OUTCOME_LABELS.get(last.outcome or "", last.outcome)
                    note = f"前一预警 {last.alert_id} 已办结（结论：{outcome}），条件在本批次再次出现"
                self._event(s, alert.alert_id, user, "created", None, run, note, at=now)
                counts["inserted"] += 1
        return counts

    @staticmethod
    def _alert_fields(row: dict[str, Any]) -> dict[str, Any]:
        name = row.get("name")
        score = row.get("risk_score")
        return {
            "uscc": row.get("uscc"),
            "name": name,
            "district_code": None if row.get("district_code") is None else str(row["district_code"]),
            "risk_score": None if score is None else float(score),
            "grade": row.get("grade"),
            "title": row.get("title") or f"{name or row['entity_id']}：{row['rule']}",
            "evidence": _evidence_text(row.get("evidence")),
            "severity": row["severity"],
        }

    def _refresh(
        self, s: Session, alert: Alert, fields: dict[str, Any], run: str, now: datetime, user: str
    ) -> str:
        """Bring an open alert up to a run's findings; returns the counter to bump."""
        if run < alert.last_as_of:
            return "unchanged"  # an older run replayed: the alert already knows more
        changed = {k: v for k, v in fields.items() if getattr(alert, k) != v}
        if run == alert.last_as_of and not changed:
            return "unchanged"
        before = alert.last_as_of
        for k, v in changed.items():
            setattr(alert, k, v)
        alert.last_as_of = run
        alert.updated_at = now
        note = None if run > before else "同一批次重新计算，证据已更新"
        self._event(s, alert.alert_id, user, "reraised", before, run, note, at=now)
        return "reraised" if run > before else "updated"

    # ------------------------------------------------------------------ alerts: reading
    def list_alerts(
        self,
        districts: list[str] | None = None,
        status: str | list[str] | None = None,
        severity: str | list[str] | None = None,
        rule: str | list[str] | None = None,
        entity_id: str | None = None,
        assignee: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts, newest run first; ``districts`` None or empty means every district.

        Each filter takes one value or a list of values.
        """
        q = select(Alert)
        if districts:
            q = q.where(Alert.district_code.in_(list(districts)))
        for col, value in ((Alert.status, status), (Alert.severity, severity), (Alert.rule, rule)):
            if value:
                q = q.where(col.in_([value] if isinstance(value, str) else list(value)))
        if entity_id:
            q = q.where(Alert.entity_id == entity_id)
        if assignee:
            q = q.where(Alert.assignee == assignee)
        q = q.order_by(Alert.last_as_of.desc(), Alert.risk_score.desc(), Alert.alert_id)
        if limit:
            q = q.limit(limit)
        with self._session() as s:
            return [alert_dict(a) for a in s.scalars(q)]

    def alert_counts(self, districts: list[str] | None = None) -> list[dict[str, Any]]:
        """Number of alerts per district, rule, status and severity (``districts`` empty = all)."""
        cols = (Alert.district_code, Alert.rule, Alert.status, Alert.severity)
        q = select(*cols, func.count()).group_by(*cols)
        if districts:
            q = q.where(Alert.district_code.in_(list(districts)))
        with self._session() as s:
            return [
                {"district_code": d, "rule": r, "status": st, "severity": sv, "count": n}
                for d, r, st, sv, n in s.execute(q)
            ]

    def get_alert(self, alert_id: str) -> dict[str, Any] | None:
        """One alert, or None."""
        with self._session() as s:
            a = s.get(Alert, alert_id)
            return alert_dict(a) if a else None

    def history(self, alert_id: str) -> list[dict[str, Any]]:
        """The audit trail of an alert, oldest first."""
        q = select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.at, AlertEvent.id)
        with self._session() as s:
            return [_event_dict(e) for e in s.scalars(q)]

    # ------------------------------------------------------------------ alerts: workflow
    def _load_for_update(self, s: Session, alert_id: str, version: int) -> Alert:
        a = s.get(Alert, alert_id, with_for_update=True)
        if a is None:
            raise AlertNotFound(f"预警 {alert_id} 不存在")
        if a.version != int(version):
            last = s.scalars(
                select(AlertEvent)
                .where(AlertEvent.alert_id == alert_id)
                .order_by(AlertEvent.at.desc(), AlertEvent.id.desc())
                .limit(1)
            ).first()
            by = f"（最近由 {last.username} 修改）" if last else ""
            raise StaleVersionError(
                f"预警 {alert_id} 已被他人修改{by}：您看到的是第 {version} 版，当前为第 {a.version} 版。"
                "请刷新后重试。"
            )
        return a

    def assign(self, alert_id: str, assignee: str | None, user: str, version: int) -> dict[str, Any]:
        """Give an alert to a user (None takes it away); refused for a closed alert or a stale version."""
        with self._session(write=True) as s:
            a = self._load_for_update(s, alert_id, version)
            if a.status == "closed":
                raise TransitionError(f"预警 {alert_id} 已办结，不能再指派（请先重新打开）")
            if assignee is not None and s.get(User, assignee) is None:
                raise StoreError(f"用户 {assignee} 不存在")
            if a.assignee == assignee:
                return alert_dict(a)
            self._event(s, alert_id, user, "assigned", a.assignee, assignee)
            a.assignee = assignee
            a.updated_at = _now()
            s.flush()
            return alert_dict(a)

    def set_status(
        self,
        alert_id: str,
        status: str,
        user: str,
        version: int,
        note: str | None = None,
        outcome: str | None = None,
    ) -> dict[str, Any]:
        """Move an alert along its workflow: new -> in_review -> closed, and closed -> in_review.

        Closing needs an outcome (already set, or given here). Reopening a closed alert needs a note and
        clears its outcome, so the next closing records a fresh decision.
        """
        if status not in STATUSES:
            raise TransitionError(f"未知状态：{status}")
        if outcome is not None and outcome not in OUTCOMES:
            raise StoreError(f"未知处理结论：{outcome}")
        note = (note or "").strip() or None
        with self._session(write=True) as s:
            a = self._load_for_update(s, alert_id, version)
            old = a.status
            if status not in TRANSITIONS[old]:
                raise TransitionError(
                    f"不允许的状态变更：{STATUS_LABELS[old]} → {STATUS_LABELS[status]}"
                    f"（{STATUS_LABELS[old]}只能改为：{'、'.join(STATUS_LABELS[t] for t in TRANSITIONS[old])}）"
                )
            now = _now()
            if old == "closed":
                if not note:
                    raise TransitionError("重新打开已办结的预警必须填写说明")
                self._event(s, alert_id, user, "outcome", a.outcome, None, "重新打开，原结论作废", at=now)
                a.outcome = None
            if status == "closed":
                if outcome is not None and outcome != a.outcome:
                    self._event(s, alert_id, user, "outcome", a.outcome, outcome, at=now)
                    a.outcome = outcome
                if a.outcome is None:
                    raise TransitionError("办结前必须给出处理结论（确认风险、误报或移交）")
            self._event(s, alert_id, user, "status", old, status, note, at=now)
            a.status = status
            a.updated_at = now
            s.flush()
            return alert_dict(a)

    def set_outcome(
        self, alert_id: str, outcome: str, user: str, version: int, note: str | None = None
    ) -> dict[str, Any]:
        """Record the decision on an alert under review (confirmed_risk, false_positive or referred)."""
        if outcome not in OUTCOMES:
            raise StoreError(f"未知处理结论：{outcome}")
        with self._session(write=True) as s:
            a = self._load_for_update(s, alert_id, version)
            if a.status != "in_review":
                raise TransitionError(f"只有核查中的预警可以给出结论（当前状态：{STATUS_LABELS[a.status]}）")
            if a.outcome == outcome and not note:
                return alert_dict(a)
            self._event(s, alert_id, user, "outcome", a.outcome, outcome, (note or "").strip() or None)
            a.outcome = outcome
            a.updated_at = _now()
            s.flush()
            return alert_dict(a)

    def add_note(self, alert_id: str, note: str, user: str) -> dict[str, Any]:
        """Add a note to an alert's trail (any status; the alert itself and its version are unchanged)."""
        note = (note or "").strip()
        if not note:
            raise StoreError("备注不能为空")
        with self._session(write=True) as s:
            if s.get(Alert, alert_id) is None:
                raise AlertNotFound(f"预警 {alert_id} 不存在")
            event = AlertEvent(alert_id=alert_id, at=_now(), username=user, action="note", note=note)
            s.add(event)
            s.flush()
            return _event_dict(event)

    # ------------------------------------------------------------------ match reviews
    def upsert_match_reviews(self, rows: list[dict[str, Any]], as_of: str | date) -> dict[str, int]:
        """Store the uncertain matches a resolve run proposes, without duplicates (idempotent).

        Each row needs ``source_type``, ``record_key``, ``entity_id`` and ``probability``, and may carry
        ``record_name``, ``record_address``, ``record_uscc``, ``entity_name``, ``entity_address``,
        ``entity_uscc``, ``district_code`` and ``evidence`` (a list or dict, or its JSON text). A new pair is
        ``inserted`` as pending; a pending pair from an earlier run is ``refreshed`` (its figures and
        ``last_as_of``); a decided pair is left as decided (``decided``); the same run again changes nothing
        (``unchanged``). Pending pairs that this run no longer proposes become ``obsolete``: those of earlier runs,
        and those of an earlier run of the same date (a re-run under another policy); a replayed older run
        leaves the newer runs' pairs alone.
        """
        run = _check_as_of(as_of)
        counts = {"inserted": 0, "refreshed": 0, "unchanged": 0, "decided": 0, "obsoleted": 0}
        wanted: dict[str, dict[str, Any]] = {}
        for i, row in enumerate(rows):
            st, key, eid = row.get("source_type"), row.get("record_key"), row.get("entity_id")
            if not st or not key or not eid or row.get("probability") is None:
                raise StoreError(f"review row {i}: source_type, record_key, entity_id and probability are required")
            wanted[review_id_for(str(st), str(key), str(eid))] = row
        now = _now()
        with self._session(write=True, lock=_REVIEW_LOCK) as s:
            ids = sorted(wanted)
            existing: dict[str, MatchReview] = {}
            for start in range(0, len(ids), 500):
                for r in s.scalars(select(MatchReview).where(MatchReview.review_id.in_(ids[start : start + 500]))):
                    existing[r.review_id] = r
            for rid, row in wanted.items():
                fields = {k: row.get(k) for k in _REVIEW_FIELDS}
                fields["probability"] = float(fields["probability"])
                fields["evidence"] = None if row.get("evidence") is None else _evidence_text(row.get("evidence"))
                r = existing.get(rid)
                if r is None:
                    s.add(MatchReview(
                        review_id=rid, source_type=str(row["source_type"]), record_key=str(row["record_key"]),
                        entity_id=str(row["entity_id"]), status="pending", first_as_of=run, last_as_of=run,
                        created_at=now, updated_at=now, **fields,
                    ))
                    counts["inserted"] += 1
                elif r.status in REVIEW_DECISIONS:
                    counts["decided"] += 1
                elif run < r.last_as_of:
                    counts["unchanged"] += 1  # an older run replayed: the row already knows more
                else:
                    changed = {k: v for k, v in fields.items() if getattr(r, k) != v}
                    if r.status == "obsolete" or changed or run > r.last_as_of:
                        for k, v in changed.items():
                            setattr(r, k, v)
                        r.status = "pending"
                        r.last_as_of = run
                        r.updated_at = now
                        counts["refreshed"] += 1
                    else:
                        counts["unchanged"] += 1
            stale = select(MatchReview).where(MatchReview.status == "pending", MatchReview.last_as_of <= run)
            for r in s.scalars(stale):
                if r.review_id not in wanted:
                    r.status = "obsolete"
                    r.updated_at = now
                    counts["obsoleted"] += 1
        return counts

    def list_match_reviews(
        self,
        districts: list[str] | None = None,
        status: str | list[str] | None = "pending",
        limit: int | None = None,
        source_types: list[str] | None = None,
        min_probability: float | None = None,
    ) -> list[dict[str, Any]]:
        """Reviews (most likely match first); ``districts`` None or empty means every district, likewise
        ``source_types`` every record type; ``min_probability`` leaves out the less likely proposals."""
        q = select(MatchReview)
        if districts:
            q = q.where(MatchReview.district_code.in_(list(districts)))
        if status:
            q = q.where(MatchReview.status.in_([status] if isinstance(status, str) else list(status)))
        if source_types:
            q = q.where(MatchReview.source_type.in_(list(source_types)))
        if min_probability is not None:
            q = q.where(MatchReview.probability >= min_probability)
        q = q.order_by(MatchReview.probability.desc(), MatchReview.review_id)
        if limit:
            q = q.limit(limit)
        with self._session() as s:
            return [review_dict(r) for r in s.scalars(q)]

    def related_match_reviews(self, review_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The other reviews (any status but obsolete) proposing the same entity for a record of the same name:
        what was decided for them, so that one name is decided alike (decided first, then most likely)."""
        with self._session() as s:
            r = s.get(MatchReview, review_id)
            if r is None or not r.record_name:
                return []
            q = (
                select(MatchReview)
                .where(MatchReview.entity_id == r.entity_id, MatchReview.record_name == r.record_name,
                       MatchReview.review_id != review_id, MatchReview.status != "obsolete")
                .order_by((MatchReview.status == "pending").asc(), MatchReview.probability.desc(),
                          MatchReview.review_id)
                .limit(limit)
            )
            return [review_dict(x) for x in s.scalars(q)]

    def get_match_review(self, review_id: str) -> dict[str, Any] | None:
        """One review, or None."""
        with self._session() as s:
            r = s.get(MatchReview, review_id)
            return review_dict(r) if r else None

    def decide_match(self, review_id: str, decision: str, user: str, note: str | None = None) -> dict[str, Any]:
        """Accept or reject a proposed match; a decision may be changed later (who and when are kept)."""
        if decision not in REVIEW_DECISIONS:
            raise StoreError(f"复核结论只能是：{'、'.join(REVIEW_LABELS[d] for d in REVIEW_DECISIONS)}")
        with self._session(write=True) as s:
            r = s.get(MatchReview, review_id, with_for_update=True)
            if r is None:
                raise StoreError(f"复核任务 {review_id} 不存在")
            if r.status == "obsolete":
                raise StoreError("该复核任务已失效（新数据已确定该记录的归属），无需处理")
            r.status = decision
            r.decided_by = user
            r.decided_at = _now()
            r.note = (note or "").strip() or None
            r.updated_at = r.decided_at
            s.flush()
            return review_dict(r)

    def match_decisions(self) -> list[dict[str, Any]]:
        """Every decided review: (source_type, record_key, entity_id, decision), for resolve runs to reuse."""
        q = select(MatchReview.source_type, MatchReview.record_key, MatchReview.entity_id, MatchReview.status).where(
            MatchReview.status.in_(list(REVIEW_DECISIONS))
        )
        with self._session() as s:
            return [
                {"source_type": a, "record_key": b, "entity_id": c, "decision": d} for a, b, c, d in s.execute(q)
            ]

    def _count_reviews(self, column: Any, districts: list[str] | None, status: str | None = None) -> dict[str, int]:
        """Number of reviews per value of ``column`` (of one status when given; ``districts`` empty = all),
        largest first."""
        q = select(column, func.count()).group_by(column)
        if status:
            q = q.where(MatchReview.status == status)
        if districts:
            q = q.where(MatchReview.district_code.in_(list(districts)))
        with self._session() as s:
            return dict(sorted(((v, n) for v, n in s.execute(q)), key=lambda x: (-x[1], x[0])))

    def review_counts(self, districts: list[str] | None = None) -> dict[str, int]:
        """Number of reviews per status (``districts`` empty = all)."""
        return self._count_reviews(MatchReview.status, districts)

    def review_counts_by_type(self, districts: list[str] | None = None, status: str = "pending") -> dict[str, int]:
        """Number of reviews of one status per record type (``districts`` empty = all), largest first."""
        return self._count_reviews(MatchReview.source_type, districts, status)

    # ------------------------------------------------------------------ model history
    def record_model_event(
        self,
        model_name: str,
        version: str | int | None,
        action: str,
        reason: str | None = None,
        metrics: dict[str, Any] | None = None,
        champion_before: str | int | None = None,
        champion_after: str | int | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Log a model event (registered / promoted / refused / rollback): which model was live when."""
        if action not in MODEL_ACTIONS:
            raise StoreError(f"model action must be one of {', '.join(MODEL_ACTIONS)}, not {action!r}")

        def _s(v: str | int | None) -> str | None:
            return None if v is None else str(v)

        with self._session(write=True) as s:
            m = ModelEvent(
                at=at or _now(),
                model_name=model_name,
                version=_s(version),
                action=action,
                reason=reason,
                metrics_json=None
                if metrics is None
                else json.dumps(metrics, ensure_ascii=False, default=str),
                champion_before=_s(champion_before),
                champion_after=_s(champion_after),
            )
            s.add(m)
            s.flush()
            return _model_event_dict(m)

    def model_history(self, model_name: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Model events, newest first."""
        q = select(ModelEvent).order_by(ModelEvent.at.desc(), ModelEvent.id.desc())
        if model_name:
            q = q.where(ModelEvent.model_name == model_name)
        if limit:
            q = q.limit(limit)
        with self._session() as s:
            return [_model_event_dict(m) for m in s.scalars(q)]

    # ------------------------------------------------------------------ operations alerts
    def raise_operations_alert(
        self,
        kind: str,
        as_of: str | date,
        severity: str,
        title: str,
        details: Any = None,
        model_name: str | None = None,
        model_version: str | int | None = None,
    ) -> dict[str, Any]:
        """Raise (or, for a repeated run of the same date, refresh and reopen) an operations alert."""
        if kind not in OPS_KINDS:
            raise StoreError(f"operations alert kind must be one of {', '.join(OPS_KINDS)}, not {kind!r}")
        if severity not in SEVERITIES:
            raise StoreError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        as_of = _check_as_of(as_of)
        now = _now()
        fields = {
            "severity": severity,
            "title": title,
            "details_json": None if details is None else json.dumps(details, ensure_ascii=False, default=str),
            "model_name": model_name,
            "model_version": None if model_version is None else str(model_version),
        }
        with self._session(write=True) as s:
            o = s.scalars(
                select(OperationsAlert).where(OperationsAlert.kind == kind, OperationsAlert.as_of == as_of)
            ).first()
            if o is None:
                o = OperationsAlert(kind=kind, as_of=as_of, status="open", raised_at=now, updated_at=now, **fields)
                s.add(o)
            else:
                changed = any(getattr(o, k) != v for k, v in fields.items())
                for k, v in fields.items():
                    setattr(o, k, v)
                if changed:
                    o.status, o.acknowledged_by, o.updated_at = "open", None, now
            s.flush()
            return _ops_alert_dict(o)

    def clear_operations_alert(self, kind: str, as_of: str | date) -> bool:
        """Remove the alert of a kind and date (a re-run of that date no longer finds the problem)."""
        as_of = _check_as_of(as_of)
        with self._session(write=True) as s:
            o = s.scalars(
                select(OperationsAlert).where(OperationsAlert.kind == kind, OperationsAlert.as_of == as_of)
            ).first()
            if o is None:
                return False
            s.delete(o)
            return True

    def operations_alerts(self, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Operations alerts, newest scoring date first."""
        q = select(OperationsAlert).order_by(OperationsAlert.as_of.desc(), OperationsAlert.id.desc())
        if status:
            q = q.where(OperationsAlert.status == status)
        if limit:
            q = q.limit(limit)
        with self._session() as s:
            return [_ops_alert_dict(o) for o in s.scalars(q)]

    def acknowledge_operations_alert(self, alert_id: int, user: str) -> dict[str, Any]:
        """Mark an operations alert as seen by ``user``."""
        with self._session(write=True) as s:
            o = s.get(OperationsAlert, alert_id)
            if o is None:
                raise StoreError(f"no operations alert {alert_id}")
            o.status, o.acknowledged_by, o.updated_at = "acknowledged", user, _now()
            s.flush()
            return _ops_alert_dict(o)

    # ------------------------------------------------------------------ users
    def add_user(
        self,
        username: str,
        password: str,
        role: str,
        districts: list[str] | str | None = None,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        """Create a dashboard user; the password is stored only as a bcrypt hash.

        ``districts``: the district codes the user may see (a list or a comma list); empty = all.
        """
        if not _USERNAME.match(username or ""):
            raise StoreError(f"user name {username!r}: use 2-64 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        user = User(
            username=username,
            password_hash=_hash_password(password),
            role=role,
            districts=_districts_text(districts),
            display_name=display_name,
            active=True,
            created_at=_now(),
        )
        with self._session(write=True) as s:
            if s.get(User, username) is not None:
                raise StoreError(f"user {username} already exists")
            s.add(user)
            s.flush()
            return _user_dict(user)

    def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        """The active user with this name and password, or None (unknown, inactive or wrong password)."""
        with self._session() as s:
            u = s.get(User, username or "")
            stored = u.password_hash.encode("ascii") if u else _DUMMY_HASH
        raw = (password or "").encode("utf-8")
        try:
            ok = len(raw) <= MAX_PASSWORD_BYTES and bcrypt.checkpw(raw, stored)
        except ValueError:
            ok = False
        if u is None or not ok or not u.active:
            return None
        return _user_dict(u)

    def get_user(self, username: str) -> dict[str, Any] | None:
        """A user (without the password hash), or None."""
        with self._session() as s:
            u = s.get(User, username or "")
            return _user_dict(u) if u else None

    def list_users(self) -> list[dict[str, Any]]:
        """All users, by name."""
        with self._session() as s:
            return [_user_dict(u) for u in s.scalars(select(User).order_by(User.username))]

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password."""
        with self._session(write=True) as s:
            u = s.get(User, username)
            if u is None:
                raise StoreError(f"no user {username}")
            u.password_hash = _hash_password(password)

    def set_active(self, username: str, active: bool) -> None:
        """Enable or disable a user (a disabled user cannot log in; the audit trail keeps the name)."""
        with self._session(write=True) as s:
            u = s.get(User, username)
            if u is None:
                raise StoreError(f"no user {username}")
            u.active = active
