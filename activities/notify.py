"""Notices: fanned out to the in-app inbox and each target's configured channels, then delivered.

``notify`` writes one row per recipient and channel (idempotent: a retried activity finds its rows)
and returns the external deliveries still to make; the workflow runs one ``deliver`` per row with
retries and backoff, and ``delivery_failed`` when one finally fails, which alerts the supervisors.
Every attempt is a row of ``notification_attempt``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels.base import (
    DeliveryError,
    OutboundMessage,
    PermanentDeliveryError,
    Target,
    TransientDeliveryError,
    deliver,
    notice_idempotency_key,
    render,
    senders,
)
from domain.models import Notice
from settings import Settings
from store.tables import Category, ChannelTarget, Issue, Notification, NotificationAttempt
from workflows.issue import workflow_id

INBOX = "inbox"
MARKDOWN_CHANNELS = frozenset({"dingtalk", "wecom"})
# Notices that share their event's seq with a primary notice get their own idempotency key.
SECONDARY_KINDS = frozenset({"calendar_provisional"})


@dataclass(frozen=True)
class Recipient:
    kind: str  # unit | department | supervisors | admins
    code: str


def recipients(notice: Notice, category: Category | None) -> list[Recipient]:
    """Who hears of a notice, without duplicates, in a stable order."""
    found: list[Recipient] = [Recipient("unit", c) for c in notice.units]
    departments = list(notice.departments)
    if notice.kind == "level_entered" and category is not None and category.notify_departments:
        departments += category.departments
    found += [Recipient("department", c) for c in departments]
    watcher = "admins" if notice.kind in SECONDARY_KINDS else "supervisors"
    found += [Recipient(watcher, c) for c in notice.supervisors_of]
    return list(dict.fromkeys(found))


class Notifier:
    """The notification activities, sharing one engine and one HTTP connection pool."""

    def __init__(self, engine: Engine, http: httpx.AsyncClient, settings: Settings) -> None:
        self._engine = engine
        self._senders = senders(http)
        self._settings = settings

    # ---- fan-out ------------------------------------------------------------------------------

    @activity.defn(name="notify")
    def notify(self, notice: Notice) -> list[int]:
        """Write inbox rows and pending external deliveries; return the ids still to deliver."""
        key = notice_idempotency_key(workflow_id(notice.issue_id), notice.seq)
        if notice.kind in SECONDARY_KINDS:
            key = f"{key}:{notice.kind}"
        now = datetime.now(UTC)
        link = f"{self._settings.public_url.rstrip('/')}/dashboard/issues/{notice.issue_id}"
        message = render(
            idempotency_key=key,
            kind=notice.kind,
            title=notice.title,
            where=notice.where,
            level=notice.level,
            deadline=notice.deadline,
            link=link,
            body=notice.text if notice.text != notice.title else "",
            created_at=now,
            tz=self._settings.timezone,
        )
        pending: list[int] = []
        with Session(self._engine) as session:
            category = session.get(Category, notice.category) if notice.category else None
            for who in recipients(notice, category):
                self._row(session, notice, key, message, who, INBOX, None, now)
                for target in _targets_of(session, who):
                    row = self._row(session, notice, key, message, who, target.channel, target, now)
                    if row.status == "pending" and row.id is not None:
                        pending.append(row.id)
            session.commit()
        return pending

    def _row(
        self,
        session: Session,
        notice: Notice,
        key: str,
        message: OutboundMessage,
        who: Recipient,
        channel: str,
        target: ChannelTarget | None,
        now: datetime,
    ) -> Notification:
        target_id = target.id if target is not None else None
        existing = session.exec(
            select(Notification).where(
                Notification.idempotency_key == key,
                Notification.channel == channel,
                Notification.target_kind == who.kind,
                Notification.target_code == who.code,
                Notification.target_id == target_id
                if target_id is not None
                else col(Notification.target_id).is_(None),
            )
        ).first()
        if existing is not None:
            return existing
        row = Notification(
            issue_id=notice.issue_id,
            seq=notice.seq,
            kind=notice.kind,
            channel=channel,
            target_kind=who.kind,
            target_code=who.code,
            target_id=target_id,
            title=message.title,
            body=message.markdown if channel in MARKDOWN_CHANNELS else message.text,
            # The inbox is written here and now: that is its delivery.
            status="sent" if channel == INBOX else "pending",
            sent_at=now if channel == INBOX else None,
            idempotency_key=key,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row

    # ---- one external delivery ----------------------------------------------------------------

    @activity.defn(name="deliver")
    async def deliver(self, notification_id: int) -> None:
        """One attempt; 4xx is final (non-retryable), 5xx and network errors retry."""
        loaded = await asyncio.to_thread(self._load, notification_id)
        if loaded is None:
            return  # already sent (a retry after a lost acknowledgement) or gone
        message, target = loaded
        attempt = activity.info().attempt
        try:
            result = await deliver(self._senders, message, target)
        except DeliveryError as exc:
            final = isinstance(exc, PermanentDeliveryError)
            await asyncio.to_thread(
                self._attempted, notification_id, attempt, False, exc.status_code, str(exc), final
            )
            retry_after = exc.retry_after if isinstance(exc, TransientDeliveryError) else None
            raise ApplicationError(
                str(exc),
                type=type(exc).__name__,
                non_retryable=final,
                next_retry_delay=timedelta(seconds=retry_after) if retry_after else None,
            ) from exc
        await asyncio.to_thread(
            self._attempted, notification_id, attempt, True, result.status_code, None, False
        )

    def _load(self, notification_id: int) -> tuple[OutboundMessage, Target] | None:
        with Session(self._engine) as session:
            row = session.get(Notification, notification_id)
            if row is None or row.status == "sent":
                return None
            target = session.get(ChannelTarget, row.target_id) if row.target_id else None
            if target is None:
                raise ApplicationError(
                    f"notification {notification_id} has no channel target",
                    type="PermanentDeliveryError",
                    non_retryable=True,
                )
            message = OutboundMessage(
                idempotency_key=row.idempotency_key,
                kind=row.kind,
                title=row.title,
                text=row.body,
                markdown=row.body,
                link=f"{self._settings.public_url.rstrip('/')}/dashboard/issues/{row.issue_id}",
                mentions_mobiles=list(target.config.get("mentions_mobiles", [])),
                created_at=row.created_at,
            )
            return message, Target(
                channel=target.channel, config=target.config, secret=target.secret
            )

    def _attempted(
        self,
        notification_id: int,
        attempt: int,
        ok: bool,
        status_code: int | None,
        error: str | None,
        final: bool,
    ) -> None:
        now = datetime.now(UTC)
        with Session(self._engine) as session:
            row = session.get(Notification, notification_id)
            if row is None:
                return
            session.add(
                NotificationAttempt(
                    notification_id=notification_id,
                    attempt=attempt,
                    at=now,
                    ok=ok,
                    status_code=status_code,
                    error=error,
                )
            )
            row.attempts += 1
            row.last_error = error
            if ok:
                row.status, row.sent_at = "sent", now
            elif final:
                row.status = "failed"
            session.add(row)
            session.commit()

    # ---- final failure ----------------------------------------------------------------------

    @activity.defn(name="delivery_failed")
    def delivery_failed(self, notification_id: int) -> None:
        """Mark the delivery failed and tell the supervisors over the inbox (which cannot fail)."""
        now = datetime.now(UTC)
        with Session(self._engine) as session:
            row = session.get(Notification, notification_id)
            if row is None:
                return
            if row.status != "failed":
                row.status = "failed"
                session.add(row)
            issue = session.get(Issue, row.issue_id) if row.issue_id else None
            watch = row.target_code if row.target_kind == "unit" else None
            watch = watch or (issue.county_code if issue else None) or row.target_code
            key = f"{row.idempotency_key}:failed:{row.id}"
            alert = session.exec(
                select(Notification).where(Notification.idempotency_key == key)
            ).first()
            if alert is None:
                session.add(
                    Notification(
                        issue_id=row.issue_id,
                        seq=row.seq,
                        kind="delivery_failed",
                        channel=INBOX,
                        target_kind="supervisors",
                        target_code=watch,
                        title=f"【通知发送失败】{row.title}",
                        body=(
                            f"发往{row.target_kind} {row.target_code} 的{row.channel}通知"
                            f"经{row.attempts}次尝试仍失败：{row.last_error or '未知错误'}"
                        ),
                        status="sent",
                        sent_at=now,
                        idempotency_key=key,
                        created_at=now,
                    )
                )
            session.commit()


def _targets_of(session: Session, who: Recipient) -> Iterable[ChannelTarget]:
    if who.kind not in ("unit", "department", "supervisors"):
        return []
    return session.exec(
        select(ChannelTarget)
        .where(
            ChannelTarget.owner_kind == who.kind,
            ChannelTarget.owner_code == who.code,
            col(ChannelTarget.enabled).is_(True),
        )
        .order_by(col(ChannelTarget.id))
    ).all()
