"""The relational store: alerts with their workflow and audit trail, model history, dashboard users.

SQLite by default (``sqlite:///LAKE/store.db``), PostgreSQL in production; the schema is migrated with
Alembic to the newest revision whenever a :class:`Store` is opened.
"""

from radar.store.models import OUTCOMES, ROLES, SEVERITIES, STATUSES
from radar.store.store import (
    OUTCOME_LABELS,
    STATUS_LABELS,
    TRANSITIONS,
    AlertNotFound,
    StaleVersionError,
    Store,
    StoreError,
    TransitionError,
    alert_id_for,
)
from radar.store.users import create_demo_users

__all__ = [
    "OUTCOMES",
    "OUTCOME_LABELS",
    "ROLES",
    "SEVERITIES",
    "STATUSES",
    "STATUS_LABELS",
    "TRANSITIONS",
    "AlertNotFound",
    "StaleVersionError",
    "Store",
    "StoreError",
    "TransitionError",
    "alert_id_for",
    "create_demo_users",
]
