"""The outbox and its dispatcher against real local receivers and real databases.

Notices go into the outbox the way the recorder puts them there (``enqueue`` in a transaction);
dispatchers run on the test's event loop as they run beside a worker; the receivers are real HTTP
servers on 127.0.0.1, and the database is a SQLite file and a fresh PostgreSQL database (reached
through a proxy the test cuts, where the test is about an outage). Expectations are recomputed
here: keys from the workflow id and the seq, signatures with the receiver's own check.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from activities.channels.webhook import verify_webhook
from activities.dispatch import DELIVERY_LEASE, Dispatcher, dispatch_notice
from activities.notify import retry_delay
from activities.outbox import enqueue, notice_from_json
from domain.models import Notice
from settings import Settings
from store.db import make_engine, migrate
from store.tables import ChannelTarget, Notification, NotificationAttempt, OutboxNotice
from tests.activities.conftest import FakeClock, Received, Reply, TinyHTTPServer, free_port
from tests.conftest import fresh_postgres_database
from tests.faults.stack import TcpProxy
from tests.workflows.standalone import read_model_at, time_skipping_env
from workers.main import build_worker, serving

UNIT = "611025001001"
OTHER_UNIT = "611025001002"
SECRET = "village-hook-secret"
DEADLINE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
FAST = Settings(dispatch_poll_seconds=0.1)


def notice(seq: int, issue: str = "ISS-1", units: Sequence[str] = (UNIT,)) -> Notice:
    return Notice(
        issue_id=issue,
        seq=seq,
        kind="level_entered",
        title="村道垃圾堆放",
        text="村道旁垃圾堆放三天未清运。",
        units=list(units),
        level="village",
        deadline=DEADLINE,
        where=["新城社区", "永乐街道"],
    )


def key_of(n: Notice) -> str:
    return f"issue-{n.issue_id}:{n.seq}"  # the workflow id (issue-<id>) and the event's seq


def hook(engine: Engine, url: str, unit: str = UNIT, timeout: float = 5) -> int:
    with Session(engine) as session:
        target = ChannelTarget(
            owner_kind="unit",
            owner_code=unit,
            channel="webhook",
            config={"url": url, "timeout": timeout},
            secret=SECRET,
        )
        session.add(target)
        session.commit()
        assert target.id is not None
        return target.id


def put(engine: Engine, notices: Sequence[Notice]) -> None:
    with Session(engine) as session:
        enqueue(session, notices)
        session.commit()


def webhook_rows(engine: Engine) -> list[Notification]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Notification)
                .where(Notification.channel == "webhook")
                .order_by(col(Notification.id))
            ).all()
        )


def attempts_of(engine: Engine, notification_id: int | None) -> list[NotificationAttempt]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(NotificationAttempt)
                .where(NotificationAttempt.notification_id == notification_id)
                .order_by(col(NotificationAttempt.attempt))
            ).all()
        )


def attempted(engine: Engine) -> int:
    """Attempts made on the one webhook delivery so far (-1 before it exists)."""
    rows = webhook_rows(engine)
    return rows[0].attempts if rows else -1


def settled(engine: Engine, count: int) -> bool:
    rows = webhook_rows(engine)
    return len(rows) == count and all(r.status in ("sent", "failed") for r in rows)


async def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(0.05)


def verified(request: Received) -> bool:
    return verify_webhook(
        SECRET,
        request.headers["x-linkage-timestamp"],
        request.body,
        request.headers["x-linkage-signature"],
        time.time(),
    )


@asynccontextmanager
async def dispatching(
    engine: Engine, http: httpx.AsyncClient, settings: Settings = FAST, **options: object
) -> AsyncIterator[Dispatcher]:
    async with Dispatcher(engine, http, settings, **options) as dispatcher:  # type: ignore[arg-type]
        yield dispatcher


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
    assert rows[0].notice["deadline"] == "2026-11-25T10:00:00+00:00"
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


# ---- stopping, and a database that goes away ----------------------------------------------------


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
