"""The dispatcher stopped with a send in flight, cut off from its database, and run by a worker.

The database outage is real: the dispatcher reaches PostgreSQL through a TCP proxy the test cuts
and mends, while the test itself writes and reads past it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from activities.dispatch import DELIVERY_LEASE, Dispatcher
from store.db import make_engine, migrate
from tests.activities.conftest import FakeClock, TinyHTTPServer, free_port
from tests.activities.dispatching import (
    FAST,
    attempts_of,
    dispatching,
    eventually,
    hook,
    key_of,
    notice,
    put,
    settled,
    webhook_rows,
)
from tests.conftest import fresh_postgres_database
from tests.faults.stack import TcpProxy
from tests.workflows.standalone import read_model_at, time_skipping_env
from workers.main import build_worker, serving


async def test_stopping_leaves_a_hung_send_to_be_attempted_again(
    db_engine: Engine, http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    hook(db_engine, f"{http_server.url}/village", timeout=30)
    http_server.hang()
    put(db_engine, [notice(11)])
    dispatcher = Dispatcher(db_engine, http, FAST)
    dispatcher.start()
    await eventually(lambda: len(http_server.requests) == 1, 5, "the send under way")
    began = time.monotonic()
    await dispatcher.stop(grace=0.5)
    assert time.monotonic() - began < 3
    (row,) = webhook_rows(db_engine)
    assert (row.status, row.attempts) == ("pending", 0)  # claimed, never finished

    later = FakeClock(datetime.now(UTC) + DELIVERY_LEASE + timedelta(seconds=1))
    async with dispatching(db_engine, http, clock=later):  # the lease has run out
        await eventually(lambda: settled(db_engine, 1), 5, "the delivery settled")
    (row,) = webhook_rows(db_engine)
    assert (row.status, row.attempts) == ("sent", 1)
    assert [r.headers["idempotency-key"] for r in http_server.requests] == [key_of(notice(11))] * 2


@pytest.mark.postgres
async def test_a_database_outage_delays_fan_out_and_delivery_and_loses_nothing(
    http: httpx.AsyncClient, http_server: TinyHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="linkage.dispatch")
    with fresh_postgres_database() as url:
        migrate(url)
        direct = make_engine(url)
        upstream = make_url(url)
        proxy = TcpProxy((upstream.host or "127.0.0.1", upstream.port or 5432), free_port())
        proxied = make_engine(
            upstream.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        )
        try:
            hook(direct, f"{http_server.url}/village", timeout=1)
            put(direct, [notice(seq) for seq in range(1, 6)])
            proxy.cut()  # down before the dispatcher's first round
            async with dispatching(proxied, http):
                await asyncio.sleep(1.5)
                assert http_server.requests == [] and proxy.refused > 0
                proxy.mend()
                await eventually(lambda: settled(direct, 5), 30, "the first five delivered")

                # Down while a send is under way: its attempt is kept once the database is back.
                http_server.hang()
                put(direct, [notice(6)])
                await eventually(lambda: len(http_server.requests) == 6, 10, "the sixth sent")
                proxy.cut()
                await asyncio.sleep(2.5)  # the send times out (1 s) and cannot be recorded
                proxy.mend()
                await eventually(lambda: settled(direct, 6), 30, "the sixth delivered")
        finally:
            proxied.dispose()
            proxy.close()
            direct.dispose()

        rows = webhook_rows(direct)
        assert all(r.status == "sent" for r in rows)
        assert [r.attempts for r in rows] == [1, 1, 1, 1, 1, 2]
        assert [(a.ok, a.status_code) for a in attempts_of(direct, rows[-1].id)] == [
            (False, None),
            (True, 200),
        ]
        keys = [r.headers["idempotency-key"] for r in http_server.requests]
        # Each notice once, and the sixth twice: the timed-out attempt and its retry, no more.
        assert sorted(keys) == sorted(key_of(notice(s)) for s in (1, 2, 3, 4, 5, 6, 6))
        assert any("dispatcher:" in r.getMessage() for r in caplog.records)
        assert any("waits for the database" in r.getMessage() for r in caplog.records)


async def test_a_worker_process_serves_the_dispatcher_beside_the_temporal_worker(
    tmp_path: Path, http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    async with time_skipping_env() as env:
        with read_model_at(tmp_path) as engine:
            hook(engine, f"{http_server.url}/village")
            worker = build_worker(env.client, FAST, engine, http, task_queue="serving")
            async with serving(worker, engine, http, FAST):
                put(engine, [notice(12)])
                await eventually(lambda: settled(engine, 1), 10, "the delivery settled")
    assert [r.headers["idempotency-key"] for r in http_server.requests] == [key_of(notice(12))]
