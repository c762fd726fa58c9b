"""Migrations, engines and the UTC timestamp column, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import StatementError
from sqlmodel import SQLModel

import store.tables  # noqa: F401 - registers the tables on SQLModel.metadata
from store.db import alembic_config, make_engine, migrate, normalise_url, session_scope
from store.tables import ApiKey, Department


def test_migrations_create_every_table(db_engine: Engine) -> None:
    tables = set(inspect(db_engine).get_table_names())

    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrations_match_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)

    assert diff == []


def test_migrate_twice_is_a_no_op(db_engine: Engine, db_url: str) -> None:
    migrate(db_url)

    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    with db_engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head


def test_timestamps_read_back_as_aware_utc(db_engine: Engine) -> None:
    shanghai = timezone(timedelta(hours=8))
    created = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=shanghai)
    with session_scope(db_engine) as session:
        session.add(Department(code="d", name="部门", short_name="部门", county_code="611025"))
        session.flush()  # no relationship() tells the unit of work the department goes first
        session.add(
            ApiKey(prefix="p", key_hash="h", department_code="d", name="k", created_at=created)
        )

    with session_scope(db_engine) as session:
        key = session.get(ApiKey, 1)
        assert key is not None
        assert key.created_at.tzinfo is not None
        assert key.created_at.utcoffset() == timedelta(0)
        assert key.created_at == created
        assert key.created_at == datetime(2025, 3, 1, 1, 30, 15, 123456, tzinfo=UTC)


def test_naive_timestamps_are_refused(db_engine: Engine) -> None:
    with session_scope(db_engine) as session:
        session.add(Department(code="d", name="部门", short_name="部门", county_code="611025"))
    with pytest.raises(StatementError, match="naive datetime"), session_scope(db_engine) as session:
        session.add(
            ApiKey(
                prefix="p",
                key_hash="h",
                department_code="d",
                name="k",
                created_at=datetime(2025, 1, 1),
            )
        )


def test_sqlite_engine_sets_wal_foreign_keys_and_busy_timeout(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    engine.dispose()


def test_postgres_urls_get_the_psycopg_driver() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
