"""What the dispatcher tests share: notices put in the outbox as the recorder puts them, a webhook
target, reads of what the dispatcher wrote, and a dispatcher that polls fast.

Expectations are recomputed here, not taken from the code under test: keys from the workflow id and
the seq, signatures with the receiver's own check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from activities.channels.webhook import verify_webhook
from activities.dispatch import Dispatcher
from activities.outbox import enqueue
from domain.models import Notice
from settings import Settings
from store.tables import ChannelTarget, Notification, NotificationAttempt
from tests.activities.conftest import Received

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
