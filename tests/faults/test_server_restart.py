"""The Temporal server stopped, restarted on the same SQLite store, then crashed: clocks still fire.

Ten issues wait on their drill clocks. The dev server is stopped (SIGTERM) before the village
warnings and brought back after the village deadlines, on the same ``temporal.db``; later it is
killed with ``kill -9`` just before the township deadlines and restarted at once. The worker runs
throughout and reconnects by itself. Every clock that fell due while the server was away fires
after the restart, every issue reaches the county and goes overdue, once.
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

ISSUES = 10
SLACK = 15.0


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_clocks_fire_after_the_server_restarts_on_its_store(
    make_stack: StackFactory,
) -> None:
    async with make_stack() as stack:
        began = time.monotonic()
        handles = await register_many(stack, ISSUES)

        async with watched(stack, handles, most=ISSUES):
            await asyncio.sleep(max(0.0, 2 - (time.monotonic() - began)))
            stack.server.stop()
            # Away across the village warnings (5 s) and deadlines (10 s).
            await asyncio.sleep(max(0.0, 12 - (time.monotonic() - began)))
            stack.server.start()
            await stack.reconnect()

            async def at_township() -> bool:
                states = await stack.states(handles)
                return all(len(s.levels) >= 2 for s in states)

            await eventually(at_township, 60, "every issue escalated after the restart")
            # A crash this time, with the township clocks about to fire.
            stack.server.kill()
            stack.server.start()
            await stack.reconnect()

        async def all_overdue() -> bool:
            return all(s.overdue for s in await stack.states(handles))

        await eventually(all_overdue, 90, "every issue up the ladder and overdue at the county")
        states = await stack.states(handles)
        for state in states:
            assert [lv.outcome for lv in state.levels] == [
                Outcome.ESCALATED_ON_TIMEOUT,
                Outcome.ESCALATED_ON_TIMEOUT,
                None,
            ]
            types = event_types(state)
            # The clocks that fell due while the server was away fired, once each.
            assert types.count(EventType.ACCEPT_OVERDUE) == 3, types
            assert types.count(EventType.WARNING) == 3, types
            assert types.count(EventType.OVERDUE) == 1, types
            assert_ladder_walked_once(state)
        assert_clocks_kept(states, SLACK)

        await withdraw_open(stack, handles)
        await assert_read_model_agrees(stack, handles)
        await assert_histories_replay(stack, handles)
