"""The vocabulary of duties: kinds, the workflow's input, its state, what it asks activities for.

Everything that crosses a Temporal boundary for a duty is a dataclass here; ``Actor``, ``Notice``,
``UnitRef`` and ``Deadline`` are the issue's own from ``domain.models``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.models import Actor, Notice, UnitRef


class DutyKind(StrEnum):
    VILLAGE_COUNCIL = "village_council"  # 村民议事会, monthly per village
    REPRESENTATIVES_MEETING = "representatives_meeting"  # 村民代表会议, quarterly per village
    JOINT_MEETING = "joint_meeting"  # 联席会议, quarterly per county
    DISCLOSURE_MONTHLY = "disclosure_monthly"  # 村务公开 (finances), monthly per village
    DISCLOSURE_QUARTERLY = "disclosure_quarterly"  # 村务公开 (ordinary matters), quarterly
    PATROL = "patrol"  # 片长巡查, daily per grid


DUTY_LABELS = {
    DutyKind.VILLAGE_COUNCIL: "村民议事会",
    DutyKind.REPRESENTATIVES_MEETING: "村民代表会议",
    DutyKind.JOINT_MEETING: "联席会议",
    DutyKind.DISCLOSURE_MONTHLY: "村务公开（月度）",
    DutyKind.DISCLOSURE_QUARTERLY: "村务公开（季度）",
    DutyKind.PATROL: "片长巡查",
}

DISCLOSURES = frozenset({DutyKind.DISCLOSURE_MONTHLY, DutyKind.DISCLOSURE_QUARTERLY})
MEETINGS = frozenset({DutyKind.REPRESENTATIVES_MEETING, DutyKind.JOINT_MEETING})
# Duties a unit fulfils itself (publishing, checking in) and that can be missed and reminded.
FULFILLED_BY_UNIT = DISCLOSURES | {DutyKind.PATROL}


class DutyStatus(StrEnum):
    PLANNING = "planning"  # asking the calendar when it is due
    WAITING = "waiting"  # until the working-day-adjusted instant
    OVERDUE = "overdue"  # missed: reminded every working day until fulfilled
    DONE = "done"
    SKIPPED = "skipped"  # its schedule was paused or removed in Temporal


class DutyOutcome(StrEnum):
    HELD = "held"  # a meeting opened or its report sent
    ON_TIME = "on_time"  # fulfilled by the unit before the due instant
    LATE = "late"  # fulfilled after reminders
    MISSED = "missed"  # a patrol day without a check-in (reminded once, the next morning)
    SKIPPED = "skipped"


class DutyEventType(StrEnum):
    PLANNED = "planned"
    FULFILLED = "fulfilled"
    COUNCIL_OPENED = "council_opened"
    REPORT_SENT = "report_sent"
    MISSED = "missed"
    REMINDED = "reminded"
    SKIPPED = "skipped"
    DONE = "done"


class Need(StrEnum):
    """What the run loop asks an activity (or Temporal) for before a decision can go on."""

    PLAN = "plan"  # the period and the working-day-adjusted due instant (local)
    SCHEDULE = "schedule"  # whether its schedule is still there and running (local)
    FACTS = "facts"  # whether the unit has fulfilled the duty (local, read model)
    AGENDA = "agenda"  # a council's agenda (local, read model)
    REPORT = "report"  # a meeting's report, kept as a document (ordinary: it writes)
    REMINDER = "reminder"  # when the next working-day reminder is due (local)
    COUNCIL = "council"  # start the council's deliberation (a child workflow)


# ---- input --------------------------------------------------------------------------------------


@dataclass
class DutyStart:
    """What a schedule starts a duty with; fixed when the schedule is written."""

    kind: DutyKind
    unit: UnitRef
    parent: UnitRef | None = None  # a village's township, a grid's village: who hears of a miss
    county: str | None = None
    schedule_id: str | None = None  # None: started by hand (tests, backfills by id)
    nominal: datetime | None = None  # None: the schedule's own instant (TemporalScheduledStartTime)


@dataclass
class Fulfilment:
    """The unit says it did it: published (村务公开) or checked in (patrol)."""

    at: datetime
    by: Actor
    reference: str | None = None  # publication or check-in id


# ---- what activities answer ---------------------------------------------------------------------


@dataclass
class PlanRequest:
    kind: DutyKind
    nominal: datetime


@dataclass
class Plan:
    period: str  # 2026-01, 2026-Q1, 2026-01-15: what the duty is about
    period_start: datetime
    period_end: datetime
    due: datetime  # the nominal instant moved to a working day
    moved_from: datetime | None = None  # the nominal instant, when the calendar moved it
    provisional: bool = False


@dataclass
class FactsRequest:
    kind: DutyKind
    unit: str
    period: str
    period_start: datetime
    period_end: datetime


@dataclass
class Facts:
    fulfilled: Fulfilment | None = None


@dataclass
class AgendaItem:
    source: str  # issue | hard_issue | deliberation | topic
    ref: str
    title: str


@dataclass
class Agenda:
    ladder: list[UnitRef]
    items: list[AgendaItem] = field(default_factory=list)


@dataclass
class AgendaRequest:
    unit: str
    period_start: datetime
    period_end: datetime


@dataclass
class ReportRequest:
    duty_id: str
    kind: DutyKind
    unit: str
    period: str
    period_start: datetime
    period_end: datetime


@dataclass
class Report:
    document_id: str
    title: str
    hard_matters: int
    overdue_decisions: int
    recipients: list[str] = field(default_factory=list)  # units the report goes to


# ---- state --------------------------------------------------------------------------------------


@dataclass
class DutyEvent:
    seq: int
    type: DutyEventType
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class DutyState:
    start: DutyStart
    duty_id: str
    status: DutyStatus = DutyStatus.PLANNING
    outcome: DutyOutcome | None = None
    nominal: datetime | None = None
    plan: Plan | None = None
    awaiting: Need | None = None
    awaiting_since: datetime | None = None
    fulfilment: Fulfilment | None = None
    agenda: Agenda | None = None
    deliberation_id: str | None = None
    report: Report | None = None
    reminders: int = 0
    next_reminder: datetime | None = None
    closed_at: datetime | None = None
    events: list[DutyEvent] = field(default_factory=list)
    outbox: list[Notice] = field(default_factory=list)
    next_seq: int = 1
    recorded_seq: int = 1

    @property
    def kind(self) -> DutyKind:
        return self.start.kind

    @property
    def live(self) -> bool:
        return self.status in (DutyStatus.PLANNING, DutyStatus.WAITING, DutyStatus.OVERDUE)


@dataclass
class DutySnapshot:
    """What ``record_duty`` writes: the state and the events and notices not yet written."""

    state: DutyState
    from_seq: int
