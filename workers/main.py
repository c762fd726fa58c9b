"""The worker process: runs IssueWorkflow and the activities it calls, and the dispatcher.

Stateless: everything it knows is in Temporal and the read model, so more workers scale out and a
killed worker loses nothing (another, or the same restarted, picks the tasks up).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import typing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.deadlines import Clocks, build_clocks
from activities.deliberation_record import DeliberationRecorder
from activities.dispatch import Dispatcher
from activities.duties import DutyActivities
from activities.duty_report import DutyReports
from activities.notify import Notifier
from activities.record import Recorder
from domain import search_attributes
from domain.payloads import DATA_CONVERTER, warm
from settings import Settings
from store.db import make_engine
from workers.bytecode import cache_bytecode
from workflows.deliberation import DeliberationWorkflow
from workflows.duty import DutyWorkflow
from workflows.issue import IssueWorkflow

log = logging.getLogger("linkage.worker")

MAX_CONCURRENT_ACTIVITIES = 64


def activities_of(
    clocks: Clocks, recorder: Recorder, notifier: Notifier, timezone: str = "Asia/Shanghai"
) -> list[Any]:
    """Every activity the issue, deliberation and duty workflows call by name."""
    duties = DutyActivities(recorder.engine, clocks.calendar)
    return [
        duties.duty_plan,
        duties.duty_schedule_running,
        duties.duty_facts,
        duties.duty_agenda,
        duties.record_duty,
        DutyReports(recorder.engine, timezone).duty_report,
        clocks.terms_for,
        clocks.deliberation_terms,
        DeliberationRecorder(recorder.engine).record,
        clocks.level_clock,
        clocks.deadline,
        clocks.next_reminder,
        recorder.record,
        notifier.notify,
        notifier.deliver,
        notifier.delivery_failed,
    ]


# Every workflow a worker runs: issues, deliberations and the calendar's duties.
WORKFLOWS = (IssueWorkflow, DeliberationWorkflow, DutyWorkflow)


def start_types(*workflows: type) -> list[Any]:
    """The types the workflows' runs start with: what a cold run decodes first."""
    return [
        hint
        for cls in workflows
        for name, hint in typing.get_type_hints(cls.run).items()  # type: ignore[attr-defined]
        if name != "return"
    ]


def build_worker(
    client: Client,
    settings: Settings,
    engine: Engine,
    http: httpx.AsyncClient,
    *,
    clocks: Clocks | None = None,
    notifier: Notifier | None = None,
    executor: ThreadPoolExecutor | None = None,
    task_queue: str | None = None,
) -> Worker:
    """A worker for the issue task queue; tests pass their own clocks (calendar), notifier and
    queue."""
    cache_bytecode(*WORKFLOWS)
    warm(*start_types(*WORKFLOWS))
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_of(
            clocks or build_clocks(settings),
            Recorder(engine),
            notifier or Notifier(engine, http, settings),
            settings.timezone,
        ),
        # Synchronous activities (SQL, calendar) run in threads so the event loop stays free; one
        # thread per activity slot, or slots would wait on threads.
        activity_executor=executor or ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES),
        max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
        # An issue out of the cache replays its whole history at its next event: in a burst of
        # deadlines that is most of the work once the open issues outnumber the cache.
        max_cached_workflows=settings.worker_cached_issues,
        # A task that waits out this on the worker's own (sticky) queue goes to the shared queue,
        # and whoever takes it replays the whole history: in a burst of deadlines the SDK's 10 s
        # ran out for 0.6 of the escalations (bench/README.md). Longer is not free: a task queued
        # for a worker that crashed waits this long too, and with 60 s the soak's actions and
        # queries on those issues outwaited the API's patience. So the default stays 10 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.worker_sticky_seconds),
    )


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Create the custom search attributes the server lacks; returns the names it added."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        present = set(listed.custom_attributes)
    except RPCError as exc:
        # The time-skipping test server can add attributes but not list them.
        if exc.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        present = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in search_attributes.ALL
        if key.name not in present
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


async def connect(settings: Settings) -> Client:
    """A Temporal client for the configured server, retried while the server is starting."""
    last: Exception | None = None
    for _ in range(60):
        try:
            return await Client.connect(
                settings.resolved_temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=DATA_CONVERTER,
            )
        except Exception as exc:  # the server may still be starting: retry for a minute
            last = exc
            await asyncio.sleep(1)
    raise RuntimeError(f"cannot reach Temporal at {settings.resolved_temporal_address}: {last}")


WorkerFactory = Callable[[Client, Engine, httpx.AsyncClient], Worker]


@asynccontextmanager
async def serving(
    worker: Worker, engine: Engine, http: httpx.AsyncClient, settings: Settings
) -> AsyncIterator[None]:
    """Run ``worker`` and, beside it, the dispatcher that delivers the notices its records leave
    in the outbox: what a worker process runs, for tests that build their own worker too."""
    async with worker, Dispatcher(engine, http, settings):
        yield


async def run_worker(settings: Settings, make: WorkerFactory | None = None) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight tasks and stop.

    ``make`` builds the worker from the connected parts; the benchmarks pass one with their own
    clocks and options, production takes ``build_worker`` as it is.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    client = await connect(settings)
    engine = make_engine(settings.resolved_database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with httpx.AsyncClient(timeout=10.0) as http:
        if make is None:
            worker = build_worker(client, settings, engine, http)
        else:
            worker = make(client, engine, http)
        log.info("worker polling %s on %s", settings.task_queue, settings.resolved_temporal_address)
        async with serving(worker, engine, http, settings):
            await stop.wait()
    engine.dispose()
    log.info("worker stopped")
