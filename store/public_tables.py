"""Tables of the citizens' and field workers' side: topics villagers propose for their village's
next 议事会, and grid workers' and 片长's patrol logs.

Written by the API directly (no workflow owns them): a proposal and a patrol entry are records,
not processes. Both are idempotent on the submitter's Idempotency-Key, so a phone that sends its
queue again after a lost answer writes nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from store.columns import UTCDateTime


class TopicProposal(SQLModel, table=True):
    """A topic a villager proposes for the village's next 村民议事会 (the monthly agenda gathers the
    ones not yet taken up)."""

    __tablename__ = "topic_proposal"

    id: int | None = Field(default=None, primary_key=True)
    village_code: str = Field(foreign_key="unit.code", index=True)
    title: str
    description: str = ""
    # The proposer's phone, for the village's staff to call back; masked to everyone else.
    phone: str | None = None
    proposed_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # Set when a council agenda takes it up (the calendar's monthly 议事会).
    taken_up_by: str | None = None  # the deliberation id
    idempotency_key: str | None = Field(default=None, unique=True)


class PatrolLog(SQLModel, table=True):
    """One entry of a grid worker's or 片长's patrol (巡查): where, when, what was seen, and the
    issues registered from it."""

    __tablename__ = "patrol_log"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True)
    unit_code: str = Field(foreign_key="unit.code", index=True)
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # When the phone wrote it (it may reach the server hours later, once the signal returns).
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    place: str = ""
    note: str = ""
    issue_codes: str = ""  # tracking codes of the issues registered on this patrol, space-separated
    idempotency_key: str | None = Field(default=None, unique=True)
