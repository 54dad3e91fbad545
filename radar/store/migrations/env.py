"""Alembic environment of the store.

Run programmatically by :class:`radar.store.Store`, which passes an open connection (already inside a
locked transaction) as ``config.attributes["connection"]``. A developer can also point Alembic at a
database through :func:`radar.store.migrate.alembic_config` to autogenerate a new revision.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from radar.store.migrate import VERSION_TABLE
from radar.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        compare_type=True,
        **kwargs,
    )


def run_offline() -> None:
    """Emit the migration SQL for a URL instead of running it."""
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the connection the store handed over (or on the configured URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
