"""Registration and every action answer within ``answer_timeout_seconds`` whatever the worker does,
against a real Temporal dev server with no worker, then a ``linkage worker`` stopped with SIGSTOP.

Before, ``POST /issues`` gave no answer for minutes while the worker was paused (update-with-start
retries until a worker accepts), the caller never learnt its tracking code or PIN, actions
answered only after 30 s, and ``/healthz`` said ok throughout.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from domain import search_attributes
from domain.payloads import DATA_CONVERTER
from settings import Settings
from store.tables import Issue, IssueEvent
from tests.api.conftest import VILLAGE, problem
from tests.conftest import seeded_engine, stack_settings, venv_binary
from tests.e2e.stack import free_ports
from tests.faults.stack import WorkerProcess, eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ANSWER = 4.0  # answer_timeout_seconds of this stack
SLACK = 3.0  # two busy cores: what an answer may take beyond the bound
LONG_POLL = 2  # the server's long poll, so a stopped worker's last poll ages quickly
ABSENT = 6.0  # worker_absent_after_seconds: three long polls
CLERK = f"village-{VILLAGE}"


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    env: WorkflowEnvironment
    http: httpx.AsyncClient
    worker: WorkerProcess
    tokens: dict[str, str]

    async def headers(self, key: str | None = None) -> dict[str, str]:
        if CLERK not in self.tokens:
            r = await self.http.post("/auth/token", data={"username": CLERK, "password": "demo"})
            self.tokens[CLERK] = r.json()["access_token"]
        headers = {"Authorization": f"Bearer {self.tokens[CLERK]}"}
        return headers | ({"Idempotency-Key": key} if key else {})

    async def timed(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        r = await self.http.request(method, url, **kwargs)
        return r, time.monotonic() - started

    async def register(self, key: str, **changes: Any) -> tuple[httpx.Response, float]:
        body = {
            "village_code": VILLAGE,
            "category": "sanitation",
            "title": "村道垃圾堆放",
            "description": "路边垃圾堆放多日无人清运",
            "reporter": {"name": "张三", "phone": "13800001234"},
            **changes,
        }
        return await self.timed("POST", "/issues", json=body, headers=await self.headers(key))

    def row(self, issue_id: str) -> Issue | None:
        with Session(self.engine) as session:
            return session.get(Issue, issue_id)

    async def recorded(self, issue_id: str) -> Issue:
        """The issue's row, once the worker has written it."""

        async def present() -> bool:
            return self.row(issue_id) is not None

        await eventually(present, 60, f"the row of issue {issue_id}")
        row = self.row(issue_id)
        assert row is not None
        return row

    async def worker_is(self, expected: str, within: float) -> None:
        async def check() -> bool:
            body = (await self.http.get("/healthz")).json()
            return body.get("worker") == expected

        await eventually(check, within, f"/healthz saying the worker is {expected}")

    @contextmanager
    def worker_paused(self) -> Iterator[None]:
        """``kill -STOP`` the worker: its connections stay open, it answers nothing."""
        os.kill(self.worker.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.worker.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    data = tmp_path_factory.mktemp("bounded")
    [port] = free_ports(1)
    env = await WorkflowEnvironment.start_local(
        port=port,
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=DATA_CONVERTER,
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=[
            "--dynamic-config-value",
            f'matching.longPollExpirationInterval="{LONG_POLL}s"',
        ],
    )
    settings = stack_settings(
        data,
        "bounded",
        temporal_address=f"127.0.0.1:{port}",
        answer_timeout_seconds=ANSWER,
        worker_absent_after_seconds=ABSENT,
    )
    engine = seeded_engine(settings)
    worker = WorkerProcess(settings, data / "worker.log")
    app = create_app(settings, temporal=env.client, engine=engine)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver/api/v1", timeout=60
            ) as http:
                yield Stack(settings, engine, env, http, worker, {})
    finally:
        if worker.running:
            os.kill(worker.pid, signal.SIGCONT)
        worker.stop()
        engine.dispose()
        await env.shutdown()


def _issues(stack: Stack) -> int:
    with Session(stack.engine) as session:
        return session.exec(select(func.count()).select_from(Issue)).one()


async def test_without_a_worker_registration_answers_201_in_time_and_the_worker_catches_up(
    stack: Stack,
) -> None:
    assert not stack.worker.running
    health = await stack.http.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json() == {
        "status": "degraded",
        "database": "ok",
        "temporal": "ok",
        "worker": "absent",
    }

    key = f"no-worker-{uuid.uuid4()}"
    asked = time.monotonic()
    r, took = await stack.register(key, urgency="urgent")  # 4 hours: the deadline to the second
    assert r.status_code == 201, r.text
    assert took < ANSWER + SLACK, took
    created = r.json()
    assert created["status"] == "pending_accept" and created["level"] == "village"
    assert created["unit"] == {"code": VILLAGE, "name": "新城社区居委会"}
    assert len(created["pin"]) == 6 and created["tracking_code"]
    deadline = datetime.fromisoformat(created["deadline"])
    assert stack.row(created["id"]) is None  # nothing recorded: no worker ran

    # The caller retries (it had no answer it trusted): the same issue, code, PIN and deadline.
    again, took = await stack.register(key, urgency="urgent")
    assert again.status_code == 201 and took < ANSWER + SLACK, (again.text, took)
    assert again.json() == created
    # The same key with another body is refused, although only the workflow knows the first.
    other, took = await stack.register(key, urgency="normal")
    assert problem(other, 422)["field"] == "Idempotency-Key" and took < ANSWER + SLACK

    # The worker comes: it records the issue, at the level answered, counting its deadline from
    # its own start (later by as long as it was away, never earlier); the PIN works.
    stack.worker.start()
    await stack.worker.ready()
    row = await stack.recorded(created["id"])
    assert (row.status, row.level, row.unit_code) == ("pending_accept", "village", VILLAGE)
    assert row.deadline is not None
    assert deadline <= row.deadline <= deadline + timedelta(seconds=time.monotonic() - asked)
    assert row.tracking_code == created["tracking_code"]
    citizen = {"tracking_code": created["tracking_code"], "pin": created["pin"]}
    tracked = await stack.http.post("/issues/track", json=citizen)
    assert tracked.status_code == 200, tracked.text
    await stack.worker_is("ok", within=30)
    assert (await stack.http.get("/healthz")).json()["status"] == "ok"


async def test_with_the_worker_stopped_actions_are_503_and_registrations_201_in_time(
    stack: Stack,
) -> None:
    if not stack.worker.running:
        stack.worker.start()
        await stack.worker.ready()
    first, _ = await stack.register(f"before-{uuid.uuid4()}")
    assert first.status_code == 201, first.text
    issue_id = first.json()["id"]
    await stack.recorded(issue_id)

    accept_key = f"accept-{uuid.uuid4()}"
    with stack.worker_paused():
        r, took = await stack.timed(
            "POST", f"/issues/{issue_id}/accept", headers=await stack.headers(accept_key)
        )
        details = problem(r, 503)
        assert took < ANSWER + SLACK, took
        assert details["type"].endswith("workers-unavailable")
        assert int(r.headers["retry-after"]) > 0

        before = _issues(stack)
        key = f"paused-{uuid.uuid4()}"
        registered, took = await stack.register(key)
        assert registered.status_code == 201 and took < ANSWER + SLACK, (registered.text, took)
        again, took = await stack.register(key)
        assert again.json() == registered.json() and took < ANSWER + SLACK
        assert _issues(stack) == before

        await stack.worker_is("absent", within=ABSENT + 4 * LONG_POLL + 10)

    # The worker goes on: the issue registered meanwhile is recorded at its first level, and the
    # retried action applies once, whether the paused one went through or not.
    row = await stack.recorded(registered.json()["id"])
    assert (row.status, row.level, row.tracking_code) == (
        "pending_accept",
        "village",
        registered.json()["tracking_code"],
    )
    assert row.deadline is not None
    assert row.deadline >= datetime.fromisoformat(registered.json()["deadline"])
    retried, _ = await stack.timed(
        "POST", f"/issues/{issue_id}/accept", headers=await stack.headers(accept_key)
    )
    assert retried.status_code == 200, retried.text

    async def accepted_once() -> bool:
        with Session(stack.engine) as session:
            events = session.exec(
                select(IssueEvent.type).where(col(IssueEvent.issue_id) == issue_id)
            ).all()
        assert events.count("accepted") <= 1, events
        return events.count("accepted") == 1

    await eventually(accepted_once, 30, "the accept recorded once")
    await stack.worker_is("ok", within=30)
