"""Review queue of uncertain record-to-entity matches.

Revision ID: 0002
Revises: 0001
Create Date: 2024-07-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create match_reviews."""
    op.create_table(
        "match_reviews",
        sa.Column("review_id", sa.String(40), primary_key=True),
        sa.Column("source_type", sa.String(40), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("record_name", sa.Text(), nullable=True),
        sa.Column("record_address", sa.Text(), nullable=True),
        sa.Column("record_uscc", sa.String(64), nullable=True),
        sa.Column("entity_name", sa.Text(), nullable=True),
        sa.Column("entity_address", sa.Text(), nullable=True),
        sa.Column("entity_uscc", sa.String(32), nullable=True),
        sa.Column("district_code", sa.String(12), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_as_of", sa.String(10), nullable=False),
        sa.Column("last_as_of", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected', 'obsolete')", name="ck_match_reviews_status"
        ),
    )
    op.create_index("ix_match_reviews_status_district", "match_reviews", ["status", "district_code"])
    op.create_index("ix_match_reviews_record", "match_reviews", ["source_type", "record_key"])


def downgrade() -> None:
    """Drop match_reviews."""
    op.drop_index("ix_match_reviews_record", table_name="match_reviews")
    op.drop_index("ix_match_reviews_status_district", table_name="match_reviews")
    op.drop_table("match_reviews")
