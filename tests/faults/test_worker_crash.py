"""A worker killed with ``kill -9`` while issues escalate loses nothing and repeats nothing.

Twenty issues run the drill ladder (village 10 s → township 10 s → county 10 s → overdue) while
queries keep arriving, as from the API and the dashboard. The only worker is killed twice without
warning: once as soon as the issues wait on their first clocks (restarted at once, so the new
worker meets timers that fired for the dead one and queries that waited for it), and once just
before the village deadlines, staying dead while they pass. Every issue still climbs the whole
ladder, each transition exactly once; the read model holds the workflows' events exactly; and
every history replays on the workflow code (this test found the stale-clock bug that
``workflows.issue.StaleClockError`` guards against).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from domain.models import EventType, Outcome
from tests.faults.conftest import (
    StackFactory,
    assert_clocks_kept,
    assert_histories_replay,
    assert_ladder_walked_once,
    assert_read_model_agrees,
    event_types,
    register_many,
    watched,
    withdraw_open,
)
from tests.faults.stack import eventually

ISSUES = 20
SLACK = 15.0  # seconds a clock may lag on two shared cores after a restart


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_worker_killed_mid_escalation_loses_and_repeats_nothing(
    make_stack: StackFactory,
) -> None:
    async with make_stack() as stack:
        began = time.monotonic()
        handles = await register_many(stack, ISSUES)

        async with watched(stack, handles):
            # Killed as soon as the issues wait on their first clocks, and back at once: the new
            # worker meets timers that fired for the dead one, while queries keep arriving.
            await asyncio.sleep(max(0.0, 1.5 - (time.monotonic() - began)))
            stack.worker.kill()
            await stack.worker.restart()

            # Dead across the village deadlines: their timers fire with nobody to run the tasks.
            await asyncio.sleep(max(0.0, 9.5 - (time.monotonic() - began)))
            stack.worker.kill()
            await asyncio.sleep(3)
            await stack.worker.restart()
            await asyncio.sleep(8)

        async def all_overdue() -> bool:
            states = await stack.states(handles)
            return all(s.overdue for s in states)

        await eventually(all_overdue, 90, "every issue up the ladder and overdue at the county")
        states = await stack.states(handles)
        for state in states:
            assert [lv.level for lv in state.levels] == ["village", "township", "county"]
            assert [lv.outcome for lv in state.levels] == [
                Outcome.ESCALATED_ON_TIMEOUT,
                Outcome.ESCALATED_ON_TIMEOUT,
                None,
            ]
            assert event_types(state).count(EventType.OVERDUE) == 1
            assert_ladder_walked_once(state)
        assert_clocks_kept(states, SLACK)

        await withdraw_open(stack, handles)
        await assert_read_model_agrees(stack, handles)
        await assert_histories_replay(stack, handles)
        for state in await stack.states(handles):
            assert_ladder_walked_once(state)
