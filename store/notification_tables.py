"""Notices on their way out: the outbox the recorder writes, and the deliveries and attempts the
dispatcher keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from store.columns import UTCDateTime, json_column

PENDING = "status = 'pending'"
UNDISPATCHED = "dispatched_at IS NULL"


class Notification(SQLModel, table=True):
    """One message to one target on one channel; the inbox is a channel like the others."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint(
            "idempotency_key",
            "channel",
            "target_kind",
            "target_code",
            "target_id",
            name="uq_notification_delivery",
        ),
        # NULLs are distinct in a unique constraint on both SQLite and PostgreSQL, so deliveries
        # without a ChannelTarget (the inbox) need their own partial index to stay unique.
        Index(
            "uq_notification_delivery_no_target",
            "idempotency_key",
            "channel",
            "target_kind",
            "target_code",
            unique=True,
            sqlite_where=text("target_id IS NULL"),
            postgresql_where=text("target_id IS NULL"),
        ),
        Index("ix_notification_target", "target_kind", "target_code", "status"),
        # The dispatcher's "pending deliveries due now" (activities/dispatch.py): pending rows
        # are few, sent ones pile up, so only the pending are indexed. The predicate is a literal
        # in the dispatcher's query too, or SQLite would not use a partial index.
        Index(
            "ix_notification_due",
            "next_attempt_at",
            sqlite_where=text(PENDING),
            postgresql_where=text(PENDING),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: str | None = Field(default=None, index=True)
    seq: int = 0  # the issue event that caused it
    kind: str
    channel: str  # inbox | webhook | dingtalk | wecom | email
    target_kind: str  # unit | department | user | supervisors | admins
    target_code: str
    target_id: int | None = Field(default=None, foreign_key="channel_target.id")
    title: str
    body: str
    status: str = Field(default="pending", index=True)  # pending | sent | failed | read
    attempts: int = 0
    last_error: str | None = None
    idempotency_key: str  # workflow id + event seq: what receivers dedupe on
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A pending external delivery is attempted once this instant has passed (the backoff between
    # attempts), by the dispatcher whose lease ``claimed_until`` holds it.
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NotificationAttempt(SQLModel, table=True):
    __tablename__ = "notification_attempt"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    attempt: int
    at: datetime = Field(sa_type=UTCDateTime)
    ok: bool
    status_code: int | None = None
    error: str | None = None


class OutboxNotice(SQLModel, table=True):
    """A notice the recorder wrote with the events that caused it, until a dispatcher fans it out.

    Written in the read model's transaction (``activities.outbox.enqueue``), so a notice exists
    exactly when its events do; ``dispatched_at`` is set in the transaction that writes its
    ``notification`` rows. The row stays afterwards: a retried record finds it and adds nothing.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("issue_id", "seq", "kind", name="uq_outbox_notice"),
        Index(
            "ix_outbox_undispatched",
            "id",
            sqlite_where=text(UNDISPATCHED),
            postgresql_where=text(UNDISPATCHED),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: str
    seq: int
    kind: str
    notice: dict[str, Any] = Field(
        sa_column=json_column(dict)
    )  # domain.models.Notice, datetimes ISO
    created_at: datetime = Field(sa_type=UTCDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The lease of the dispatcher fanning it out: another takes the row only once it has passed.
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
