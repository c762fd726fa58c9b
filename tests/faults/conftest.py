"""Fault tests: the stack's real processes, broken on purpose (DESIGN "Non-negotiables").

Every test gets a Temporal dev server of its own on a SQLite file under its tmp directory, a read
model (a SQLite file, or a PostgreSQL database the worker may reach only through a proxy the test
controls) and one ``linkage worker`` subprocess on the drill policy, which the test may ``kill -9``.
Issues are registered and acted on straight through a Temporal client, as the API would: the API
is not what these tests break. The checks every test shares live here too: the ladder a workflow
went through, the clocks it still owes, and the read model against the live workflow.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.deadlines import build_clocks
from api.updates import admitted
from domain.models import (
    OPEN_STATUSES,
    ActionResult,
    Actor,
    EventType,
    IssueStart,
    IssueState,
    NewIssue,
    Outcome,
    Reporter,
    Role,
    Status,
    Urgency,
    Withdraw,
)
from domain.payloads import DATA_CONVERTER, warm
from settings import Environment, Settings
from store.db import make_engine, migrate
from store.seed import seed
from store.tables import Issue, IssueEvent
from store.units_import import ladder
from tests.e2e.stack import free_ports
from tests.faults.stack import DevServer, WorkerProcess, eventually
from tests.workflows.conftest import (
    BUSY_PATIENCE,
    COUNTY,
    VILLAGE,
    Harness,
    clerk,
    histories_of,
    settled_read_model,
)
from workflows.issue import WORKFLOW_NAME, IssueWorkflow, workflow_id

ADMIN = Actor(user="county-admin", role=Role.ADMIN, unit_code=COUNTY)
LEVEL_ORDER = ("village", "township", "county")


@dataclass
class Stack:
    """One test's running stack and the handles to break it."""

    settings: Settings
    server: DevServer
    worker: WorkerProcess
    client: Client
    engine: Engine  # the read model, reached directly (never through the test's proxy)
    harness: Harness

    def logs(self) -> str:
        return f"{self.server.tail()}\n{self.worker.tail()}"

    async def reconnect(self) -> None:
        """A fresh client after the server came back (the old one may hold a dead channel)."""
        self.client = await self.server.connect()
        self.harness.env = WorkflowEnvironment.from_client(self.client)

    async def states(self, handles: Iterable[WorkflowHandle[Any, Any]]) -> list[IssueState]:
        """Every issue's live state, a few queries at a time (each is a workflow task)."""
        gate = asyncio.Semaphore(16)

        async def one(handle: WorkflowHandle[Any, Any]) -> IssueState:
            async with gate:
                return await self.state(handle)

        return list(await asyncio.gather(*(one(h) for h in handles)))

    async def state(self, handle: WorkflowHandle[Any, Any], patience: float = 60) -> IssueState:
        """The live state; a query may fail for a while after a fault, so it is asked again.

        (A worker that finds itself rebuilding a workflow on a stale clock fails that task on
        purpose, see ``workflows.issue.StaleClockError``; a query answered that way fails too,
        until the next real workflow task has caught the workflow up.)
        """
        deadline = time.monotonic() + patience
        while True:
            try:
                return await asyncio.wait_for(self.harness.state(handle), 20)
            except (WorkflowQueryFailedError, RPCError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)


StackFactory = Callable[..., AbstractAsyncContextManager[Stack]]


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


async def keep_histories(stack: Stack, name: str) -> Path:
    """Write every issue's history (Temporal's JSON, as ``temporal workflow show`` prints it)
    and the worker's log under ``test-artifacts/<test>/``: a failed fault test is explained by
    the histories, and a nondeterministic one can be replayed alone from them.
    """
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    for handle in list(stack.harness.handles):
        with suppress(Exception):
            history = await asyncio.wait_for(handle.fetch_history(), 20)
            (folder / f"{handle.id}.json").write_text(history.to_json())
    (folder / "worker.log").write_text(stack.worker.tail(10_000))
    return folder


@pytest.fixture
def make_stack(tmp_path: Path, request: pytest.FixtureRequest) -> StackFactory:
    """Start a stack: ``async with make_stack(worker_url=..., read_url=...) as stack``.

    Without URLs the read model is a SQLite file beside the Temporal store. ``worker_url`` is what
    the worker uses, ``read_url`` what the test reads (they differ when a proxy sits between).
    """

    @asynccontextmanager
    async def start(
        worker_url: str | None = None, read_url: str | None = None
    ) -> AsyncIterator[Stack]:
        sqlite = f"sqlite:///{tmp_path / 'linkage.db'}"
        temporal_port, ui_port = free_ports(2)
        settings = Settings(
            environment=Environment.TEST,
            data_dir=tmp_path,
            database_url=worker_url or sqlite,
            temporal_address=f"127.0.0.1:{temporal_port}",
            temporal_port=temporal_port,
            temporal_ui_port=ui_port,
            policy="drill",
            demo_accounts=False,
            task_queue="linkage-faults",
        )
        url = read_url or worker_url or sqlite
        migrate(url)
        engine = make_engine(url)
        seed(engine, settings)
        server = DevServer(settings, tmp_path)
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        try:
            server.start()
            client = await server.connect()
            worker.start()
            await worker.ready()
            harness = Harness(
                WorkflowEnvironment.from_client(client),
                engine,
                settings.task_queue,
                clocks=build_clocks(settings),
            )
            stack = Stack(settings, server, worker, client, engine, harness)
            try:
                yield stack
            except BaseException as exc:
                # The processes' own words are what explains a failed fault test.
                exc.add_note(stack.logs())
                with suppress(Exception):
                    kept = await keep_histories(stack, request.node.name)
                    exc.add_note(f"histories and the worker's log kept in {kept}")
                raise
        finally:
            worker.stop()
            server.stop()
            engine.dispose()

    return start


@asynccontextmanager
async def watched(
    stack: Stack, handles: list[WorkflowHandle[Any, Any]], most: int = 24
) -> AsyncIterator[None]:
    """Query issues all along (up to ``most`` of them at once), as the API and dashboard do.

    Queries are part of the fault. One sent while the only worker is dead waits out the dead
    worker's sticky queue, then goes to whichever worker polls next, with the history as it is by
    then (timers may have fired meanwhile): that is how a new worker often first rebuilds a
    workflow, and the workflow must go on from there exactly as a replay would. Failures (a server
    that is down) are expected and ignored.
    """
    stop = asyncio.Event()

    async def poll(index: int) -> None:
        while not stop.is_set():
            if index < len(handles):  # the list may still be filling up
                with suppress(Exception):
                    await asyncio.wait_for(stack.harness.state(handles[index]), 30)
            await asyncio.sleep(0.5)

    tasks = [asyncio.create_task(poll(index)) for index in range(most)]
    try:
        yield
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---- registering and quiescing ------------------------------------------------------------------


async def register_many(
    stack: Stack, count: int, *, parallel: int = 8, village: str = VILLAGE
) -> list[WorkflowHandle[Any, Any]]:
    """Register ``count`` issues at ``village``, a few at a time, as the API would.

    The ``registered`` handshake waits for the first level to be entered; on a loaded machine it
    may time out, so it is asked again (an update is idempotent on its id) rather than failing.
    """
    gate = asyncio.Semaphore(parallel)
    with Session(stack.engine) as session:
        path = ladder(session, village)

    async def one() -> WorkflowHandle[Any, Any]:
        issue_id = uuid.uuid4().hex
        issue = NewIssue(
            issue_id=issue_id,
            tracking_code=issue_id[:10].upper(),
            category="sanitation",
            title="村道垃圾堆放",
            description="路边垃圾堆放多日无人清运",
            urgency=Urgency.NORMAL,
            ladder=path,
            registered_by=clerk(village),
            registered_at=datetime.now(UTC),
            reporter=Reporter(name="张三", phone="13800001234"),
        )
        async with gate:
            handle = await stack.client.start_workflow(
                WORKFLOW_NAME,
                IssueStart(issue=issue),
                id=workflow_id(issue_id),
                task_queue=stack.settings.task_queue,
            )
            for attempt in range(5):
                try:
                    await admitted(
                        lambda: handle.execute_update(
                            "registered", id=f"registered-{issue_id}", result_type=ActionResult
                        ),
                        patience=BUSY_PATIENCE,
                    )
                    break
                except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
                    if attempt == 4:
                        raise
        stack.harness.handles.append(handle)
        return handle

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def withdraw_open(stack: Stack, handles: Iterable[WorkflowHandle[Any, Any]]) -> None:
    """Withdraw every issue still open, so no clock moves it while the read model is compared."""
    gate = asyncio.Semaphore(16)

    async def one(handle: WorkflowHandle[Any, Any]) -> None:
        async with gate:
            state = await stack.state(handle)
            if state.status in (Status.PENDING_ACCEPT, Status.IN_PROGRESS):
                await stack.harness.act(
                    handle, "withdraw", Withdraw(actor=ADMIN, request_id=f"end-{handle.id}")
                )

    await asyncio.gather(*(one(h) for h in handles))


# ---- what every fault test checks ---------------------------------------------------------------


def event_types(state: IssueState) -> list[EventType]:
    return [e.type for e in state.events]


def assert_ladder_walked_once(state: IssueState) -> None:
    """Each transition happened exactly once and each clock fired at most once per stay.

    A replayed or retried transition shows here as a second LEVEL_ENTERED, ESCALATED or
    WARNING for one stay, or as a gap or repeat in the event sequence.
    """
    name = state.issue.issue_id
    seqs = [e.seq for e in state.events]
    assert seqs == list(range(1, state.next_seq)), f"{name}: event seqs {seqs}"
    types = Counter(event_types(state))
    assert types[EventType.REGISTERED] == 1, name
    assert types[EventType.LEVEL_ENTERED] == len(state.levels), (name, types)
    reasons = Counter(level.reason for level in state.levels)
    assert reasons["registered"] == 1, (name, reasons)
    assert types[EventType.ESCALATED] == reasons["escalated"], (name, types, reasons)
    assert types[EventType.TRANSFERRED] == reasons["transferred"], (name, types, reasons)
    assert types[EventType.REOPENED] == reasons["reopened"], (name, types, reasons)
    for before, after in zip(state.levels, state.levels[1:], strict=False):
        assert before.left_at is not None and before.outcome is not None, (name, before)
        assert before.left_at <= after.entered_at, name
        if after.reason == "escalated":
            rise = LEVEL_ORDER.index(after.level) - LEVEL_ORDER.index(before.level)
            assert rise == 1, f"{name}: escalated {before.level} → {after.level}"
        if before.outcome is Outcome.ESCALATED_ON_TIMEOUT:
            assert before.left_at >= before.deadline, f"{name}: timed out before its deadline"
    stays = _stays(state)
    assert len(stays) == len(state.levels), name
    for level, stay in zip(state.levels, stays, strict=True):
        count = Counter(stay)
        assert count[EventType.WARNING] <= len(level.warnings), (name, level.level, stay)
        assert count[EventType.ACCEPT_OVERDUE] <= 1, (name, level.level, stay)
        assert count[EventType.OVERDUE] <= 1, (name, level.level, stay)
        if count[EventType.OVERDUE]:
            assert level.level == "county", (name, stay)


def _stays(state: IssueState) -> list[list[EventType]]:
    """The events of each stay at a level, split where a LEVEL_ENTERED begins one."""
    stays: list[list[EventType]] = []
    for event in state.events:
        if event.type is EventType.LEVEL_ENTERED:
            stays.append([])
        if stays:
            stays[-1].append(event.type)
    return stays


def owed_clocks(state: IssueState) -> list[tuple[str, datetime]]:
    """The clocks an open issue still waits for, as the workflow's own loop sees them."""
    if state.status is Status.AWAITING_FEEDBACK:
        return [("feedback", state.feedback_deadline)] if state.feedback_deadline else []
    if state.status not in (Status.PENDING_ACCEPT, Status.IN_PROGRESS):
        return []
    level = state.levels[-1]
    owed: list[tuple[str, datetime]] = []
    if state.status is Status.PENDING_ACCEPT and not level.accept_reminded:
        owed.append(("accept", level.accept_deadline))
    if level.warnings_sent < len(level.warnings):
        owed.append(("warning", level.warnings[level.warnings_sent]))
    if state.overdue_since is not None:
        if state.next_overdue_reminder is not None:
            owed.append(("overdue reminder", state.next_overdue_reminder))
    else:
        owed.append((f"{level.level} deadline", level.deadline))
    owed += [
        (f"report {call.department}", call.report_deadline)
        for call in state.departments
        if call.reported_at is None and not call.overdue_notified
    ]
    return owed


def assert_clocks_kept(states: Iterable[IssueState], slack: float) -> None:
    """No open issue owes a clock that should have fired more than ``slack`` seconds ago."""
    now = datetime.now(UTC)
    late = [
        f"{state.issue.issue_id} ({state.status.value} at {state.levels[-1].level}): {what} "
        f"due {(now - at).total_seconds():.1f} s ago"
        for state in states
        if state.status in OPEN_STATUSES
        for what, at in owed_clocks(state)
        if at < now - timedelta(seconds=slack)
    ]
    assert not late, "stuck clocks:\n" + "\n".join(late[:20])


async def read_model_caught_up(stack: Stack, states: list[IssueState]) -> bool:
    """Whether every issue's row reflects its workflow's latest event (one query for all)."""
    wanted = {s.issue.issue_id: s.next_seq - 1 for s in states}
    with Session(stack.engine) as session:
        rows = session.exec(
            select(Issue.id, Issue.last_seq).where(col(Issue.id).in_(list(wanted)))
        ).all()
    return {str(i): int(seq) for i, seq in rows} == wanted


async def assert_read_model_agrees(stack: Stack, handles: list[WorkflowHandle[Any, Any]]) -> None:
    """Quiesced issues only: the read model equals each workflow, event for event.

    Every (issue, seq) is stored once, the seqs run 1..n without a gap, and they are the
    workflow's own events; then the repo's ``settled_read_model`` compares each issue whole.
    """
    states = await stack.states(handles)
    assert not [s for s in states if s.status in OPEN_STATUSES and owed_clocks(s)], "not quiesced"

    async def caught_up() -> bool:
        return await read_model_caught_up(stack, states)

    await eventually(caught_up, 60, "the read model catching up with the workflows")
    ids = [s.issue.issue_id for s in states]
    with Session(stack.engine) as session:
        counted = session.exec(
            select(
                IssueEvent.issue_id,
                func.count(),
                func.count(func.distinct(IssueEvent.seq)),
                func.min(IssueEvent.seq),
                func.max(IssueEvent.seq),
            )
            .where(col(IssueEvent.issue_id).in_(ids))
            .group_by(col(IssueEvent.issue_id))
        ).all()
    stored = {str(row[0]): tuple(row[1:]) for row in counted}
    for state in states:
        n = state.next_seq - 1
        assert stored.get(state.issue.issue_id) == (n, n, 1, n), (
            f"{state.issue.issue_id}: (rows, distinct seqs, min, max) "
            f"{stored.get(state.issue.issue_id)} for {n} events"
        )
    for handle in handles:
        await settled_read_model(stack.harness, handle)


async def assert_histories_replay(stack: Stack, handles: list[WorkflowHandle[Any, Any]]) -> None:
    """Every history replays on today's workflow code: any replay failure, of any shape, fails.

    A worker that acted on a stale or reordered view of a workflow (one rebuilt by a query, a
    cold worker handed a task's jobs in another order) writes commands a fresh replay of the
    same history would not: the replay finds it out, and such an issue would stall at its next
    replay in production.
    """
    histories = [await handle.fetch_history() for handle in handles]
    # As a worker does when it starts: the start's adapter (the whole state's types) is built
    # here, not inside the first replay's 2 s deadlock clock, which a loaded machine overran.
    warm(IssueStart)
    replayer = Replayer(workflows=[IssueWorkflow], data_converter=DATA_CONVERTER)
    failures = []
    async with replayer.workflow_replay_iterator(histories_of(histories)) as results:
        async for result in results:
            if result.replay_failure is not None:
                failures.append(f"{result.history.workflow_id}: {result.replay_failure}")
    assert not failures, "histories that do not replay:\n" + "\n".join(failures[:5])
