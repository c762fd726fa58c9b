"""The SQL read model: reference data (units, departments, users …) and the issue projection.

Temporal holds live issues; these tables are what the API reads and what outlives Temporal's
retention. Activities and admin commands write them; nothing else does. Every timestamp is a
timezone-aware UTC ``datetime`` on the Python side, whatever the database keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Table,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Stable constraint names: SQLite batch migrations can only drop or alter what has a name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite has no time zone type and returns naive values; PostgreSQL returns them in the
    session's zone. Both come back as UTC here, and SQLite stores UTC text so that string order is
    time order. Naive values are refused rather than guessed: "local" is ambiguous in a system that
    runs in Asia/Shanghai and stores UTC.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json(default: Any = None) -> Any:
    """A JSON column; each table needs its own ``Column`` object.

    Plain JSON does not track in-place changes: assign a new list or dict to save an edit.
    """
    return Column(JSON, nullable=False, default=default)


def _prefix_index(name: str, column: str) -> Index:
    """An index that serves ``column LIKE 'prefix%'`` (PostgreSQL needs pattern ops outside C)."""
    return Index(name, column, postgresql_ops={column: "varchar_pattern_ops"})


# ---- reference data -----------------------------------------------------------------------------


class Unit(SQLModel, table=True):
    """A node of the jurisdiction tree, keyed by its statistical division code."""

    __tablename__ = "unit"
    __table_args__ = (_prefix_index("ix_unit_path", "path"),)

    code: str = Field(primary_key=True)
    name: str
    kind: str  # domain.models.UnitKind value
    parent_code: str | None = Field(default=None, foreign_key="unit.code", index=True)
    # "/61/6101/611025/" — a subtree is every path LIKE the root's path || '%', one index scan.
    path: str
    depth: int
    active: bool = True


class Department(SQLModel, table=True):
    __tablename__ = "department"

    code: str = Field(primary_key=True)  # e.g. "zhenan-zhujian"
    name: str  # 镇安县住房和城乡建设局
    short_name: str  # 住建
    county_code: str = Field(index=True)
    # Retired departments keep their rows (issues and keys name them) but take no new work.
    active: bool = True


class Category(SQLModel, table=True):
    __tablename__ = "category"

    code: str = Field(primary_key=True)  # e.g. "neighbour_dispute"
    name: str  # 邻里纠纷
    departments: list[str] = Field(default_factory=list, sa_column=_json(list))
    # Whether the departments hear of an issue as soon as it enters a level, not only on 吹哨.
    notify_departments: bool = False
    # A category issues were registered under is retired, never deleted: registration refuses it.
    active: bool = True


class ChannelTarget(SQLModel, table=True):
    """Where a unit's or department's notifications go besides the inbox."""

    __tablename__ = "channel_target"
    __table_args__ = (Index("ix_channel_target_owner", "owner_kind", "owner_code"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_kind: str  # unit | department
    owner_code: str
    channel: str  # webhook | dingtalk | wecom | email
    config: dict[str, Any] = Field(default_factory=dict, sa_column=_json(dict))  # url, address …
    secret: str | None = None  # HMAC key (webhook) or signing secret (DingTalk)
    enabled: bool = True


class User(SQLModel, table=True):
    # Not "user": that is a reserved word in PostgreSQL and a trap in hand-written SQL.
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True)
    password_hash: str
    display_name: str
    role: str  # clerk | leader | supervisor | department | admin
    unit_code: str | None = Field(default=None, foreign_key="unit.code", index=True)
    department_code: str | None = Field(default=None, foreign_key="department.code", index=True)
    phone: str | None = None
    email: str | None = None
    active: bool = True  # disabled, never deleted: the audit trail names its users
    # Set by an admin's password reset: no token until the user chose a new password.
    must_change_password: bool = False
    # Consecutive failed logins, and the lockout they caused (api.security.login).
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A department's machine client; the key is shown once and only its hash is kept."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(unique=True)  # the public first characters, to find the row
    key_hash: str
    department_code: str = Field(foreign_key="department.code", index=True)
    name: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Refreshed at most once a minute (api.security): a busy client must not write on every call.
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Household(SQLModel, table=True):
    """A household of a village, by the code the village hands out: one ballot per code in a poll.

    The code is random and carries nothing about the household; the village keeps who got which
    sheet, the system never does.
    """

    __tablename__ = "household"
    __table_args__ = (UniqueConstraint("village_code", "number", name="uq_household_number"),)

    code: str = Field(primary_key=True)
    village_code: str = Field(foreign_key="unit.code", index=True)
    number: int  # 1, 2, … within the village: the line of the printed sheet
    created_at: datetime = Field(sa_type=UTCDateTime)
    active: bool = True


class AuditRecord(SQLModel, table=True):
    """One administrative action: who, when, what, before → after (secrets redacted).

    Append-only like the issue events. ``scope_path`` is the path of the unit the action concerns
    (a department's county for department matters, empty for county-wide reference data): an
    admin reads the records of their subtree.
    """

    __tablename__ = "audit_record"
    __table_args__ = (_prefix_index("ix_audit_record_scope_path", "scope_path"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str
    actor_role: str
    action: str = Field(index=True)  # user.create, api_key.revoke, channel.test …
    target_kind: str
    target: str
    scope_path: str = ""
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


# ---- issue projection (written by activities.record) --------------------------------------------


class Issue(SQLModel, table=True):
    """One row per issue: its latest state, flattened for lists, filters and statistics."""

    __tablename__ = "issue"
    __table_args__ = (
        _prefix_index("ix_issue_unit_path", "unit_path"),
        _prefix_index("ix_issue_registered_unit_path", "registered_unit_path"),
        # Covering indexes for /stats (api/routes/stats.py): its passes over issues (the partial
        # months the tallies do not hold, the trend by hour, the quantiles by rank) read a range
        # of one index and never the table, whose rows carry titles and descriptions.
        Index(
            "ix_issue_stats_counts",
            "registered_at",
            "registered_unit_path",
            "category",
            "status",
            "overdue",
            "warnings_sent",
            "resolution_level",
            "level",
            "feedback_satisfaction",
            "feedback_solved",
            "feedback_by_role",
        ),
        Index(
            "ix_issue_stats_registered",
            "registered_hour",
            "registered_unit_path",
            "category",
            "registered_at",
            "resolve_us",
        ),
        Index(
            "ix_issue_stats_resolve_us",
            "resolve_us",
            "registered_unit_path",
            "category",
            "registered_at",
        ),
        Index(
            "ix_issue_stats_resolved",
            "resolved_hour",
            "registered_unit_path",
            "category",
            "resolved_at",
        ),
    )

    id: str = Field(primary_key=True)  # the workflow id
    tracking_code: str = Field(unique=True)
    pin_hash: str | None = None
    # Owned by the API (citizen PIN attempts); the recorder never overwrites them.
    pin_failures: int = 0
    pin_locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)

    category: str = Field(index=True)
    title: str
    description: str
    urgency: str
    channel: str
    reporter_name: str | None = None
    reporter_phone: str | None = None
    location: str | None = None
    attachments: list[str] = Field(default_factory=list, sa_column=_json(list))

    village_code: str | None = Field(default=None, index=True)
    township_code: str | None = Field(default=None, index=True)
    county_code: str | None = Field(default=None, index=True)
    unit_code: str = Field(index=True)  # where the issue is now
    unit_path: str  # that unit's path: subtree filters with LIKE
    registered_unit_path: str  # stays in the registering unit's subtree
    level: str = Field(index=True)
    status: str = Field(index=True)
    deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The feedback window while the issue awaits feedback (the row's deadline stays the level's).
    feedback_deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)
    feedback_by_role: str | None = None  # citizen, or the staff role that recorded a 回访
    overdue: bool = False
    provisional: bool = False  # the current deadline is past the official calendar
    registered_at: datetime = Field(sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)

    resolution_level: str | None = None
    resolution_unit: str | None = None
    resolution_unit_name: str | None = None
    resolution_summary: str | None = None
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    feedback_solved: bool | None = None
    feedback_satisfaction: str | None = None
    feedback_comment: str | None = None
    feedback_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Owned by the API, like the PIN columns: the title the handling unit's staff approved for the
    # 公示栏 (the citizen's own words are never published otherwise). The recorder never writes it.
    public_title: str | None = None
    # The standing invalid mark (无效), null otherwise: why, the issue a duplicate repeats (its
    # id and the tracking code the citizen is told), when, and until when supervisors may
    # overturn it. Such issues count in no unit's figures.
    invalid_kind: str | None = None  # domain.models.InvalidKind value
    invalid_reason: str | None = None
    duplicate_of: str | None = Field(default=None, index=True)
    duplicate_code: str | None = None
    invalid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    invalid_review_until: datetime | None = Field(default=None, sa_type=UTCDateTime)

    response_on_time: bool | None = None  # the first level accepted within its accept deadline
    idempotency_key: str | None = Field(default=None, unique=True)
    request_fingerprint: str | None = None  # the registration body's sha256: a reused key compares
    # The highest event seq this row reflects: a stale (older) snapshot never overwrites a newer.
    last_seq: int = 0
    warnings_sent: int = 0

    # Derived from registered_at and resolved_at (``stats_columns``) for /stats, which would
    # otherwise compute them on every row of every request: whole UTC hours since the epoch (an
    # hour lies within one local day wherever the zone's offset is whole hours) and the exact
    # time to resolve.
    registered_hour: int | None = None
    resolved_hour: int | None = None
    resolve_us: int | None = Field(default=None, sa_type=BigInteger)


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table, typed (SQLModel leaves ``__table__`` untyped)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
MICROSECOND = timedelta(microseconds=1)


def stats_columns(registered_at: datetime, resolved_at: datetime | None) -> dict[str, int | None]:
    """An issue's derived /stats columns, from its two instants (aware)."""

    def hour(moment: datetime | None) -> int | None:
        return None if moment is None else (moment - EPOCH) // HOUR

    return {
        "registered_hour": hour(registered_at),
        "resolved_hour": hour(resolved_at),
        "resolve_us": (
            None if resolved_at is None else (resolved_at - registered_at) // MICROSECOND
        ),
    }


@event.listens_for(Issue, "before_insert")
@event.listens_for(Issue, "before_update")
def _derive_stats_columns(_mapper: Any, _connection: Any, issue: Issue) -> None:
    # Rows written through the ORM (admin commands, tests) derive them here; the recorder's
    # upserts put them in their rows (activities/record.py).
    for name, value in stats_columns(issue.registered_at, issue.resolved_at).items():
        setattr(issue, name, value)


class _IssueCounts(SQLModel):
    """Issues counted the way /stats counts them (api/routes/stats.py: ``_issue_counts``)."""

    total: int = 0
    overdue: int = 0
    warned: int = 0
    resolved: int = 0
    resolved_village: int = 0
    resolved_township: int = 0
    resolved_county: int = 0
    at_grid: int = 0
    at_village: int = 0
    at_township: int = 0
    at_county: int = 0
    feedback: int = 0
    solved: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0


# The tallies: /stats reads whole months here instead of every issue. Database triggers keep them
# (migration 0002) in the transaction of each write to ``issue`` or ``issue_level``, so every
# writer keeps them, and a retried or stale write that changes no row changes no count. Keys come
# in the order /stats groups by: it walks a key and skips months, never sorts. Without SQLite's
# rowid a row is stored in its key's order.


class UnitTally(_IssueCounts, table=True):
    """Issues per registering unit, status and UTC month of registration: the rankings."""

    __tablename__ = "unit_tally"
    __table_args__ = {"sqlite_with_rowid": False}

    registered_unit_path: str = Field(primary_key=True)
    status: str = Field(primary_key=True)
    month: str = Field(primary_key=True)  # "YYYY-MM" of registered_at, in UTC


class IssueTally(_IssueCounts, table=True):
    """Issues per category, status, registering unit and UTC month of registration: the
    categories, and everything when one category is asked for."""

    __tablename__ = "issue_tally"
    __table_args__ = {"sqlite_with_rowid": False}

    category: str = Field(primary_key=True)
    status: str = Field(primary_key=True)
    registered_unit_path: str = Field(primary_key=True)
    month: str = Field(primary_key=True)  # "YYYY-MM" of registered_at, in UTC


class FeedbackTally(SQLModel, table=True):
    """Feedback received per registering unit, status, who recorded it (``citizen`` or the staff
    role of a 回访: ``Issue.feedback_by_role``), category and UTC month of registration: whose
    word the resolution and satisfaction rates rest on. Only issues with a feedback have cells."""

    __tablename__ = "feedback_tally"
    __table_args__ = {"sqlite_with_rowid": False}

    registered_unit_path: str = Field(primary_key=True)
    status: str = Field(primary_key=True)
    feedback_by: str = Field(primary_key=True)  # a row without a recorder counts as the citizen's
    category: str = Field(primary_key=True)
    month: str = Field(primary_key=True)  # "YYYY-MM" of registered_at, in UTC
    feedback: int = 0


class StayTally(SQLModel, table=True):
    """Level stays counted the way /stats counts them, per unit, level and UTC month of entry."""

    __tablename__ = "stay_tally"
    __table_args__ = {"sqlite_with_rowid": False}

    unit_code: str = Field(primary_key=True)
    level: str = Field(primary_key=True)
    month: str = Field(primary_key=True)  # "YYYY-MM" of entered_at, in UTC
    settled: int = 0
    accepted_on_time: int = 0
    left_level: int = 0
    left_on_time: int = 0


class _HourTally(SQLModel):
    root: str = Field(primary_key=True)  # the first segment of registered_unit_path: "/611025/"
    hour: int = Field(primary_key=True)  # whole UTC hours since the epoch


class RegisteredHourTally(_HourTally, table=True):
    """Issues per tree root and hour of registration (``Issue.registered_hour``), and how many
    of them are resolved: the trend of a whole tree (the county's dashboard) by hour."""

    __tablename__ = "registered_hour_tally"
    __table_args__ = {"sqlite_with_rowid": False}

    registered: int = 0
    registered_resolved: int = 0


class ResolvedHourTally(_HourTally, table=True):
    """Issues per tree root they were registered in and hour of resolution."""

    __tablename__ = "resolved_hour_tally"
    __table_args__ = {"sqlite_with_rowid": False}

    resolved: int = 0


class IssueLevel(SQLModel, table=True):
    """One stay of an issue at one unit (``idx`` is its position in the issue's levels)."""

    __tablename__ = "issue_level"
    __table_args__ = (
        UniqueConstraint("issue_id", "idx", name="uq_issue_level_issue_idx"),
        # /stats counts the stays of a partial month from this index alone.
        Index(
            "ix_issue_level_stats",
            "entered_at",
            "unit_code",
            "level",
            "accepted_on_time",
            "outcome",
            "on_time",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: str = Field(foreign_key="issue.id", index=True)
    idx: int
    level: str = Field(index=True)
    unit_code: str = Field(index=True)
    unit_name: str
    entered_at: datetime = Field(sa_type=UTCDateTime, index=True)
    deadline: datetime = Field(sa_type=UTCDateTime)
    accept_deadline: datetime = Field(sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_on_time: bool | None = None
    left_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = None
    on_time: bool | None = None
    extended: bool = False
    reason: str = "registered"  # registered | escalated | transferred | reopened


class IssueDepartment(SQLModel, table=True):
    """A department called in (吹哨) on an issue, and its 报到."""

    __tablename__ = "issue_department"
    __table_args__ = (
        UniqueConstraint(
            "issue_id", "department_code", "whistled_at", name="uq_issue_department_call"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: str = Field(foreign_key="issue.id", index=True)
    department_code: str = Field(index=True)
    level: str
    unit_code: str
    whistled_at: datetime = Field(sa_type=UTCDateTime)
    report_deadline: datetime = Field(sa_type=UTCDateTime)
    reported_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    on_time: bool | None = None
    contribution: str | None = None


class IssueEvent(SQLModel, table=True):
    """The audit trail, append-only: a row is never updated or deleted."""

    __tablename__ = "issue_event"
    __table_args__ = (UniqueConstraint("issue_id", "seq", name="uq_issue_event_issue_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: str = Field(foreign_key="issue.id", index=True)
    seq: int
    type: str = Field(index=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor_user: str
    actor_role: str
    actor_name: str | None = None
    actor_unit: str | None = None
    actor_department: str | None = None
    level: str | None = None
    unit_code: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=_json(dict))


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
    notice: dict[str, Any] = Field(sa_column=_json(dict))  # domain.models.Notice, datetimes ISO
    created_at: datetime = Field(sa_type=UTCDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The lease of the dispatcher fanning it out: another takes the row only once it has passed.
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


# The deliberations' tables, on the same metadata (after the types they use are defined).
# A module import, not names: store.duty_tables may be the one imported first (it imports this).
import store.duty_tables  # noqa: E402, F401
from store.deliberation_tables import (  # noqa: E402, F401
    Deliberation,
    DeliberationEvent,
    DeliberationRound,
)
from store.public_tables import PatrolLog, TopicProposal  # noqa: E402, F401
