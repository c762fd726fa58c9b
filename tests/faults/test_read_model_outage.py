"""The PostgreSQL read model unreachable for a while: records wait and retry, no event is lost or
written twice.

The worker reaches PostgreSQL only through a TCP proxy the test controls. While ten issues are
reminded, warned and escalated, the proxy drops every open connection and every new one for ten
seconds, the way a restarting database does. The ``record`` activities fail and retry; afterwards
each issue's events are in the read model exactly once, seq 1..n without a gap, equal to the
workflow's own events.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import fresh_postgres_database
from tests.e2e.stack import free_ports
from tests.faults.conftest import (
    StackFactory,
    assert_clocks_kept,
    assert_histories_replay,
    assert_ladder_walked_once,
    assert_read_model_agrees,
    read_model_caught_up,
    register_many,
    withdraw_open,
)
from tests.faults.stack import TcpProxy, eventually

ISSUES = 10
SLACK = 20.0  # a record retried with backoff holds the issue's clocks back until it succeeds


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(180)
async def test_read_model_outage_loses_and_duplicates_no_event(make_stack: StackFactory) -> None:
    with fresh_postgres_database() as direct_url:
        url = make_url(direct_url)
        (port,) = free_ports(1)
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432), port)
        proxied = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        try:
            async with make_stack(worker_url=proxied, read_url=direct_url) as stack:
                began = time.monotonic()
                handles = await register_many(stack, ISSUES)

                # Down across the village warnings (5 s) and deadlines (10 s).
                await asyncio.sleep(max(0.0, 3 - (time.monotonic() - began)))
                proxy.cut()
                await asyncio.sleep(10)
                proxy.mend()

                async def escalated_and_recorded() -> bool:
                    states = await stack.states(handles)
                    escalated = all(len(s.levels) >= 2 for s in states)
                    return escalated and await read_model_caught_up(stack, states)

                await eventually(escalated_and_recorded, 90, "escalations recorded after")
                states = await stack.states(handles)
                for state in states:
                    assert_ladder_walked_once(state)
                assert_clocks_kept(states, SLACK)

                await withdraw_open(stack, handles)
                await assert_read_model_agrees(stack, handles)
                await assert_histories_replay(stack, handles)
                assert proxy.refused > 0, "the worker never tried the database while it was down"
                log = stack.worker.log_path.read_text(encoding="utf-8", errors="replace")
                failed_records = [
                    line
                    for line in log.splitlines()
                    if "Completing activity as failed" in line and "'record'" in line
                ]
                assert failed_records, "no record attempt failed during the outage"
        finally:
            proxy.close()
