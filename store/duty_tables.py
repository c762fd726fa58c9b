"""The read model of duties on a calendar: each run of a duty, its trail, the documents meetings
keep, villages' 村务公开 publications and 片长's patrol check-ins.

``duty_run`` and ``duty_event`` are written only by the duty recorder (``activities.duties``);
publications and check-ins by the API (records a unit makes, not processes); documents by the
report activity. Registered on the same metadata as every table (``store.tables`` imports it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Date, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.columns import UTCDateTime


class DutyRun(SQLModel, table=True):
    """One run of one unit's duty (one workflow a schedule started)."""

    __tablename__ = "duty_run"

    id: str = Field(primary_key=True)  # the workflow id
    kind: str = Field(index=True)
    unit_code: str = Field(index=True)
    unit_path: str = Field(index=True)
    schedule_id: str | None = None
    period: str | None = Field(default=None, index=True)
    nominal_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    moved_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(index=True)
    outcome: str | None = None
    on_time: bool | None = None  # held or fulfilled by the due instant; None while open
    fulfilled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminders: int = 0
    deliberation_id: str | None = None
    document_id: str | None = None
    agenda: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    updated_at: datetime = Field(sa_type=UTCDateTime)
    last_seq: int = 0


class DutyEventRow(SQLModel, table=True):
    __tablename__ = "duty_event"
    __table_args__ = (UniqueConstraint("duty_id", "seq", name="uq_duty_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    duty_id: str = Field(foreign_key="duty_run.id", index=True)
    seq: int
    type: str
    at: datetime = Field(sa_type=UTCDateTime)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class DutyDocument(SQLModel, table=True):
    """A meeting's report (村民代表会议, 联席会议) as it was sent: HTML and its printable PDF."""

    __tablename__ = "duty_document"

    id: str = Field(primary_key=True)
    duty_id: str = Field(index=True)
    kind: str
    unit_code: str = Field(index=True)
    period: str
    title: str
    html: str = Field(sa_column=Column(Text, nullable=False))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)


class DisclosurePublication(SQLModel, table=True):
    """A village's word that it published (村务公开) for a period: ``2026-01`` or ``2026-Q1``."""

    __tablename__ = "disclosure_publication"
    __table_args__ = (
        UniqueConstraint("unit_code", "period", name="uq_disclosure_publication_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", index=True)
    period: str
    published_at: datetime = Field(sa_type=UTCDateTime)
    published_by: str
    note: str = ""


class PatrolCheckin(SQLModel, table=True):
    """A 片长's patrol of a grid: start, end, what was found, the issues registered from it."""

    __tablename__ = "patrol_checkin"

    id: int | None = Field(default=None, primary_key=True)
    grid_code: str = Field(foreign_key="unit.code", index=True)
    village_code: str = Field(index=True)
    day: date = Field(sa_column=Column(Date, nullable=False, index=True))  # local date of start
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime = Field(sa_type=UTCDateTime)
    found: str = ""
    issue_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    checked_in_by: str
    created_at: datetime = Field(sa_type=UTCDateTime)
