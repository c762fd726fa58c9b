"""Alembic environment: our tables' metadata, SQLite-safe batch operations, the URL from settings.

``store.db.migrate`` passes the URL as a config attribute; the ``alembic`` command line falls back
to ``LINKAGE_DATABASE_URL`` (or the default SQLite file) through the settings.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

import store.tables
from store.db import make_engine, normalise_url

config = context.config
if config.config_file_name is not None:
    # The command line's logging; an embedding process keeps its own.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = SQLModel.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if url is None:
        from settings import get_settings

        url = get_settings().resolved_database_url
    return normalise_url(str(url))


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import application code that may change later: write our UTC wrapper
    # as the plain column type it stands for.
    if type_ == "type" and isinstance(obj, store.tables.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=True,
        render_item=_render_item,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # Foreign keys off: a batch rebuild drops and recreates tables that others reference.
    engine: Engine = make_engine(_database_url(), foreign_keys=False)
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
