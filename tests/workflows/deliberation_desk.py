"""Opening deliberations and acting on them on the time-skipping server, as the API does, and
waiting for the read model to hold what the workflow holds."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlmodel import Session, col, select
from temporalio.client import WorkflowHandle

from api.updates import admitted
from domain.deliberation.models import (
    DeliberationResult,
    DeliberationStart,
    DeliberationState,
    Kind,
    NewDeliberation,
    Participant,
)
from domain.models import Action, Actor, Role
from store.deliberation_tables import Deliberation, DeliberationEvent
from store.units_import import ladder
from tests.workflows.conftest import BUSY_PATIENCE, VILLAGE, Harness
from workflows.deliberation import WORKFLOW_NAME, workflow_id


def staff(unit: str, role: Role = Role.CLERK) -> Actor:
    prefix = {6: "county", 9: "township", 12: "village"}[len(unit)]
    suffix = "-leader" if role is Role.LEADER and prefix == "village" else ""
    return Actor(user=f"{prefix}-{unit}{suffix}", role=role, unit_code=unit)


class Desk:
    def __init__(self, harness: Harness) -> None:
        self.h = harness

    async def open(
        self, kind: Kind = Kind.REPRESENTATIVES_MEETING, unit: str = VILLAGE, **more: Any
    ) -> WorkflowHandle[Any, Any]:
        with Session(self.h.engine) as session:
            path = ladder(session, unit)
        d = NewDeliberation(
            deliberation_id=uuid.uuid4().hex,
            topic="村道硬化选线",
            kind=kind,
            ladder=path,
            opened_by=staff(unit),
            opened_at=await self.h.now(),
            participants=[Participant("villager_representative", "王五", unit)],
            departments=["zhenan-zhujian"],
            **more,
        )
        handle = await self.h.env.client.start_workflow(
            WORKFLOW_NAME,
            DeliberationStart(d=d, history_limit=self.h.history_limit),
            id=workflow_id(d.deliberation_id),
            task_queue=self.h.task_queue,
        )
        await admitted(
            lambda: handle.execute_update("opened", result_type=DeliberationResult),
            patience=BUSY_PATIENCE,
        )
        self.h.handles.append(handle)
        return handle

    async def act(
        self, handle: WorkflowHandle[Any, Any], update: str, action: Action
    ) -> DeliberationResult:
        live = self.h.env.client.get_workflow_handle(handle.id)
        result: DeliberationResult = await admitted(
            lambda: live.execute_update(
                update, action, id=action.request_id, result_type=DeliberationResult
            ),
            patience=BUSY_PATIENCE,
        )
        return result

    async def state(self, handle: WorkflowHandle[Any, Any]) -> DeliberationState:
        live = self.h.env.client.get_workflow_handle(handle.id, result_type=DeliberationState)
        if not await self.h.running(handle.id):
            final: DeliberationState = await live.result()
            return final
        state: DeliberationState = await live.query("state", result_type=DeliberationState)
        return state

    async def settled(self, handle: WorkflowHandle[Any, Any]) -> Deliberation:
        """The read model's row once it holds the workflow's latest event; its events checked."""
        for _ in range(200):
            s = await self.state(handle)
            with Session(self.h.engine) as session:
                row = session.get(Deliberation, s.d.deliberation_id)
                if row is not None and row.last_seq == s.next_seq - 1 and not s.events:
                    events = session.exec(
                        select(DeliberationEvent)
                        .where(DeliberationEvent.deliberation_id == row.id)
                        .order_by(col(DeliberationEvent.seq))
                    ).all()
                    assert [e.seq for e in events] == list(range(1, s.next_seq))
                    assert (row.status, row.unit_code) == (s.status.value, s.unit.code)
                    return row
            await asyncio.sleep(0.05)
        raise AssertionError("the read model did not catch up with the deliberation")

    def event_types(self, deliberation_id: str) -> list[str]:
        with Session(self.h.engine) as session:
            return list(
                session.exec(
                    select(DeliberationEvent.type)
                    .where(DeliberationEvent.deliberation_id == deliberation_id)
                    .order_by(col(DeliberationEvent.seq))
                ).all()
            )
