"""Dashboard accounts for a demonstration: random passwords, shown once, never stored in the repository."""

from __future__ import annotations

import secrets
from typing import Any

from radar.store.store import Store, StoreError

# (username, role, districts, display name): two district supervisors show jurisdiction scoping
DEMO_USERS: tuple[tuple[str, str, list[str], str], ...] = (
    ("admin", "admin", [], "系统管理员"),
    ("shuangta", "supervisor", ["211302"], "双塔区监管员"),
    ("longcheng", "supervisor", ["211303"], "龙城区监管员"),
    ("planner", "planner", [], "抽查计划员"),
    ("analyst", "analyst", [], "数据分析员"),
)


def new_password() -> str:
    """A random password (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def create_demo_users(store: Store) -> list[dict[str, Any]]:
    """Create (or give a new password to) the demo users; returns each with its one-time password.

    The caller prints the passwords once; only their bcrypt hashes are kept.
    """
    created = []
    for username, role, districts, display_name in DEMO_USERS:
        password = new_password()
        if store.get_user(username) is None:
            store.add_user(username, password, role, districts, display_name)
        else:
            store.set_password(username, password)
            store.set_active(username, True)
        user = store.get_user(username)
        if user is None:  # pragma: no cover - just created
            raise StoreError(f"could not create demo user {username}")
        created.append({**user, "password": password})
    return created
