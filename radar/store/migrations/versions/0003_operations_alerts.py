"""Operations alerts (drift of the model's inputs or scores), apart from the entity alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2024-08-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create operations_alerts."""
    op.create_table(
        "operations_alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('drift')", name="ck_operations_alerts_kind"),
        sa.CheckConstraint("severity IN ('high', 'medium', 'low')", name="ck_operations_alerts_severity"),
        sa.CheckConstraint("status IN ('open', 'acknowledged')", name="ck_operations_alerts_status"),
    )
    op.create_index("uq_operations_alerts_kind_as_of", "operations_alerts", ["kind", "as_of"], unique=True)


def downgrade() -> None:
    """Drop operations_alerts."""
    op.drop_index("uq_operations_alerts_kind_as_of", table_name="operations_alerts")
    op.drop_table("operations_alerts")
