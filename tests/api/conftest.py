"""The real app over a real stack: a seeded SQLite read model, a time-skipping Temporal server and
a worker with every activity, reached through ``httpx.ASGITransport``.

One stack serves the whole session (argon2 and server start-up are slow on two cores); each test
registers its own issues, and tests that count rows use villages no other test touches.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from activities.deadlines import Clocks
from api.answers import settled
from api.main import create_app
from domain.lifecycle.trail import whole_trail
from domain.models import IssueState
from domain.payloads import DATA_CONVERTER
from settings import Settings
from store.issue_state import events_of
from store.tables import Issue
from tests.conftest import seeded_engine, stack_settings, venv_binary
from workers.main import build_worker, register_search_attributes, serving
from workflows.issue import workflow_id

# The demo county's units (镇安县): two villages of one township, and another township.
COUNTY = "611025"
TOWNSHIP = "611025001"  # 永乐街道
VILLAGE = "611025001001"  # 新城社区居委会
NEIGHBOUR = "611025001002"  # 镇城社区居委会: same township, another village
OTHER_TOWNSHIP = "611025101"  # 回龙镇
PHONE = "13800001234"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return stack_settings(tmp_path_factory.mktemp("api"), "api-test")


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = seeded_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=DATA_CONVERTER,
    )
    # The workflow upserts typed search attributes; a server that does not know them fails every
    # workflow task (the dev server gets them as start-up flags).
    await register_search_attributes(env.client, env.client.namespace)
    yield env
    await env.shutdown()


@dataclass
class Api:
    """The calls tests make, as the demo accounts (password ``demo``)."""

    http: httpx.AsyncClient
    engine: Engine
    env: WorkflowEnvironment
    settings: Settings | None = None  # the worker's: its clocks settle a live state
    tokens: dict[str, str] = field(default_factory=dict)

    async def headers(self, username: str | None) -> dict[str, str]:
        if username is None:
            return {}
        if username not in self.tokens:
            r = await self.http.post("/auth/token", data={"username": username, "password": "demo"})
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def register(
        self,
        village: str = VILLAGE,
        *,
        as_user: str | None = None,
        key: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        body = {
            "village_code": village,
            "category": "sanitation",
            "title": "村道垃圾堆放",
            "description": "路边垃圾堆放多日无人清运",
            "reporter": {"name": "张三", "phone": PHONE},
            **fields,
        }
        headers = await self.headers(as_user or f"village-{village}")
        if key is not None:
            headers["Idempotency-Key"] = key
        r = await self.http.post("/issues", json=body, headers=headers)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    async def act(
        self,
        issue_id: str,
        action: str,
        body: dict[str, Any] | None = None,
        *,
        as_user: str | None,
        key: str | None = None,
    ) -> httpx.Response:
        headers = await self.headers(as_user)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.post(f"/issues/{issue_id}/{action}", json=body, headers=headers)

    async def ok(
        self, issue_id: str, action: str, body: dict[str, Any] | None = None, *, as_user: str
    ) -> dict[str, Any]:
        r = await self.act(issue_id, action, body, as_user=as_user)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    async def get(self, path: str, *, as_user: str | None, **params: Any) -> httpx.Response:
        return await self.http.get(path, headers=await self.headers(as_user), params=params)

    async def state(self, issue_id: str) -> IssueState:
        """The live state as ``GET /issues/{id}/live`` reads it: settled, with its whole audit
        trail (recorded events, then unrecorded ones)."""
        handle = self.env.client.get_workflow_handle(workflow_id(issue_id))
        state: IssueState = await handle.query("state", result_type=IssueState)
        if self.settings is not None:
            state = settled(self.settings, state)
        with Session(self.engine) as session:
            recorded = events_of(session, issue_id)
        state.events = whole_trail(recorded, state)
        return state

    async def settled(self, issue_id: str) -> Issue:
        """Wait until the read model reflects the workflow's latest event."""
        target = (await self.state(issue_id)).next_seq - 1
        for _ in range(400):
            with Session(self.engine) as session:
                row = session.get(Issue, issue_id)
                if row is not None and row.last_seq >= target:
                    return row
            await asyncio.sleep(0.025)
        raise AssertionError(f"the read model did not catch up with issue {issue_id}")


@asynccontextmanager
async def own_stack(
    settings: Settings,
    engine: Engine,
    temporal_env: WorkflowEnvironment,
    clocks: Clocks | None = None,
) -> AsyncIterator[Api]:
    """The app with a worker of its own (on ``settings.task_queue``, the session's time-skipping
    server) over ``engine``, and beside the worker the dispatcher that fans notices out of the
    outbox; ``clocks`` replaces the worker's clock activities."""
    async with httpx.AsyncClient(timeout=5, trust_env=False) as outgoing:
        worker = build_worker(temporal_env.client, settings, engine, outgoing, clocks=clocks)
        async with serving(worker, engine, outgoing, settings):
            app = create_app(settings, temporal=temporal_env.client, engine=engine)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://testserver/api/v1"
                ) as http:
                    yield Api(http, engine, temporal_env, settings)


@pytest.fixture(scope="session")
async def api(
    settings: Settings, engine: Engine, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Api]:
    """The session's stack: one worker, one app, on the seeded SQLite read model."""
    async with own_stack(settings, engine, temporal_env) as stack:
        yield stack


@pytest.fixture(scope="session")
def client(api: Api) -> httpx.AsyncClient:
    return api.http


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem detail with this status, and return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:linkage:problem:")
    assert body["title"] and "instance" in body
    return body


def instants(value: Any) -> Any:
    """The value with every ISO timestamp read as an instant (+08:00 and Z name the same)."""
    if isinstance(value, dict):
        return {k: instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [instants(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and "T" in value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value
