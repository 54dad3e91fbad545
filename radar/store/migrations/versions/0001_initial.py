"""Initial schema: alerts with their audit trail, model history, users.

Revision ID: 0001
Revises:
Create Date: 2024-07-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the four tables."""
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(40), primary_key=True),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("uscc", sa.String(32), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("district_code", sa.String(12), nullable=True),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("first_as_of", sa.String(10), nullable=False),
        sa.Column("last_as_of", sa.String(10), nullable=False),
        sa.Column("risk_score", sa.Float(), nullable=True),
        sa.Column("grade", sa.String(1), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('new', 'in_review', 'closed')", name="ck_alerts_status"),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('confirmed_risk', 'false_positive', 'referred')",
            name="ck_alerts_outcome",
        ),
        sa.CheckConstraint("severity IN ('high', 'medium', 'low')", name="ck_alerts_severity"),
        sa.CheckConstraint("status <> 'closed' OR outcome IS NOT NULL", name="ck_alerts_closed_has_outcome"),
    )
    op.create_index(
        "uq_alerts_open_entity_rule",
        "alerts",
        ["entity_id", "rule"],
        unique=True,
        sqlite_where=sa.text("status <> 'closed'"),
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.create_index("ix_alerts_district_status", "alerts", ["district_code", "status"])
    op.create_index("ix_alerts_entity_rule", "alerts", ["entity_id", "rule"])

    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(40), sa.ForeignKey("alerts.alert_id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_value", sa.Text(), nullable=True),
        sa.Column("to_value", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('created', 'reraised', 'assigned', 'status', 'outcome', 'note')",
            name="ck_alert_events_action",
        ),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])

    op.create_table(
        "model_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("metrics_json", sa.Text(), nullable=True),
        sa.Column("champion_before", sa.String(64), nullable=True),
        sa.Column("champion_after", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "action IN ('registered', 'promoted', 'refused', 'rollback')", name="ck_model_history_action"
        ),
    )
    op.create_index("ix_model_history_at", "model_history", ["at"])

    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("districts", sa.Text(), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'supervisor', 'planner', 'analyst')", name="ck_users_role"),
    )


def downgrade() -> None:
    """Drop the four tables."""
    op.drop_table("users")
    op.drop_index("ix_model_history_at", table_name="model_history")
    op.drop_table("model_history")
    op.drop_index("ix_alert_events_alert_id", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_alerts_entity_rule", table_name="alerts")
    op.drop_index("ix_alerts_district_status", table_name="alerts")
    op.drop_index("uq_alerts_open_entity_rule", table_name="alerts")
    op.drop_table("alerts")
