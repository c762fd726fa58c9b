"""The read model of deliberations (协商议事): one row each, its rounds and its audit trail.

Written only by the deliberation recorder (``activities.deliberation_record``), as the issue's
tables are by theirs; registered on the same metadata (``store.tables`` imports this module).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.columns import UTCDateTime


class Deliberation(SQLModel, table=True):
    __tablename__ = "deliberation"

    id: str = Field(primary_key=True)
    topic: str
    kind: str = Field(index=True)
    description: str = ""
    issue_id: str | None = Field(default=None, index=True)
    status: str = Field(index=True)
    unit_code: str = Field(index=True)  # where it is now (a refer_up moves it)
    unit_path: str = Field(index=True)
    opened_unit_code: str
    opened_unit_path: str = Field(index=True)  # its subtree keeps reading it after a refer_up
    county_code: str | None = None
    level: str = Field(index=True)
    round: int = 0
    deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)
    overdue: bool = False
    opened_at: datetime = Field(sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    opened_by: str
    participants: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    departments: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    participant_units: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # A poll's tally, written only once the poll has closed (never while ballots come in).
    tally: dict[str, int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    ballots: int = 0
    consensus: bool | None = None  # whether a round reached consensus (None: none closed yet)
    decision_text: str | None = None
    decision_via: str | None = None  # consensus | adopt
    decision_level: str | None = Field(default=None, index=True)
    decision_unit: str | None = None
    responsible_unit: str | None = Field(default=None, index=True)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due: datetime | None = Field(default=None, sa_type=UTCDateTime)
    progress: int | None = None
    progress_note: str | None = None
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completion_summary: str | None = None
    on_time: bool | None = None
    evaluations: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON))
    idempotency_key: str | None = Field(default=None, unique=True)
    last_seq: int = 0


class DeliberationRound(SQLModel, table=True):
    __tablename__ = "deliberation_round"
    __table_args__ = (
        UniqueConstraint("deliberation_id", "number", name="uq_deliberation_round_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deliberation_id: str = Field(foreign_key="deliberation.id", index=True)
    number: int
    unit_code: str
    opened_at: datetime = Field(sa_type=UTCDateTime)
    deadline: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = None
    attendance: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    votes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    summary: str | None = None
    steps: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))


class DeliberationEvent(SQLModel, table=True):
    __tablename__ = "deliberation_event"
    __table_args__ = (UniqueConstraint("deliberation_id", "seq", name="uq_deliberation_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    deliberation_id: str = Field(foreign_key="deliberation.id", index=True)
    seq: int
    type: str
    at: datetime = Field(sa_type=UTCDateTime)
    actor_user: str
    actor_role: str
    actor_name: str | None = None
    actor_unit: str | None = None
    actor_department: str | None = None
    unit_code: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
