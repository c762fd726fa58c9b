"""Notices: fanned out to the in-app inbox and each target's configured channels, then delivered.

The rules of delivery, used by the dispatcher (``activities.dispatch``) that drains the outbox:
``fan_out`` writes one row per recipient and channel (idempotent: a second run finds its rows), the
inbox sent at once and the external deliveries pending and due; ``attempt`` makes one delivery
attempt through the channel's sender; ``record_attempt`` keeps every attempt in
``notification_attempt`` and decides what follows: sent, another attempt after the backoff below,
or failed (a 4xx, or the attempts spent), which alerts the supervisors over the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from temporalio import activity

from activities.channels.base import (
    DeliveryError,
    OutboundMessage,
    PermanentDeliveryError,
    Sender,
    Target,
    TransientDeliveryError,
    deliver,
    notice_idempotency_key,
    render,
)
from activities.outbox import enqueue
from domain.models import Notice
from settings import Settings
from store.db import session_scope
from store.tables import (
    Category,
    ChannelTarget,
    Department,
    Issue,
    Notification,
    NotificationAttempt,
    table_of,
)
from workflows.deliberation import workflow_id as deliberation_workflow_id
from workflows.issue import workflow_id

INBOX = "inbox"
MARKDOWN_CHANNELS = frozenset({"dingtalk", "wecom"})
# Notices that share their event's seq with a primary notice get their own idempotency key.
SECONDARY_KINDS = frozenset({"calendar_provisional"})

# The delivery policy (what the workflow's retry policy for ``deliver`` was): 2 s, doubling, at
# most 10 min apart, 12 attempts. A receiver's Retry-After lengthens a wait, up to an hour: a
# bad header must not park a delivery for days instead of failing it where people see.
FIRST_RETRY = timedelta(seconds=2)
BACKOFF = 2.0
LONGEST_RETRY = timedelta(minutes=10)
LONGEST_RETRY_AFTER = timedelta(hours=1)
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class Recipient:
    kind: str  # unit | department | supervisors | admins
    code: str


def recipients(
    notice: Notice, category: Category | None, retired: Collection[str] = ()
) -> list[Recipient]:
    """Who hears of a notice, without duplicates, in a stable order.

    A ``retired`` department hears nothing more: not as its category's department, nor from a
    whistle or a deliberation that named it before it was retired.
    """
    found: list[Recipient] = [Recipient("unit", c) for c in notice.units]
    departments = list(notice.departments)
    if notice.kind == "level_entered" and category is not None and category.notify_departments:
        departments += category.departments
    found += [Recipient("department", c) for c in departments if c not in retired]
    watcher = "admins" if notice.kind in SECONDARY_KINDS else "supervisors"
    found += [Recipient(watcher, c) for c in notice.supervisors_of]
    return list(dict.fromkeys(found))


def retry_delay(attempt: int, retry_after: float | None = None) -> timedelta:
    """How long after failed attempt number ``attempt`` (from 1) the next one is due."""
    delay = min(FIRST_RETRY * BACKOFF ** (attempt - 1), LONGEST_RETRY)
    if retry_after:
        delay = max(delay, min(timedelta(seconds=retry_after), LONGEST_RETRY_AFTER))
    return delay


def notice_key(notice: Notice) -> str:
    """The receivers' idempotency key of a notice: workflow id + seq (+ kind for a secondary)."""
    # A duty's notices carry its workflow id itself (a schedule names its runs).
    ids: dict[str, Callable[[str], str]] = {"deliberation": deliberation_workflow_id, "duty": str}
    of = ids.get(notice.subject, workflow_id)
    key = notice_idempotency_key(of(notice.issue_id), notice.seq)
    return f"{key}:{notice.kind}" if notice.kind in SECONDARY_KINDS else key


# The dashboard's page of a notice's subject, by its kind's prefix (a notice row keeps its kind,
# not its subject): a deliberation's, a duty's; any other kind is an issue's.
PAGES = {"deliberation_": "deliberations", "duty_": "duties"}


def _link(settings: Settings, subject_id: str | None, kind: str = "") -> str:
    page = next((p for prefix, p in PAGES.items() if kind.startswith(prefix)), "issues")
    # A duty's id carries its nominal instant ("...T09:00:00Z"): quoted to stay one segment.
    return f"{settings.public_url.rstrip('/')}/dashboard/{page}/{quote(subject_id or '', safe='')}"


# ---- fan-out ------------------------------------------------------------------------------------


def fan_out(session: Session, notice: Notice, settings: Settings, now: datetime) -> list[int]:
    """Write inbox rows (sent) and external deliveries (pending, due ``now``); no commit.

    Returns the ids of the deliveries still pending. Rows already there (an earlier run of the
    same notice) are found, not written again.
    """
    key = notice_key(notice)
    message = render(
        idempotency_key=key,
        kind=notice.kind,
        title=notice.title,
        where=notice.where,
        level=notice.level,
        deadline=notice.deadline,
        link=_link(settings, notice.issue_id, notice.kind),
        body=notice.text if notice.text != notice.title else "",
        created_at=now,
        tz=settings.timezone,
    )
    pending: list[int] = []
    category = session.get(Category, notice.category) if notice.category else None
    for who in recipients(notice, category, _retired(session, notice, category)):
        _row(session, notice, key, message, who, INBOX, None, now)
        for target in _targets_of(session, who):
            row = _row(session, notice, key, message, who, target.channel, target, now)
            if row.status == "pending" and row.id is not None:
                pending.append(row.id)
    return pending


def _retired(session: Session, notice: Notice, category: Category | None) -> set[str]:
    named = set(notice.departments) | set(category.departments if category else ())
    if not named:
        return set()
    query = select(Department.code).where(
        col(Department.code).in_(named), col(Department.active).is_(False)
    )
    return set(session.exec(query))


def _row(
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
    inbox = channel == INBOX
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
        status="sent" if inbox else "pending",
        sent_at=now if inbox else None,
        next_attempt_at=None if inbox else now,
        idempotency_key=key,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


# ---- one external delivery ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; ``final`` failures (a 4xx, a bad target) are not tried again."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    final: bool = False
    retry_after: float | None = None  # seconds the receiver asked us to wait


def delivery_of(
    session: Session, row: Notification, settings: Settings
) -> tuple[OutboundMessage, Target | None]:
    """The message a pending row sends and its target (None: the target row is gone)."""
    target = session.get(ChannelTarget, row.target_id) if row.target_id else None
    message = OutboundMessage(
        idempotency_key=row.idempotency_key,
        kind=row.kind,
        title=row.title,
        text=row.body,
        markdown=row.body,
        link=_link(settings, row.issue_id, row.kind),
        mentions_mobiles=list(target.config.get("mentions_mobiles", [])) if target else [],
        created_at=row.created_at,
    )
    if target is None:
        return message, None
    return message, Target(channel=target.channel, config=target.config, secret=target.secret)


async def attempt(
    registry: Mapping[str, Sender], message: OutboundMessage, target: Target | None
) -> Outcome:
    """One attempt through the target's channel; 4xx is final, 5xx and network errors are not."""
    if target is None:
        return Outcome(ok=False, error="no channel target", final=True)
    try:
        result = await deliver(registry, message, target)
    except DeliveryError as exc:
        return Outcome(
            ok=False,
            status_code=exc.status_code,
            error=str(exc),
            final=isinstance(exc, PermanentDeliveryError),
            retry_after=exc.retry_after if isinstance(exc, TransientDeliveryError) else None,
        )
    return Outcome(ok=True, status_code=result.status_code)


def record_attempt(
    session: Session, notification_id: int, outcome: Outcome, now: datetime
) -> Notification | None:
    """Keep the attempt and decide what follows it; no commit. None when the row is gone.

    The first statement writes (the attempt count), so on SQLite the transaction holds the write
    lock before it reads, and two recorders of one row count one after the other.
    """
    table = table_of(Notification)
    number = session.exec(
        update(table)
        .where(table.c.id == notification_id)
        .values(attempts=table.c.attempts + 1)
        .returning(table.c.attempts)
    ).scalar_one_or_none()
    row = session.get(Notification, notification_id) if number is not None else None
    if number is None or row is None:
        return None
    session.add(
        NotificationAttempt(
            notification_id=notification_id,
            attempt=number,
            at=now,
            ok=outcome.ok,
            status_code=outcome.status_code,
            error=outcome.error,
        )
    )
    row.last_error, row.claimed_until = outcome.error, None
    # A row settled meanwhile (its lease ran out and another dispatcher finished it) keeps its
    # verdict; the attempt is on record all the same.
    if row.status == "pending":
        _follow(session, row, number, outcome, now)
    session.add(row)
    return row


def _follow(
    session: Session, row: Notification, number: int, outcome: Outcome, now: datetime
) -> None:
    """What follows attempt ``number`` of a pending row: sent, failed, or tried again later."""
    if outcome.ok:
        row.status, row.sent_at, row.next_attempt_at = "sent", now, None
    elif outcome.final or number >= MAX_ATTEMPTS:
        row.status, row.next_attempt_at = "failed", None
        alert_supervisors(session, row, now)
    else:
        row.next_attempt_at = now + retry_delay(number, outcome.retry_after)


# ---- final failure ------------------------------------------------------------------------------


def alert_supervisors(session: Session, row: Notification, now: datetime) -> None:
    """Tell the supervisors over the inbox (which cannot fail) that ``row`` finally failed."""
    issue = session.get(Issue, row.issue_id) if row.issue_id else None
    watch = row.target_code if row.target_kind == "unit" else None
    watch = watch or (issue.county_code if issue else None) or row.target_code
    key = f"{row.idempotency_key}:failed:{row.id}"
    if session.exec(select(Notification.id).where(Notification.idempotency_key == key)).first():
        return
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


# ---- the workflow's former activities -----------------------------------------------------------


class Notifier:
    """The activities the issue workflow used to deliver with, kept registered while histories
    that call them may exist; each hands its work to the outbox path."""

    def __init__(self, engine: Engine, http: httpx.AsyncClient, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @activity.defn(name="notify")
    def notify(self, notice: Notice) -> list[int]:
        """Put the notice in the outbox; the dispatcher fans it out and delivers it."""
        with session_scope(self._engine) as session:
            enqueue(session, [notice])
        return []

    @activity.defn(name="deliver")
    def deliver(self, notification_id: int) -> None:
        """Make a pending delivery due now; the dispatcher attempts it."""
        table = table_of(Notification)
        with session_scope(self._engine) as session:
            session.exec(
                update(table)
                .where(table.c.id == notification_id, table.c.status == "pending")
                .values(next_attempt_at=datetime.now(UTC))
            )

    @activity.defn(name="delivery_failed")
    def delivery_failed(self, notification_id: int) -> None:
        """Mark the delivery failed and alert the supervisors."""
        with session_scope(self._engine) as session:
            row = session.get(Notification, notification_id)
            if row is None:
                return
            row.status, row.next_attempt_at = "failed", None
            session.add(row)
            alert_supervisors(session, row, datetime.now(UTC))


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
