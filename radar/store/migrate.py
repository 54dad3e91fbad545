"""Engines and schema migrations of the store.

The store migrates itself to the newest Alembic revision when it is opened. Several processes may open
a fresh database at once (the dashboard, a scoring run, a CLI command), so the upgrade runs inside one
transaction that holds the database's write lock: ``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped
advisory lock on PostgreSQL. Whoever comes second waits, then finds the schema at head and does nothing.
Before that, each SQLite connection switches the file to write-ahead logging (``enable_wal``).

To write a new revision after changing ``models.py``::

    from alembic import command
    from radar.store.migrate import alembic_config
    command.revision(alembic_config("sqlite:///scratch.db"), message="...", autogenerate=True)
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from radar.errors import RadarError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# not "alembic_version": the store may share a PostgreSQL database with MLflow, which uses that name
VERSION_TABLE = "radar_store_version"
# key of the PostgreSQL advisory lock that serialises migrations (any constant shared by all processes)
_PG_MIGRATION_LOCK = 0x7261646172  # "radar"
SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "radar_write"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for the store's migrations, without any alembic.ini."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with this radar."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    """The revision a database is at (None for an empty database)."""
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def enable_wal(cursor: Any, timeout_s: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
    """Put a SQLite database in write-ahead-log mode, waiting up to ``timeout_s`` for other connections.

    The switch needs the file to itself, and SQLite does not always wait for it: when several processes open
    a fresh database at once, one of them can get "database is locked" at once, busy timeout or not (here in
    about one of a hundred rounds of eight processes opening a new file). So the switch is retried until the
    timeout. Once the file is in WAL mode the statement only reads the mode.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def make_engine(url: str) -> Engine:
    """An engine for the store's URL; SQLite gets WAL, a busy timeout and explicit BEGIN."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    in_memory = u.database in (None, "", ":memory:")
    if in_memory:
        # one shared connection, or every checkout would see its own empty database
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # take transaction control away from the sqlite3 module (it skips BEGIN before DDL and SELECT)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        if not in_memory:
            enable_wal(cur)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # writers lock the file up front: no deadlock upgrading a read lock, waits honour busy_timeout
        mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def lock_for_write(conn: Connection | Session, key: int) -> None:
    """Serialise this transaction with others using the same key (PostgreSQL; SQLite already is).

    Pass the Session when one runs the transaction: a statement sent past it on its connection would
    start a transaction the Session does not own, and never commits.
    """
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def upgrade_to_head(engine: Engine) -> str | None:
    """Migrate the database to the newest revision, safely against concurrent openers; returns it."""
    head = head_revision()
    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as conn:
        current = current_revision(conn)
        if current == head:
            return head
        if current is not None and current not in {r.revision for r in script.walk_revisions()}:
            raise RadarError(
                f"{engine.url.render_as_string(hide_password=True)}: the store's schema is at revision {current}, "
                f"which this radar does not know (newest known: {head}); it was written by a newer radar"
            )
        conn.rollback()
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            lock_for_write(conn, _PG_MIGRATION_LOCK)
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    return head
