"""A time-skipping Temporal server, a real worker with every activity, and a real SQLite read model.

The server's clock starts at the real time and only moves forward, so scenarios that need a known
calendar pick a quiet week ahead and supply its holidays as admin data (``Harness.calendar``).
"""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.deadlines import Clocks
from api.updates import admitted
from domain.calendar import WorkCalendar, YearSchedule
from domain.lifecycle.completions import settle
from domain.lifecycle.trail import whole_trail
from domain.models import (
    Action,
    ActionResult,
    Actor,
    IssueStart,
    IssueState,
    NewIssue,
    Reporter,
    Role,
    Urgency,
)
from domain.payloads import DATA_CONVERTER
from settings import ROOT
from store.db import make_engine, migrate
from store.issue_state import events_of
from store.units_import import import_units, ladder
from tests.conftest import fresh_postgres_database, venv_binary
from workers.main import register_search_attributes
from workflows.issue import WORKFLOW_NAME, workflow_id

TZ = ZoneInfo("Asia/Shanghai")
# A workflow stays busy while its record waits for a worker: the fault tests kill the only one.
BUSY_PATIENCE = 120.0
_IN_FLIGHT = (
    HistoryEventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    HistoryEventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
)
VILLAGE = "611025001001"  # 永乐街道 · its first community
TOWNSHIP = "611025001"
COUNTY = "611025"


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=DATA_CONVERTER,
    )
    await register_search_attributes(environment.client, "default")
    yield environment
    await environment.shutdown()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def read_model(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """The read model every scenario settles into: each scenario runs on SQLite and PostgreSQL."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('readmodel') / 'linkage.db'}"
        else:
            url = stack.enter_context(fresh_postgres_database())
        migrate(url)
        engine = make_engine(url)
        import_units(engine, ROOT / "data" / "divisions-611025-zhenan.json")
        yield engine
        engine.dispose()


@dataclass
class Harness:
    """Drives one scenario: registers issues, acts as people, moves the clock."""

    env: WorkflowEnvironment
    engine: Engine
    task_queue: str
    history_limit: int = 10_000
    clocks: Clocks | None = None  # the worker's clock activities, to settle a live state
    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(TZ)

    async def sleep_until(self, when: datetime) -> None:
        delta = (when - await self.now()).total_seconds()
        if delta > 0:
            await self.env.sleep(delta)

    async def register(
        self,
        village: str = VILLAGE,
        *,
        urgency: Urgency = Urgency.NORMAL,
        category: str = "sanitation",
        title: str = "村道垃圾堆放",
        registered_at: datetime | None = None,
    ) -> WorkflowHandle[Any, Any]:
        issue_id = uuid.uuid4().hex
        with Session(self.engine) as session:
            path = ladder(session, village)
        issue = NewIssue(
            issue_id=issue_id,
            tracking_code=issue_id[:10].upper(),
            category=category,
            title=title,
            description="路边垃圾堆放多日无人清运",
            urgency=urgency,
            ladder=path,
            registered_by=clerk(village),
            registered_at=registered_at or await self.now(),
            reporter=Reporter(name="张三", phone="13800001234"),
        )
        handle = await self.env.client.start_workflow(
            WORKFLOW_NAME,
            IssueStart(issue=issue, history_limit=self.history_limit),
            id=workflow_id(issue_id),
            task_queue=self.task_queue,
        )
        await admitted(
            lambda: handle.execute_update("registered", result_type=ActionResult),
            patience=BUSY_PATIENCE,
        )
        self.handles.append(handle)
        return handle

    async def act(
        self, handle: WorkflowHandle[Any, Any], update: str, action: Action
    ) -> ActionResult:
        # A handle by id follows the latest run, across continue-as-new.
        live = self.env.client.get_workflow_handle(handle.id)
        # As the API sends it: again at once while the workflow answers Busy.
        result: ActionResult = await admitted(
            lambda: live.execute_update(
                update, action, id=action.request_id, result_type=ActionResult
            ),
            patience=BUSY_PATIENCE,
        )
        return result

    async def stop_all(self, settle_seconds: float = 10) -> None:
        """Terminate what is still running, each workflow once nothing of it is in flight.

        The time-skipping server will not skip time while a workflow waits on a task queue that
        nobody polls any more, so a leftover would stall every later test. Terminating a workflow
        while one of its activities or workflow tasks runs stalls it for good too (it keeps
        waiting for a completion it then refuses), so first wait, boundedly, until nothing is
        pending: no activity, and a history that does not end in a workflow task.
        """
        for handle in self.handles:
            await self._settle(handle.id, settle_seconds)
            try:
                await self.env.client.get_workflow_handle(handle.id).terminate("scenario over")
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
        self.handles.clear()

    async def _settle(self, workflow_id: str, seconds: float) -> None:
        client = self.env.client
        quiet, length = 0, -1
        for _ in range(int(seconds / 0.02)):
            described = await self.describe(workflow_id)
            info = described.workflow_execution_info
            if info.status != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
                return
            busy = bool(described.pending_activities) or info.history_length != length
            length = info.history_length
            if not busy:
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                busy = history.events[-1].event_type in _IN_FLIGHT
            quiet = 0 if busy else quiet + 1
            if quiet >= 2:
                return
            await asyncio.sleep(0.02)

    async def state(self, handle: WorkflowHandle[Any, Any]) -> IssueState:
        """The live query of a running issue; a closed issue's final state, from its result.

        Not a query of a closed run: the time-skipping server may refuse the worker's answer
        ("workflow execution already completed") and then hold its clock for good, so that
        every later sleep times out.
        """
        live = self.env.client.get_workflow_handle(handle.id, result_type=IssueState)
        if not await self.running(handle.id):
            final: IssueState = await live.result()
            return self.with_trail(final)
        result: IssueState = await live.query("state", result_type=IssueState)
        return self.with_trail(result)

    def with_trail(self, state: IssueState) -> IssueState:
        """The state as ``GET /issues/{id}/live`` shows it: a decision caught waiting for its
        clock finished by the worker's clocks, and the whole audit trail (the recorded events
        from the read model, then those the next record writes)."""
        if self.clocks is not None:
            clocks = self.clocks
            settle(state, lambda name, request: getattr(clocks, name)(request))
        with Session(self.engine) as session:
            recorded = events_of(session, state.issue.issue_id)
        state.events = whole_trail(recorded, state)
        return state

    async def running(self, workflow_id: str) -> bool:
        """Whether the latest run of a workflow id is running (the server's word, no query)."""
        status = (await self.describe(workflow_id)).workflow_execution_info.status
        return status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING

    async def describe(self, workflow_id: str) -> DescribeWorkflowExecutionResponse:
        """The server's description of the latest run, raw: ``WorkflowHandle.describe`` fails on
        the time-skipping server to decode a search attribute the workflow has unset."""
        client = self.env.client
        return await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            )
        )


def clerk(unit: str) -> Actor:
    return Actor(user=f"village-{unit}", role=Role.CLERK, unit_code=unit)


def leader(unit: str) -> Actor:
    prefix = "township" if len(unit) == 9 else "county"
    return Actor(user=f"{prefix}-{unit}", role=Role.LEADER, unit_code=unit)


def quiet_monday(after: datetime, weeks: int = 5) -> date:
    """The first Monday after ``after`` followed by ``weeks`` weeks without statutory holidays."""
    day = after.date() + timedelta(days=7 - after.weekday())
    while True:
        years = {day.year, (day + timedelta(weeks=weeks)).year}
        known = holidays.China(years=years)
        window = [day + timedelta(days=i) for i in range(weeks * 7)]
        if not any(d in known for d in window):
            return day
        day += timedelta(days=7)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def calendar_with(days_off: list[date], workdays: list[date]) -> WorkCalendar:
    """Admin-supplied schedule: marks those years official so nothing is provisional."""
    years = {d.year for d in days_off + workdays} or {date.today().year}
    schedules: dict[int, YearSchedule] = {}
    for year in sorted(years | {y + 1 for y in years}):
        schedules[year] = YearSchedule(
            holidays=frozenset(d for d in days_off if d.year == year),
            workdays=frozenset(d for d in workdays if d.year == year),
        )
    return WorkCalendar(schedules)


@pytest.fixture
def make_harness(env: WorkflowEnvironment, read_model: Engine) -> Any:
    # Imported here: the standalone harness builds on this module's Harness.
    from tests.workflows.standalone import running_harness

    def start(
        calendar: WorkCalendar | None = None, policy: str = "default", history_limit: int = 10_000
    ) -> Any:
        return running_harness(
            env, read_model, calendar=calendar, policy=policy, history_limit=history_limit
        )

    return start


async def settled_read_model(harness: Harness, handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the read model holds the workflow's latest event, then compare them whole."""

    from sqlmodel import col, select

    from store.tables import Issue, IssueEvent, IssueLevel

    live = harness.env.client.get_workflow_handle(handle.id)
    for _ in range(200):
        state = await harness.state(live)
        with Session(harness.engine) as session:
            row = session.get(Issue, state.issue.issue_id)
            if row is not None and row.last_seq == state.next_seq - 1:
                break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the read model did not catch up with the workflow")
    with Session(harness.engine) as session:
        row = session.get(Issue, state.issue.issue_id)
        assert row is not None
        assert (row.status, row.level, row.unit_code) == (
            state.status.value,
            state.current.level,
            state.unit.code,
        )
        levels = session.exec(
            select(IssueLevel).where(IssueLevel.issue_id == row.id).order_by(col(IssueLevel.idx))
        ).all()
        assert [(lv.level, lv.unit_code, lv.outcome) for lv in levels] == [
            (lv.level, lv.unit.code, lv.outcome.value if lv.outcome else None)
            for lv in state.levels
        ]
        events = session.exec(
            select(IssueEvent).where(IssueEvent.issue_id == row.id).order_by(col(IssueEvent.seq))
        ).all()
        assert [(e.seq, e.type) for e in events] == [(e.seq, e.type.value) for e in state.events]
        if state.resolution is None:
            assert row.resolution_level is None
        else:
            assert (row.resolution_level, row.resolution_unit) == (
                state.resolution.level,
                state.resolution.unit,
            )
        assert row.feedback_satisfaction == (
            state.feedback.satisfaction.value if state.feedback else None
        )


def load_history(file: Path) -> WorkflowHistory:
    """A recorded history (gzipped ``WorkflowHistory.to_json()``), named after its file."""
    name = file.name.removesuffix(".json.gz")
    return WorkflowHistory.from_json(name, gzip.decompress(file.read_bytes()).decode())


async def histories_of(histories: Iterable[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    """Histories as ``Replayer.workflow_replay_iterator`` takes them (one worker for all)."""
    for history in histories:
        yield history
