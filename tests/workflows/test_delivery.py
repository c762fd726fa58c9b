"""Notices reach an outside webhook through the outbox and the dispatcher beside the worker.

A real local HTTP receiver stands in for a township's system; the workflow, the worker, its
dispatcher and the read model are the real ones (the time-skipping server for the workflow), and
the retries are the dispatcher's, on the wall clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from activities.channels.webhook import IDEMPOTENCY_HEADER, verify_webhook
from store.tables import ChannelTarget, Notification, NotificationAttempt
from tests.activities.conftest import TinyHTTPServer
from tests.workflows.conftest import Harness
from tests.workflows.test_issue_paths import monday_nine

# A village no other scenario registers at, so its webhook hears only this module's issues.
HOOKED_VILLAGE = "611025001003"
SECRET = "township-hook-secret"


@pytest.fixture
async def receiver() -> AsyncIterator[TinyHTTPServer]:
    server = TinyHTTPServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def hooked(read_model: Engine, receiver: TinyHTTPServer) -> Iterator[int]:
    """The village's webhook target, removed afterwards (the read model is shared)."""
    with Session(read_model) as session:
        target = ChannelTarget(
            owner_kind="unit",
            owner_code=HOOKED_VILLAGE,
            channel="webhook",
            config={"url": f"{receiver.url}/linkage"},
            secret=SECRET,
        )
        session.add(target)
        session.commit()
        assert target.id is not None
        target_id = target.id
    yield target_id
    with Session(read_model) as session:
        ids = select(Notification.id).where(Notification.target_id == target_id)
        session.exec(
            delete(NotificationAttempt).where(col(NotificationAttempt.notification_id).in_(ids))
        )
        session.exec(delete(Notification).where(col(Notification.target_id) == target_id))
        session.exec(delete(ChannelTarget).where(col(ChannelTarget.id) == target_id))
        session.commit()


async def _settled_delivery(h: Harness, target_id: int) -> Notification:
    """The first notice to the target once it is sent or finally failed.

    The dispatcher's backoff runs on the wall clock (2 s, then 4 s), not on the workflow's.
    """
    for _ in range(300):
        with Session(h.engine) as session:
            row = session.exec(
                select(Notification)
                .where(Notification.target_id == target_id)
                .order_by(col(Notification.id))
            ).first()
            if row is not None and row.status in ("sent", "failed"):
                return row
        await asyncio.sleep(0.1)
    raise AssertionError("the delivery never settled")


def _attempts(h: Harness, notification_id: int | None) -> list[tuple[int, bool, int | None]]:
    with Session(h.engine) as session:
        rows = session.exec(
            select(NotificationAttempt)
            .where(NotificationAttempt.notification_id == notification_id)
            .order_by(col(NotificationAttempt.attempt))
        ).all()
        return [(a.attempt, a.ok, a.status_code) for a in rows]


async def test_a_5xx_is_retried_with_the_same_key_until_delivered(
    make_harness: Any, receiver: TinyHTTPServer, hooked: int
) -> None:
    receiver.reply(503, "busy")
    receiver.reply(502, "bad gateway")
    async with make_harness() as h:
        await monday_nine(h)
        await h.register(HOOKED_VILLAGE)
        row = await _settled_delivery(h, hooked)
    assert row.status == "sent" and row.attempts == 3
    assert _attempts(h, row.id) == [(1, False, 503), (2, False, 502), (3, True, 200)]
    first = [
        r
        for r in receiver.requests
        if r.headers.get(IDEMPOTENCY_HEADER.lower()) == row.idempotency_key
    ]
    # Every retry posts the same bytes under the same key, each signed so the receiver can verify.
    assert len(first) == 3 and len({r.body for r in first}) == 1
    for request in first:
        headers = request.headers
        assert verify_webhook(
            SECRET,
            headers["x-linkage-timestamp"],
            request.body,
            headers["x-linkage-signature"],
            time.time(),
        )


async def test_a_4xx_is_final_and_the_supervisors_hear_of_it(
    make_harness: Any, receiver: TinyHTTPServer, hooked: int
) -> None:
    receiver.reply(404, "no such hook")
    async with make_harness() as h:
        await monday_nine(h)
        await h.register(HOOKED_VILLAGE)
        row = await _settled_delivery(h, hooked)
        # The alert follows the failure in the dispatcher's transaction or just after.
        alert = None
        for _ in range(100):
            with Session(h.engine) as session:
                alert = session.exec(
                    select(Notification).where(
                        Notification.idempotency_key == f"{row.idempotency_key}:failed:{row.id}"
                    )
                ).first()
            if alert is not None:
                break
            await asyncio.sleep(0.1)
    assert row.status == "failed"
    assert _attempts(h, row.id) == [(1, False, 404)]
    assert len([r for r in receiver.requests if r.target == "/linkage"]) == 1
    assert alert is not None
    assert (alert.kind, alert.channel, alert.target_kind) == (
        "delivery_failed",
        "inbox",
        "supervisors",
    )
    assert alert.target_code == HOOKED_VILLAGE
    assert "404" in alert.body or "no such hook" in alert.body
