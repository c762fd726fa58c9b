"""The /stats tallies, kept from the issue rows by database triggers (migrations 0002, 0007,
0010)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


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
