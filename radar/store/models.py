"""The relational store's tables (SQLAlchemy 2 ORM).

The schema itself is created and changed only by the Alembic migrations in ``migrations/versions``;
these classes describe it for the ORM. ``tests/test_store.py`` checks that both agree.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATUSES = ("new", "in_review", "closed")
OUTCOMES = ("confirmed_risk", "false_positive", "referred")
SEVERITIES = ("high", "medium", "low")
ALERT_ACTIONS = ("created", "reraised", "assigned", "status", "outcome", "note")
MODEL_ACTIONS = ("registered", "promoted", "refused", "rollback")
ROLES = ("admin", "supervisor", "planner", "analyst")
REVIEW_STATUSES = ("pending", "accepted", "rejected", "obsolete")
OPS_KINDS = ("drift",)  # operations alerts: about the system (the model's inputs), not about an entity
OPS_STATUSES = ("open", "acknowledged")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class Alert(Base):
    """One risk alert on one entity, tracked from its first scoring run to a decision."""

    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(64))
    uscc: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(255))
    district_code: Mapped[str | None] = mapped_column(String(12))
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    first_as_of: Mapped[str] = mapped_column(String(10))
    last_as_of: Mapped[str] = mapped_column(String(10))
    risk_score: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(1))
    title: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(24))
    assignee: Mapped[str | None] = mapped_column(String(64))
    due_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)

    # every ORM update runs "... WHERE version = :loaded" and bumps it: a concurrent edit is detected
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="ck_alerts_status"),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', OUTCOMES)}", name="ck_alerts_outcome"),
        CheckConstraint(_in("severity", SEVERITIES), name="ck_alerts_severity"),
        CheckConstraint("status <> 'closed' OR outcome IS NOT NULL", name="ck_alerts_closed_has_outcome"),
        # at most one open alert per entity and rule, even with concurrent writers
        Index(
            "uq_alerts_open_entity_rule",
            "entity_id",
            "rule",
            unique=True,
            sqlite_where=text("status <> 'closed'"),
            postgresql_where=text("status <> 'closed'"),
        ),
        Index("ix_alerts_district_status", "district_code", "status"),
        Index("ix_alerts_entity_rule", "entity_id", "rule"),
    )


class AlertEvent(Base):
    """One change to an alert: the audit trail."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(40), ForeignKey("alerts.alert_id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    from_value: Mapped[str | None] = mapped_column(Text)
    to_value: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint(_in("action", ALERT_ACTIONS), name="ck_alert_events_action"),)


class ModelEvent(Base):
    """One event in the life of the scoring model: which model was live when, and why."""

    __tablename__ = "model_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    model_name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    metrics_json: Mapped[str | None] = mapped_column(Text)
    champion_before: Mapped[str | None] = mapped_column(String(64))
    champion_after: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (CheckConstraint(_in("action", MODEL_ACTIONS), name="ck_model_history_action"),)


class User(Base):
    """A dashboard user: role and jurisdiction (no districts = the whole city)."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    districts: Mapped[str] = mapped_column(Text)  # JSON list of district codes; [] = all
    display_name: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_users_role"),)


class MatchReview(Base):
    """An uncertain record-to-entity match waiting for (or carrying) a reviewer's decision.

    One row per (record, candidate entity); resolve runs add and refresh pending rows, a reviewer accepts
    or rejects, and every later run reuses the decision. A pending row no later run proposes becomes
    ``obsolete`` (new data settled the record).
    """

    __tablename__ = "match_reviews"

    review_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_type: Mapped[str] = mapped_column(String(40))
    record_key: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[str] = mapped_column(String(64))
    probability: Mapped[float] = mapped_column(Float)
    record_name: Mapped[str | None] = mapped_column(Text)
    record_address: Mapped[str | None] = mapped_column(Text)
    record_uscc: Mapped[str | None] = mapped_column(String(64))
    entity_name: Mapped[str | None] = mapped_column(Text)
    entity_address: Mapped[str | None] = mapped_column(Text)
    entity_uscc: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(12))
    evidence: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    first_as_of: Mapped[str] = mapped_column(String(10))
    last_as_of: Mapped[str] = mapped_column(String(10))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_in("status", REVIEW_STATUSES), name="ck_match_reviews_status"),
        Index("ix_match_reviews_status_district", "status", "district_code"),
        Index("ix_match_reviews_record", "source_type", "record_key"),
    )


class OperationsAlert(Base):
    """An operations alert: something about the scoring system (e.g. feature or score drift), not an entity.

    One row per kind and scoring date: a repeated run of the same date refreshes it. Kept apart from the
    entity alerts, whose workflow (assign, review, decide) does not apply.
    """

    __tablename__ = "operations_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    as_of: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(10))
    model_name: Mapped[str | None] = mapped_column(String(128))
    model_version: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    details_json: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_in("kind", OPS_KINDS), name="ck_operations_alerts_kind"),
        CheckConstraint(_in("severity", SEVERITIES), name="ck_operations_alerts_severity"),
        CheckConstraint(_in("status", OPS_STATUSES), name="ck_operations_alerts_status"),
        Index("uq_operations_alerts_kind_as_of", "kind", "as_of", unique=True),
    )
