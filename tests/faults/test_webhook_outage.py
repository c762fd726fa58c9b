"""A webhook receiver that answers 503, then refuses connections, then comes back: nothing is lost.

The village and its township each have a webhook channel target (as an admin would configure
one: ``channel_target`` rows with a URL and an HMAC secret) pointing at a real local HTTP server.
While issues enter the village, are reminded, warned and escalated, the receiver first answers 503
and then is not there at all (connection refused). Once it is back, every notice reaches it,
signed, under its idempotency key, and the notifications table shows the failed attempts and the
final success of each delivery.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlmodel import Session, col, select

from domain.models import EventType
from store.tables import ChannelTarget, Notification, NotificationAttempt
from tests.e2e.stack import free_ports
from tests.faults.conftest import Stack, StackFactory, register_many, withdraw_open
from tests.faults.stack import WebhookReceiver, eventually
from tests.workflows.conftest import TOWNSHIP, VILLAGE

ISSUES = 4
# Events whose notice goes to the unit where the issue is (a warning also to its parent).
NOTIFYING = {
    EventType.LEVEL_ENTERED,
    EventType.ACCEPT_OVERDUE,
    EventType.WARNING,
    EventType.WITHDRAWN,
}
TARGETS = {VILLAGE: "/hooks/village", TOWNSHIP: "/hooks/township"}


def configure_targets(stack: Stack, receiver: WebhookReceiver) -> None:
    with Session(stack.engine) as session:
        for unit, path in TARGETS.items():
            session.add(
                ChannelTarget(
                    owner_kind="unit",
                    owner_code=unit,
                    channel="webhook",
                    config={"url": receiver.url(path), "timeout": 2},
                    secret=receiver.secrets[path],
                )
            )
        session.commit()


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_webhook_outage_delays_deliveries_and_loses_none(make_stack: StackFactory) -> None:
    (port,) = free_ports(1)
    receiver = WebhookReceiver(port, {path: f"secret-{unit}" for unit, path in TARGETS.items()})
    receiver.switch("unavailable")
    try:
        async with make_stack() as stack:
            configure_targets(stack, receiver)
            began = time.monotonic()
            handles = await register_many(stack, ISSUES)  # all at VILLAGE

            await asyncio.sleep(max(0.0, 6 - (time.monotonic() - began)))
            receiver.switch("down")
            await asyncio.sleep(max(0.0, 13 - (time.monotonic() - began)))
            receiver.switch("ok")
            # At the township by now (village deadline 10 s): withdrawn there, one more notice.
            await asyncio.sleep(max(0.0, 15 - (time.monotonic() - began)))
            await withdraw_open(stack, handles)

            states = await stack.states(handles)
            expected = {
                (f"{handle.id}:{event.seq}", TARGETS[target])
                for handle, state in zip(handles, states, strict=True)
                for event in state.events
                if event.type in NOTIFYING
                for target in recipients_of(event.type, event.unit)
                if target in TARGETS
            }
            assert len(expected) >= ISSUES * 5, expected

            def received() -> set[tuple[str, str]]:
                return {(d.key, d.path) for d in receiver.delivered}

            async def all_delivered() -> bool:
                return expected <= received() and not pending_rows(stack)

            await eventually(all_delivered, 90, "every webhook notice delivered")

            assert received() == expected, received() ^ expected
            assert all(d.verified for d in receiver.delivered), "a delivery failed its signature"
            assert receiver.refused_with_503 > 0
            with Session(stack.engine) as session:
                rows = session.exec(
                    select(Notification).where(Notification.channel == "webhook")
                ).all()
                attempts = session.exec(
                    select(NotificationAttempt).order_by(col(NotificationAttempt.id))
                ).all()
            assert {(r.idempotency_key, TARGETS[r.target_code]) for r in rows} == expected
            assert all(r.status == "sent" and r.sent_at is not None for r in rows), [
                (r.idempotency_key, r.status, r.last_error) for r in rows if r.status != "sent"
            ]
            by_row: dict[int, list[NotificationAttempt]] = {}
            for attempt in attempts:
                by_row.setdefault(attempt.notification_id, []).append(attempt)
            for row in rows:
                assert row.id is not None
                tried = by_row[row.id]
                assert tried[-1].ok, (row.idempotency_key, tried)
                assert row.attempts == len(tried), (row.attempts, tried)
            failed = [a for a in attempts if not a.ok]
            # The outage shows: 503 answers first, connections refused later.
            assert {a.status_code for a in failed} >= {503, None}, failed
            assert sum(1 for row in rows if row.attempts > 1) >= ISSUES, "no retry on record"
    finally:
        receiver.close()


def recipients_of(kind: EventType, unit: str | None) -> list[str]:
    """The units a notice of this event goes to (the workflow's own rules, for these events)."""
    if unit is None:
        return []
    if kind is EventType.WARNING:
        parents = {VILLAGE: TOWNSHIP, TOWNSHIP: "611025"}
        return [unit, parents[unit]]
    return [unit]


def pending_rows(stack: Stack) -> list[Notification]:
    with Session(stack.engine) as session:
        return list(
            session.exec(
                select(Notification).where(
                    Notification.channel == "webhook", Notification.status != "sent"
                )
            ).all()
        )
