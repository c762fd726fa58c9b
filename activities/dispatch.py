"""The dispatcher: drains the outbox and makes the deliveries that are due, beside the worker.

One runs in every worker process (``workers.main.run_worker``), on the worker's event loop, with
its SQL on a few threads of its own. Each round it

1. claims a batch of undispatched outbox rows (a lease: ``claimed_until``), and fans each out
   (``notify.fan_out``) in the transaction that marks it dispatched. That transaction's first
   statement is the mark, conditional on the row being undispatched, so even two dispatchers
   holding one row (a lease ran out) fan it out once: the second waits for the first's lock and
   then finds nothing to mark;
2. claims as many due pending deliveries as it has free send slots, under a lease longer than
   any send, and attempts each through the channel senders; ``notify.record_attempt`` keeps the
   attempt and schedules the next one, or marks the row sent, or failed with the supervisors'
   alert.

It sleeps ``dispatch_poll_seconds`` between rounds, and less when ``wake()`` is called: the outbox
wakes the dispatchers of its process when a record commits notices, a finished send frees a slot,
and a retry falls due. A database that does not answer is waited for, longer each time; nothing
is lost meanwhile: a claim that was not finished ends with its lease.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

import httpx
from sqlalchemy import ColumnElement, Engine, TextClause, and_, or_, text, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, SQLModel, col, select

from activities.channels.base import OutboundMessage, Target, senders, utcnow
from activities.notify import Outcome, attempt, delivery_of, fan_out, record_attempt
from activities.outbox import notice_from_json, subscribe
from settings import Settings
from store.db import session_scope
from store.tables import PENDING, UNDISPATCHED, Notification, OutboxNotice, table_of

log = logging.getLogger("linkage.dispatch")

T = TypeVar("T")
Clock = Callable[[], datetime]

SENDS_AT_ONCE = 32
OUTBOX_BATCH = 100
OUTBOX_LEASE = timedelta(minutes=1)
# Longer than a send (a target's timeout: 10 s unless configured) and the record after it, so a
# delivery in flight is never taken up by a second dispatcher.
DELIVERY_LEASE = timedelta(minutes=2)
LONGEST_OUTAGE_WAIT = 30.0  # seconds between rounds while the database does not answer
STOP_GRACE = 5.0  # seconds the sends in flight get to finish when the worker stops
DATABASE_THREADS = 4
# What a database that is down, restarting or out of reach raises (and SQLite's "locked").
DATABASE_AWAY = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class Due:
    """A claimed delivery, ready to attempt."""

    notification_id: int
    message: OutboundMessage
    target: Target | None


class Dispatcher:
    """Drains the outbox and delivers, until stopped; ``async with`` runs it in the background.

    Args:
        engine: the read model.
        http: the HTTP client the channel senders share.
        settings: ``dispatch_poll_seconds``, and the link base and time zone of the messages.
        sends_at_once: deliveries attempted at the same time, at most.
        clock: the current time (aware), for leases, schedules and the rows' instants.
    """

    def __init__(
        self,
        engine: Engine,
        http: httpx.AsyncClient,
        settings: Settings,
        *,
        sends_at_once: int = SENDS_AT_ONCE,
        clock: Clock = utcnow,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._senders = senders(http)
        self._poll = settings.dispatch_poll_seconds
        self._sends_at_once = sends_at_once
        self._clock = clock
        self._sending: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._unsubscribe: Callable[[], None] = lambda: None

    async def __aenter__(self) -> Dispatcher:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def start(self) -> None:
        """Run in the background on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._threads = ThreadPoolExecutor(DATABASE_THREADS, thread_name_prefix="dispatch")
        self._unsubscribe = subscribe(self.wake)
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    def wake(self) -> None:
        """Start the next round now rather than at the next poll; safe from any thread."""
        loop = self._loop
        if loop is not None:
            with suppress(RuntimeError):  # the loop closed meanwhile: nothing left to wake
                loop.call_soon_threadsafe(self._wakeup.set)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish the round, give the sends in flight ``grace`` seconds, cancel the rest.

        A cancelled send is attempted again once its lease ends (delivery is at least once).
        """
        self._unsubscribe()
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._sending:
            _, late = await asyncio.wait(set(self._sending), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)

    # ---- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wakeup.clear()
            try:
                more = await self.round()
            except Exception as exc:
                failures += 1
                wait = min(self._poll * 2**failures, LONGEST_OUTAGE_WAIT)
                away = isinstance(exc, DATABASE_AWAY)
                log.warning(
                    "dispatcher: %s; next round in %.1f s",
                    _first_line(exc),
                    wait,
                    exc_info=not away,
                )
                await self._sleep(wait)
                continue
            if failures:
                log.info("dispatcher: back at work after %d failed rounds", failures)
                failures = 0
            if not more:
                await self._sleep(self._poll)

    async def round(self) -> bool:
        """Fan out a batch of the outbox, start the deliveries due; whether more may be waiting."""
        fanned = await self._in_thread(self._fan_out_batch)
        free = self._sends_at_once - len(self._sending)
        due = await self._in_thread(self._claim_due, free) if free > 0 else []
        for delivery in due:
            task = asyncio.create_task(self._send(delivery))
            self._sending.add(task)
            task.add_done_callback(self._sent)
        return fanned == OUTBOX_BATCH or (free > 0 and len(due) == free)

    async def _sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._loop is not None, "start() the dispatcher first"
        return await self._loop.run_in_executor(self._threads, functools.partial(fn, *args))

    # ---- the outbox -----------------------------------------------------------------------------

    def _fan_out_batch(self) -> int:
        now = self._clock()
        with session_scope(self._engine) as session:
            undispatched = text(UNDISPATCHED)
            ids = claim(session, OutboxNotice, undispatched, (), OUTBOX_BATCH, now, OUTBOX_LEASE)
        for outbox_id in ids:
            try:
                dispatch_notice(self._engine, outbox_id, self._settings, self._clock())
            except DATABASE_AWAY:
                raise
            except Exception:
                log.exception("outbox row %s not fanned out; again after its lease", outbox_id)
        return len(ids)

    # ---- deliveries -----------------------------------------------------------------------------

    def _claim_due(self, limit: int) -> list[Due]:
        now = self._clock()
        table = table_of(Notification)
        due = and_(text(PENDING), table.c.next_attempt_at <= now)
        order = (table.c.next_attempt_at,)
        with session_scope(self._engine) as session:
            ids = claim(session, Notification, due, order, limit, now, DELIVERY_LEASE)
            rows = session.exec(select(Notification).where(col(Notification.id).in_(ids))).all()
            return [
                Due(row.id, *delivery_of(session, row, self._settings))
                for row in rows
                if row.id is not None
            ]

    async def _send(self, due: Due) -> None:
        try:
            outcome = await attempt(self._senders, due.message, due.target)
        except Exception as exc:  # a sender's bug: on record as a failed attempt, tried again
            log.exception("delivery %s: the sender raised", due.notification_id)
            outcome = Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
        next_at = await self._keep(due.notification_id, outcome)
        if next_at is not None and self._loop is not None:
            delay = (next_at - self._clock()).total_seconds()
            self._loop.call_later(max(0.0, delay), self.wake)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self.wake()  # a slot is free

    async def _keep(self, notification_id: int, outcome: Outcome) -> datetime | None:
        """Record the attempt, waiting out a short outage; the next attempt's time, if any."""
        ended = self._clock()
        give_up = time.monotonic() + DELIVERY_LEASE.total_seconds() / 2
        wait = self._poll
        while True:
            try:
                return await self._in_thread(self._record, notification_id, outcome, ended)
            except DATABASE_AWAY as exc:
                if self._stopping or time.monotonic() + wait > give_up:
                    log.error(
                        "delivery %s: attempt not recorded (%s); attempted again after its lease",
                        notification_id,
                        _first_line(exc),
                    )
                    return None
                log.warning("delivery %s: recording waits for the database", notification_id)
                await asyncio.sleep(wait)
                wait = min(wait * 2, LONGEST_OUTAGE_WAIT)

    def _record(self, notification_id: int, outcome: Outcome, ended: datetime) -> datetime | None:
        with session_scope(self._engine) as session:
            row = record_attempt(session, notification_id, outcome, ended)
            return row.next_attempt_at if row is not None and row.status == "pending" else None


# ---- statements shared by both claims -----------------------------------------------------------


def claim(
    session: Session,
    model: type[SQLModel],
    due: ColumnElement[bool] | TextClause,
    order: Sequence[ColumnElement[Any]],
    limit: int,
    now: datetime,
    lease: timedelta,
) -> list[int]:
    """Lease up to ``limit`` rows of ``model`` that are ``due`` and not leased; their ids.

    One ``UPDATE … RETURNING``: its own condition is checked again on the row it locks, so two
    dispatchers never both lease a row. On PostgreSQL the pick skips rows another is leasing.
    """
    table = table_of(model)
    free = or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
    # An UPDATE takes SQLite's write lock even when it matches nothing: an idle dispatcher reads.
    if session.exec(select(table.c.id).where(due, free).limit(1)).first() is None:
        return []
    pick = core_select(table.c.id).where(due, free).order_by(*order, table.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    leased = session.exec(
        update(table)
        .where(table.c.id.in_(pick.scalar_subquery()), free)
        .values(claimed_until=now + lease)
        .returning(table.c.id)
    )
    return list(leased.scalars())


def dispatch_notice(engine: Engine, outbox_id: int, settings: Settings, now: datetime) -> bool:
    """Fan one outbox row out and mark it dispatched, in one transaction; False if done before.

    The mark comes first: it locks the row (SQLite: the database), so a second dispatcher holding
    the same row waits, then finds it dispatched and writes nothing.
    """
    table = table_of(OutboxNotice)
    with session_scope(engine) as session:
        notice = session.exec(
            update(table)
            .where(table.c.id == outbox_id, text(UNDISPATCHED))
            .values(dispatched_at=now, claimed_until=None)
            .returning(table.c.notice)
        ).scalar_one_or_none()
        if notice is None:
            return False
        fan_out(session, notice_from_json(notice), settings, now)
    return True


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"
