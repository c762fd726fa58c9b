"""The outbox and its dispatcher against real local receivers, on SQLite and PostgreSQL.

Notices go into the outbox the way the recorder puts them there (``enqueue`` in a transaction);
dispatchers run on the test's event loop as they run beside a worker; the receivers are real HTTP
servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from activities.dispatch import dispatch_notice
from activities.notify import retry_delay
from activities.outbox import enqueue, notice_from_json
from settings import Settings
from store.db import make_engine
from store.tables import Notification, OutboxNotice
from tests.activities.conftest import FakeClock, Reply, TinyHTTPServer
from tests.activities.dispatching import (
    FAST,
    OTHER_UNIT,
    UNIT,
    attempted,
    attempts_of,
    dispatching,
    eventually,
    hook,
    key_of,
    notice,
    put,
    settled,
    verified,
    webhook_rows,
)

# ---- the outbox ---------------------------------------------------------------------------------


def test_enqueue_writes_each_notice_once_in_the_callers_transaction(db_engine: Engine) -> None:
    first, second = notice(3), notice(4)
    with Session(db_engine) as session:
        enqueue(session, [first, second, first])
        session.rollback()  # enqueue does not commit: the caller's transaction decides
    put(db_engine, [first, second, first])
    put(db_engine, [second, first])  # a retried record

    with Session(db_engine) as session:
        rows = session.exec(select(OutboxNotice).order_by(col(OutboxNotice.seq))).all()
    assert [(r.issue_id, r.seq, r.kind, r.dispatched_at) for r in rows] == [
        ("ISS-1", 3, "level_entered", None),
        ("ISS-1", 4, "level_entered", None),
    ]
    assert rows[0].notice["deadline"] == "2026-11-25T10:00:00Z"  # ISO 8601, as payloads carry it
    assert notice_from_json(rows[0].notice) == first


def test_the_delivery_schedule_is_the_former_retry_policy() -> None:
    waits = [retry_delay(n).total_seconds() for n in range(1, 12)]
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    assert retry_delay(1, retry_after=30) == timedelta(seconds=30)
    assert retry_delay(4, retry_after=3) == timedelta(seconds=16)  # never sooner than the backoff
    assert retry_delay(1, retry_after=86_400) == timedelta(hours=1)


# ---- fan-out ------------------------------------------------------------------------------------


async def test_two_dispatchers_racing_fan_out_and_deliver_each_notice_once(
    db_engine: Engine, db_url: str, http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    hook(db_engine, f"{http_server.url}/village")
    hook(db_engine, f"{http_server.url}/neighbour", unit=OTHER_UNIT)
    notices = [notice(seq, f"ISS-{i}", (UNIT, OTHER_UNIT)) for i in range(20) for seq in (1, 2)]
    put(db_engine, notices)
    second_engine = make_engine(db_url)  # another worker process: its own connections
    try:
        async with dispatching(db_engine, http), dispatching(second_engine, http):
            await eventually(lambda: settled(db_engine, 80), 30, "every delivery settled")
            await asyncio.sleep(0.5)  # a duplicate would show by now
    finally:
        second_engine.dispose()

    with Session(db_engine) as session:
        per_delivery = session.exec(
            select(Notification.idempotency_key, Notification.channel, Notification.target_code)
            .group_by(
                col(Notification.idempotency_key),
                col(Notification.channel),
                col(Notification.target_code),
            )
            .having(func.count() > 1)
        ).all()
        inbox = session.exec(select(func.count()).where(Notification.channel == "inbox")).one()
        undispatched = session.exec(
            select(func.count()).where(col(OutboxNotice.dispatched_at).is_(None))
        ).one()
    assert per_delivery == [] and inbox == 80 and undispatched == 0
    assert all(r.status == "sent" and r.attempts == 1 for r in webhook_rows(db_engine))
    heard = sorted((r.target, r.headers["idempotency-key"]) for r in http_server.requests)
    expected = sorted((path, key_of(n)) for n in notices for path in ("/village", "/neighbour"))
    assert heard == expected
    assert all(verified(r) for r in http_server.requests)


def test_a_notice_held_by_two_dispatchers_at_once_is_fanned_out_once(
    db_engine: Engine, db_url: str
) -> None:
    hook(db_engine, "http://127.0.0.1:9/never-called")
    put(db_engine, [notice(5)])
    with Session(db_engine) as session:
        outbox_id = session.exec(select(OutboxNotice.id)).one()
    assert outbox_id is not None
    # Two workers whose leases both say "mine" (one ran out mid fan-out): each dispatches at once.
    engines = [db_engine, make_engine(db_url)]
    start = threading.Barrier(2)
    results: list[bool] = []

    def dispatch(engine: Engine) -> None:
        start.wait()
        results.append(dispatch_notice(engine, outbox_id, FAST, datetime.now(UTC)))

    threads = [threading.Thread(target=dispatch, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    engines[1].dispose()

    assert sorted(results) == [False, True]
    with Session(db_engine) as session:
        rows = session.exec(select(Notification.channel, Notification.status)).all()
    assert sorted(rows) == [("inbox", "sent"), ("webhook", "pending")]


async def test_a_record_that_commits_notices_wakes_the_dispatcher_at_once(
    db_engine: Engine, http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    hook(db_engine, f"{http_server.url}/village")
    slow = Settings(dispatch_poll_seconds=60)
    async with dispatching(db_engine, http, slow):
        await asyncio.sleep(0.5)  # its first round found nothing: it sleeps for a minute now
        began = time.monotonic()
        put(db_engine, [notice(1)])
        await eventually(lambda: settled(db_engine, 1), 5, "the woken delivery")
    assert time.monotonic() - began < 5
    assert [r.headers["idempotency-key"] for r in http_server.requests] == [key_of(notice(1))]


# ---- delivery: retries, the 4xx rule, Retry-After -----------------------------------------------


async def test_a_5xx_is_tried_again_under_the_same_key_and_delivered(
    db_engine: Engine, http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    hook(db_engine, f"{http_server.url}/village")
    http_server.reply(500, "boom")
    put(db_engine, [notice(7)])
    async with dispatching(db_engine, http):
        await eventually(lambda: settled(db_engine, 1), 15, "the delivery settled")

    (row,) = webhook_rows(db_engine)
    tried = attempts_of(db_engine, row.id)
    assert (row.status, row.attempts, row.sent_at is not None) == ("sent", 2, True)
    assert [(a.attempt, a.ok, a.status_code) for a in tried] == [(1, False, 500), (2, True, 200)]
    assert tried[1].at - tried[0].at >= timedelta(seconds=2)  # the first backoff
    first, again = http_server.requests
    assert first.headers["idempotency-key"] == again.headers["idempotency-key"] == key_of(notice(7))
    assert first.body == again.body
    assert verified(first) and verified(again)


async def test_a_4xx_fails_at_once_and_the_supervisors_hear_of_it(
    db_engine: Engine, http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    hook(db_engine, f"{http_server.url}/village")
    http_server.reply(404, "no such hook")
    put(db_engine, [notice(8)])
    async with dispatching(db_engine, http):
        await eventually(lambda: settled(db_engine, 1), 10, "the delivery settled")
        await asyncio.sleep(2.5)  # past the first backoff: a retry would have come by now

    (row,) = webhook_rows(db_engine)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    assert [(a.attempt, a.ok, a.status_code) for a in attempts_of(db_engine, row.id)] == [
        (1, False, 404)
    ]
    assert len(http_server.requests) == 1
    with Session(db_engine) as session:
        alert = session.exec(
            select(Notification).where(Notification.kind == "delivery_failed")
        ).one()
    assert (alert.channel, alert.status, alert.target_kind, alert.target_code) == (
        "inbox",
        "sent",
        "supervisors",
        UNIT,
    )
    assert alert.idempotency_key == f"{key_of(notice(8))}:failed:{row.id}"
    assert "404" in alert.body and "no such hook" in alert.body


async def test_retry_after_is_waited_out(
    db_engine: Engine, http: httpx.AsyncClient, http_server: TinyHTTPServer
) -> None:
    hook(db_engine, f"{http_server.url}/village")
    http_server.reply(503, "slow down", Retry_After="3")
    put(db_engine, [notice(9)])
    async with dispatching(db_engine, http):
        await eventually(lambda: len(http_server.requests) == 1, 5, "the first attempt")
        await eventually(lambda: attempted(db_engine) == 1, 5, "it on record")
        (row,) = webhook_rows(db_engine)
        (first,) = attempts_of(db_engine, row.id)
        assert row.next_attempt_at == first.at + timedelta(seconds=3)  # not the 2 s backoff
        await eventually(lambda: settled(db_engine, 1), 10, "the delivery settled")

    tried = attempts_of(db_engine, row.id)
    assert [(a.ok, a.status_code) for a in tried] == [(False, 503), (True, 200)]
    assert tried[1].at - tried[0].at >= timedelta(seconds=3)


async def test_twelve_failed_attempts_fail_the_delivery_and_alert(
    db_engine: Engine, http: httpx.AsyncClient, http_server: TinyHTTPServer, clock: FakeClock
) -> None:
    hook(db_engine, f"{http_server.url}/village")
    http_server.default = Reply(502, b"bad gateway")
    clock.now = datetime.now(UTC)
    put(db_engine, [notice(10)])
    async with dispatching(db_engine, http, clock=clock):
        for tried in range(1, 13):
            await eventually(lambda n=tried: attempted(db_engine) == n, 5, f"attempt {tried}")
            row = webhook_rows(db_engine)[0]
            if tried < 12:
                assert row.status == "pending"
                assert row.next_attempt_at == clock.now + retry_delay(tried)
            clock.advance(retry_delay(tried).total_seconds())  # the backoff passes
        await asyncio.sleep(0.5)

    (row,) = webhook_rows(db_engine)
    assert (row.status, row.attempts) == ("failed", 12)
    assert len(http_server.requests) == 12
    with Session(db_engine) as session:
        alerts = session.exec(
            select(Notification.body).where(Notification.kind == "delivery_failed")
        ).all()
    assert len(alerts) == 1 and "12次" in alerts[0]
