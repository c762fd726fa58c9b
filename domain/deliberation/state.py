"""What a deliberation's workflow holds and answers: its terms, rounds, submission, decision,
events and pending clock, the whole state (queried whole, carried into continue-as-new), and the
messages that cross its boundary (start, result, snapshot, the link to an issue).

No ``from __future__ import annotations`` here nor in ``actions`` and ``vocabulary``: Temporal's
pydantic converter builds these classes' schemas inside the workflow sandbox, where only modules
a workflow imported by name are in ``sys.modules``; string annotations would have to be resolved
in this module's namespace, which the sandbox does not hold when a workflow imports
``domain.deliberation.models``. Annotations evaluated here, at definition, need no lookup.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.deliberation.actions import Attendance, DecisionSpec, NewDeliberation, Votes
from domain.deliberation.vocabulary import (
    DClock,
    DEventType,
    DStatus,
    Kind,
    RoundOutcome,
    Step,
)
from domain.models import Actor, Notice, OnLadder, Satisfaction, Term, UnitRef


@dataclass
class DeliberationTerms:
    policy: str
    round: Term
    decision: Term
    implementation: Term
    evaluation: Term
    max_rounds: int
    warnings: tuple[float, ...]
    overdue_reminder: Term


@dataclass
class StepRecord:
    step: Step
    at: datetime
    attendance: Attendance | None = None
    votes: Votes | None = None
    summary: str = ""


@dataclass
class RoundRecord:
    number: int
    unit: UnitRef
    opened_at: datetime
    deadline: datetime
    provisional: bool = False
    due_reminded: bool = False
    closed_at: datetime | None = None
    outcome: RoundOutcome | None = None
    attendance: Attendance | None = None
    votes: Votes | None = None
    summary: str | None = None
    steps: list[StepRecord] = field(default_factory=list)


@dataclass
class Submission:
    unit: UnitRef
    submitted_at: datetime
    deadline: datetime
    reason: str  # hard | max_rounds


@dataclass
class Decision:
    text: str
    responsible_unit: str
    responsible_name: str
    responsible_parent: str | None
    via: str  # consensus | adopt
    decided_level: str
    decided_unit: str
    decided_at: datetime
    due: datetime
    progress: int = 0
    progress_note: str | None = None
    warnings: list[datetime] = field(default_factory=list)
    warnings_sent: int = 0
    completed_at: datetime | None = None
    on_time: bool | None = None
    summary: str | None = None


@dataclass
class EvaluationRecord:
    satisfaction: Satisfaction
    by: str
    at: datetime


@dataclass
class DEvent:
    seq: int
    type: DEventType
    at: datetime
    actor: Actor
    unit: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class DClockNeed:
    kind: DClock
    at: datetime
    actor: Actor
    reason: str = ""
    spec: DecisionSpec | None = None
    via: str = ""
    summary: str | None = None


@dataclass
class IssueLink:
    """A message for the issue this deliberation is about, sent by the run loop as a signal."""

    issue_id: str
    kind: str  # opened | referred_up | decided
    deliberation_id: str
    topic: str
    actor: Actor
    at: datetime
    level: str | None = None
    unit: str | None = None
    unit_name: str | None = None
    summary: str | None = None


@dataclass
class DeliberationState(OnLadder):
    d: NewDeliberation
    terms: DeliberationTerms | None = None
    status: DStatus = DStatus.OPEN
    ladder: list[UnitRef] = field(default_factory=list)
    rung: int = 0
    rounds: list[RoundRecord] = field(default_factory=list)
    rounds_here: int = 0  # rounds held at the current unit
    submission: Submission | None = None
    decision: Decision | None = None
    evaluation_deadline: datetime | None = None
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    tally: dict[str, int] = field(default_factory=dict)
    voted: list[str] = field(default_factory=list)  # household hashes, never beside an option
    opinions: int = 0
    overdue: bool = False
    overdue_since: datetime | None = None
    next_reminder: datetime | None = None
    reminders: int = 0
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    applied_requests: list[str] = field(default_factory=list)
    next_seq: int = 1
    recorded_seq: int = 1
    awaiting: DClockNeed | None = None
    events: list[DEvent] = field(default_factory=list)
    outbox: list[Notice] = field(default_factory=list)
    links: list[IssueLink] = field(default_factory=list)  # signals the loop sends next

    @property
    def parent(self) -> UnitRef | None:
        return None if self.at_ceiling else self.ladder[self.rung + 1]

    @property
    def current_round(self) -> RoundRecord | None:
        return self.rounds[-1] if self.rounds else None


@dataclass
class DeliberationStart:
    d: NewDeliberation
    carried: DeliberationState | None = None
    history_limit: int = 10_000


@dataclass
class DeliberationResult:
    """What an update returns: where the deliberation stands after the action."""

    deliberation_id: str
    seq: int
    status: DStatus
    unit: str
    round: int
    deadline: datetime | None
    duplicate: bool = False


@dataclass
class DeliberationSnapshot:
    state: DeliberationState
    from_seq: int


@dataclass
class DeliberationTermsRequest:
    kind: Kind
