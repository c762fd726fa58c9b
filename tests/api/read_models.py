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

import httpx
import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from activities.deadlines import Clocks
from api.main import create_app
from settings import Settings
from store.db import make_engine, migrate
from store.seed import seed
from tests.api.conftest import Api
from tests.conftest import fresh_postgres_database
from workers.main import build_worker


@asynccontextmanager
async def own_stack(
    settings: Settings,
    engine: Engine,
    temporal_env: WorkflowEnvironment,
    clocks: Clocks | None = None,
) -> AsyncIterator[Api]:
    """The app with a worker of its own (on ``settings.task_queue``, the session's time-skipping
    server) over ``engine``; ``clocks`` replaces the worker's clock activities."""
    async with httpx.AsyncClient(timeout=5, trust_env=False) as outgoing:
        worker = build_worker(
            temporal_env.client,
            settings,
            engine,
            outgoing,
            clocks=clocks,
        )
        async with worker:
            app = create_app(settings, temporal=temporal_env.client, engine=engine)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://testserver/api/v1"
                ) as http:
                    yield Api(http, engine, temporal_env, settings)


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
        migrate(url)
        engine = make_engine(url)
        seed(engine, on_postgres)
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
