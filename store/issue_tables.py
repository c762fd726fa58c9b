"""The issue projection (written by ``activities.record``): the issue row with its derived /stats
columns, its levels, the departments called in and its events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Index,
    UniqueConstraint,
    event,
)
from sqlmodel import Field, SQLModel

from store.columns import UTCDateTime, json_column, prefix_index


class Issue(SQLModel, table=True):
    """One row per issue: its latest state, flattened for lists, filters and statistics."""

    __tablename__ = "issue"
    __table_args__ = (
        prefix_index("ix_issue_unit_path", "unit_path"),
        prefix_index("ix_issue_registered_unit_path", "registered_unit_path"),
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
    attachments: list[str] = Field(default_factory=list, sa_column=json_column(list))

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
    data: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(dict))
