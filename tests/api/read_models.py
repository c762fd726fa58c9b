"""The real app on either read model, for the API tests where the database matters.

``any_read_model`` is the session's SQLite stack (``tests/api/conftest.py``), then the same app
over a fresh PostgreSQL database with a worker of its own (its own task queue, on the session's
time-skipping server). A test module imports the fixture to run its tests on both; one that
needs the settings too (to build apps of its own) enters ``postgres_stack`` itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.api.conftest import Api, own_stack
from tests.conftest import fresh_postgres_database, seeded_engine


@asynccontextmanager
async def postgres_stack(
    settings: Settings, temporal_env: WorkflowEnvironment
) -> AsyncIterator[tuple[Api, Settings]]:
    """The app over a fresh, seeded PostgreSQL database with a worker of its own (its own task
    queue, on the session's time-skipping server), and the settings it runs with."""
    with fresh_postgres_database() as url:
        on_postgres = settings.model_copy(
            update={"database_url": url, "task_queue": f"api-pg-{uuid.uuid4().hex[:8]}"}
        )
        engine = seeded_engine(on_postgres)
        try:
            async with own_stack(on_postgres, engine, temporal_env) as api:
                yield api, on_postgres
        finally:
            engine.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def any_read_model(
    request: pytest.FixtureRequest,
    api: Api,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
) -> AsyncIterator[Api]:
    if request.param == "sqlite":
        yield api
        return
    async with postgres_stack(settings, temporal_env) as (on_postgres, _):
        yield on_postgres
