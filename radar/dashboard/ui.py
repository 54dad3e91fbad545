"""Shared pieces of the Streamlit pages: where the lake is, login and session, the batch selector,
notices for missing tables, formatting. Pages get the user's data only through :class:`LakeAccess`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from radar.config import profile as load_profile
from radar.config import resolve_paths
from radar.dashboard.access import SCORES, LakeAccess
from radar.dashboard.settings import DashboardSettings, dashboard_settings
from radar.errors import RadarError
from radar.store import Store

LAKE_ENV = "RADAR_LAKE"
PROFILE_ENV = "RADAR_PROFILE"
MAX_LOGIN_FAILURES = 5
LOCKOUT_SECONDS = 60

# session-state keys
USER_KEY = "radar_user"
SEEN_KEY = "radar_last_seen"
FAILURES_KEY = "radar_login_failures"
LOCKED_KEY = "radar_locked_until"
FLASH_KEY = "radar_flash"
ACCESS_KEY = "radar_access"
AS_OF_KEY = "radar_as_of"


def launch_args() -> tuple[Path | None, str | None]:
    """The lake and profile given after ``--`` on the streamlit command line, else from the environment."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--lake")
    parser.add_argument("--profile")
    args, _ = parser.parse_known_args(sys.argv[1:])
    lake = args.lake or os.environ.get(LAKE_ENV)
    return (Path(lake) if lake else None), (args.profile or os.environ.get(PROFILE_ENV) or None)


def store_url(lake: Path, profile_name: str | None) -> str:
    """The store URL of the deployment profile, with {lake} filled in."""
    return resolve_paths(load_profile(profile_name), lake).store_url


@st.cache_resource(show_spinner=False)
def open_store(url: str) -> Store:
    """One Store (and connection pool) per URL for the whole server process."""
    return Store(url)


# ---------------------------------------------------------------- messages
def flash(kind: str, message: str) -> None:
    """Queue a message for the next run (set in a callback, shown at the top of the page)."""
    st.session_state.setdefault(FLASH_KEY, []).append((kind, message))


def show_flash() -> None:
    """Show and clear the queued messages."""
    for kind, message in st.session_state.pop(FLASH_KEY, []):
        {"success": st.success, "error": st.error, "warning": st.warning}.get(kind, st.info)(message)


def notice_missing(what: str, stage: str) -> None:
    """The Chinese notice for a table that has not been published (pages never crash on it)."""
    st.info(f"暂无{what}数据：尚未运行“{stage}”阶段，或本批次未产出该表。")


# ---------------------------------------------------------------- login and session
def _login(store: Store) -> None:
    """Callback of the login form: check the password, start the session, forget the password."""
    username = (st.session_state.get("login_username") or "").strip()
    password = st.session_state.get("login_password") or ""
    st.session_state["login_password"] = ""
    locked_until = st.session_state.get(LOCKED_KEY, 0.0)
    if time.time() < locked_until:
        flash("error", f"登录失败次数过多，请 {int(locked_until - time.time()) + 1} 秒后再试。")
        return
    user = store.authenticate(username, password)
    if user is None:
        failures = st.session_state.get(FAILURES_KEY, 0) + 1
        st.session_state[FAILURES_KEY] = failures
        if failures >= MAX_LOGIN_FAILURES:
            st.session_state[LOCKED_KEY] = time.time() + LOCKOUT_SECONDS
            st.session_state[FAILURES_KEY] = 0
        flash("error", "用户名或密码错误，或账号已停用。")
        return
    st.session_state[FAILURES_KEY] = 0
    st.session_state[USER_KEY] = user["username"]
    st.session_state[SEEN_KEY] = time.time()


def logout(message: str | None = None) -> None:
    """End the session: forget the user and everything derived from them."""
    for key in list(st.session_state.keys()):
        if key != FLASH_KEY:
            del st.session_state[key]
    if message:
        flash("info", message)


def login_form(store: Store) -> None:
    """The only thing shown before login."""
    st.title("信用风险监测预警平台")
    st.caption("朝阳市市场监管信用风险分类监管系统 · 请使用分配的账号登录")
    show_flash()
    with st.form("login_form"):
        st.text_input("用户名", key="login_username")
        st.text_input("密码", type="password", key="login_password")
        st.form_submit_button("登录", type="primary", on_click=_login, args=(store,))


def session_user(store: Store, settings: DashboardSettings) -> dict[str, Any] | None:
    """The logged-in user, re-read from the store on every run (a disabled account ends the session)."""
    username = st.session_state.get(USER_KEY)
    if not username:
        return None
    now = time.time()
    if now - st.session_state.get(SEEN_KEY, now) > settings.session_timeout_minutes * 60:
        logout("长时间未操作，已自动退出，请重新登录。")
        return None
    user = store.get_user(username)
    if user is None or not user["active"] or user["role"] not in settings.roles:
        logout("账号已停用或权限已变更，请重新登录。")
        return None
    st.session_state[SEEN_KEY] = now
    return user


def access() -> LakeAccess:
    """The logged-in user's data access (set up by app.py before any page runs)."""
    acc = st.session_state.get(ACCESS_KEY)
    if acc is None:  # a page script run on its own, outside the app: show nothing
        st.warning("请先登录。")
        st.stop()
    return acc


def settings() -> DashboardSettings:
    """The dashboard settings."""
    return dashboard_settings()


def run_action(action: Callable[[], Any], success: str) -> bool:
    """Run a workflow action from a callback; its outcome becomes a message on the next run."""
    try:
        action()
    except RadarError as e:
        flash("error", str(e))
        return False
    flash("success", success)
    return True


# ---------------------------------------------------------------- batches
def batch_selector(acc: LakeAccess) -> str | None:
    """The scoring batch (as-of date) all pages read; newest by default, chosen in the sidebar."""
    dates = list(reversed(acc.as_of_dates(SCORES)))
    if not dates:
        return None
    current = st.session_state.get(AS_OF_KEY)
    index = dates.index(current) if current in dates else 0
    return st.sidebar.selectbox("评分批次（数据截止日）", dates, index=index, key=AS_OF_KEY)


def table_as_of(acc: LakeAccess, table: str, label: str, key: str) -> str | None:
    """A per-page selector of one table's as-of date (defaulting to the one nearest the batch)."""
    dates = list(reversed(acc.as_of_dates(table)))
    if not dates:
        return None
    default = acc.pick_as_of(table, st.session_state.get(AS_OF_KEY))
    return st.selectbox(label, dates, index=dates.index(default) if default in dates else 0, key=key)


def current_batch() -> str | None:
    """The batch chosen in the sidebar (None: the newest of each table)."""
    return st.session_state.get(AS_OF_KEY)


# ---------------------------------------------------------------- formatting
def fmt_time(value: datetime | None) -> str:
    """A UTC time shown in the configured zone, to the minute."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(settings().timezone)).strftime("%Y-%m-%d %H:%M")


def fmt_date(value: date | str | None) -> str:
    """A date as YYYY-MM-DD."""
    if value is None:
        return "—"
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def fmt_score(value: float | None) -> str:
    """A risk score with three decimals."""
    return "—" if value is None else f"{float(value):.3f}"


def show_table(
    df: pl.DataFrame, columns: dict[str, str], empty: str = "无记录。", limit: int | None = None
) -> None:
    """A frame with its columns renamed to Chinese (only those listed and present), or a notice."""
    if df.is_empty():
        st.caption(empty)
        return
    keep = [c for c in columns if c in df.columns]
    out = df.select(keep).with_columns(pl.col(pl.String).fill_null("")).rename({c: columns[c] for c in keep})
    rows = limit or settings().pages.table_rows
    if out.height > rows:
        st.caption(f"共 {out.height} 条，仅显示前 {rows} 条。")
        out = out.head(rows)
    st.dataframe(out, hide_index=True)
