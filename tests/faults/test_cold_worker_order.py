"""A worker killed holding its issues; the next one, cold, takes a timer's firing and an update in
one workflow task: every history still replays.

temporalio/sdk-python#1591: a worker that takes a workflow up cold hands it a result first and an
update after, where a replay applies the update first. This builds that task on a real dev
server: the worker is killed (its sticky queue dies with it), the issues' accept deadlines fire
(5 s on the drill policy), the village's actions wait, and a fresh worker takes both together.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory

from api.updates import admitted
from domain.models import Accept, ActionResult, Actor, Role
from tests.faults.conftest import StackFactory, assert_histories_replay, register_many

VILLAGE = "611025001001"
CLERK = Actor(user=f"village-{VILLAGE}", role=Role.CLERK, unit_code=VILLAGE)


def timer_and_update_in_one_task(history: WorkflowHistory) -> bool:
    """Whether a task took up a timer's firing and an update it then accepted."""
    kinds = [e.event_type for e in history.events]
    for i, kind in enumerate(kinds):
        if kind != EventType.EVENT_TYPE_TIMER_FIRED:
            continue
        done = kinds.index(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, i)
        after = kinds[done + 1 :]
        until = next(
            (j for j, k in enumerate(after) if k == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
            len(after),
        )
        if EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED in after[:until]:
            return True
    return False


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_cold_worker_taking_a_timer_and_an_update_together_keeps_histories_replayable(
    make_stack: StackFactory,
) -> None:
    async with make_stack() as stack:
        handles = await register_many(stack, 12)
        stack.worker.kill()
        await asyncio.sleep(7)  # every accept deadline fires with nobody to take it

        async def accept(handle: WorkflowHandle[Any, Any]) -> None:
            action = Accept(actor=CLERK, request_id=f"{handle.id}-accept")
            await admitted(
                lambda: handle.execute_update(
                    "accept", action, id=action.request_id, result_type=ActionResult
                ),
                patience=90,
            )

        waiting = [asyncio.create_task(accept(h)) for h in handles]
        await asyncio.sleep(12)  # the dead worker's sticky tasks time out to the shared queue
        await stack.worker.restart()
        await asyncio.gather(*waiting)
        histories = [await h.fetch_history() for h in handles]
        assert any(timer_and_update_in_one_task(h) for h in histories), "the shape never formed"
        await assert_histories_replay(stack, handles)
