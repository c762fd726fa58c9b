"""Starting duty runs on the time-skipping server as their schedules would (the time-skipping
server has no schedules: a run gets its nominal instant in its input), and reading them back."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select
from temporalio.client import WorkflowHandle

from domain.duties.models import DutyKind, DutyStart, DutyState
from domain.duties.schedules import schedule_id, wanted
from store.duty_tables import DutyRun
from store.tables import Notification
from tests.workflows.conftest import Harness
from workers.schedules import tree_units
from workflows.deliberation import workflow_id as deliberation_workflow_id
from workflows.duty import QUERY_STATE, WORKFLOW_NAME, action_id

Handle = WorkflowHandle[Any, Any]


class DutyDesk:
    def __init__(self, harness: Harness) -> None:
        self.h = harness

    def start_of(self, kind: DutyKind, unit: str, nominal: datetime) -> DutyStart:
        """What the unit's schedule starts, for a run at ``nominal``, without a schedule to ask."""
        with Session(self.h.engine) as session:
            units = [u for u in tree_units(session)]
        sid = schedule_id(kind, unit)
        found = next(d for d in wanted(units) if d.schedule_id == sid)
        return replace(found.start, schedule_id=None, nominal=nominal)

    async def start(self, kind: DutyKind, unit: str, nominal: datetime) -> Handle:
        start = self.start_of(kind, unit, nominal)
        # As a schedule names its runs: the action's id, then the nominal instant.
        run_id = f"{action_id(schedule_id(kind, unit))}-{nominal:%Y-%m-%dT%H:%M:%S}"
        handle = await self.h.env.client.start_workflow(
            WORKFLOW_NAME, start, id=run_id, task_queue=self.h.task_queue
        )
        self.h.handles.append(handle)
        return handle

    async def state(self, handle: Handle) -> DutyState:
        live = self.h.env.client.get_workflow_handle(handle.id, result_type=DutyState)
        if not await self.h.running(handle.id):
            final: DutyState = await live.result()
            return final
        state: DutyState = await live.query(QUERY_STATE, result_type=DutyState)
        return state

    async def row(self, handle: Handle) -> DutyRun:
        """The read model's row once it holds everything the run decided."""
        for _ in range(200):
            s = await self.state(handle)
            with Session(self.h.engine) as session:
                row = session.get(DutyRun, handle.id)
                if row is not None and row.last_seq == s.next_seq - 1 and not s.events:
                    return row
            await asyncio.sleep(0.05)
        raise AssertionError("the read model did not catch up with the duty")

    def council_handle(self, deliberation_id: str) -> Handle:
        handle = self.h.env.client.get_workflow_handle(deliberation_workflow_id(deliberation_id))
        self.h.handles.append(handle)
        return handle

    def notices(self, duty_id: str, kind: str) -> list[Notification]:
        """The inbox rows the dispatcher wrote for a run's notices of ``kind``."""
        with Session(self.h.engine) as session:
            return list(
                session.exec(
                    select(Notification)
                    .where(
                        Notification.issue_id == duty_id,
                        Notification.kind == kind,
                        Notification.channel == "inbox",
                    )
                    .order_by(col(Notification.seq))
                ).all()
            )

    async def notified(self, duty_id: str, kind: str, count: int) -> list[Notification]:
        for _ in range(200):
            rows = self.notices(duty_id, kind)
            if len({r.seq for r in rows}) >= count:
                return rows
            await asyncio.sleep(0.05)
        raise AssertionError(f"{count} notices {kind} of {duty_id} did not arrive")
