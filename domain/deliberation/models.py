"""The vocabulary of a deliberation: enums, the workflow's input, actions, state and clock needs.

Everything that crosses a Temporal boundary for a deliberation is a dataclass defined here; the
shared pieces (``Actor``, ``Action``, ``Term``, ``UnitRef``, ``Notice``, ``Deadline``) are the
issue's own from ``domain.models``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.models import Action, Actor, Notice, Satisfaction, Term, UnitRef


class Kind(StrEnum):
    VILLAGE_COUNCIL = "village_council"  # 村民议事会
    REPRESENTATIVES_MEETING = "representatives_meeting"  # 村民代表会议
    JOINT_MEETING = "joint_meeting"  # 联席会议
    HEARING = "hearing"  # 听证
    POLL = "poll"  # 协商式民意调查
    CONSULTATION = "consultation"  # 民主恳谈
    FOUR_DELIBERATIONS = "four_deliberations"  # 四议两公开


class DStatus(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    IMPLEMENTING = "implementing"
    AWAITING_EVALUATION = "awaiting_evaluation"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


LIVE_STATUSES = frozenset(
    {DStatus.OPEN, DStatus.SUBMITTED, DStatus.IMPLEMENTING, DStatus.AWAITING_EVALUATION}
)


class RoundOutcome(StrEnum):
    CONSENSUS = "consensus"
    NO_CONSENSUS = "no_consensus"
    HARD = "hard"


class Verdict(StrEnum):
    """The leadership's decision on a hard matter."""

    ADOPT = "adopt"
    REFER_UP = "refer_up"


class Step(StrEnum):
    """四议两公开, in order: the first four are meetings (attendance on record), the last two are
    publications the workflow records itself (the decision, then the result)."""

    PARTY_PROPOSAL = "party_proposal"  # 村党组织提议
    COMMITTEES = "committees"  # 村"两委"会议商议
    PARTY_MEMBERS = "party_members"  # 党员大会审议
    RESOLUTION = "resolution"  # 村民会议或村民代表会议决议
    RESOLUTION_PUBLISHED = "resolution_published"  # 决议公开
    RESULT_PUBLISHED = "result_published"  # 实施结果公开


MEETING_STEPS = (Step.PARTY_PROPOSAL, Step.COMMITTEES, Step.PARTY_MEMBERS, Step.RESOLUTION)


class Body(StrEnum):
    """Who meets, as the law counts its quorum (村民委员会组织法 arts. 22, 26)."""

    VILLAGERS = "villagers"  # 村民会议
    REPRESENTATIVES = "representatives"  # 村民代表会议


PARTICIPANT_ROLES = {
    "villager_representative": "村民代表",
    "party_member": "党员",
    "cppcc_member": "政协委员",
    "npc_deputy": "人大代表",
    "area_chief": "片长",
    "mediator": "人民调解员",
    "local_worthy": "乡贤",
    "grid_worker": "网格员",
}


class DEventType(StrEnum):
    OPENED = "opened"
    ROUND_OPENED = "round_opened"
    OPINION = "opinion"
    BALLOT = "ballot"
    ROUND_DUE = "round_due"
    STEP_RECORDED = "step_recorded"
    ROUND_CLOSED = "round_closed"
    SUBMITTED = "submitted"
    DECIDED = "decided"
    REFERRED_UP = "referred_up"
    DECISION_OVERDUE = "decision_overdue"
    IMPLEMENTING = "implementing"
    PROGRESS = "progress"
    WARNING = "warning"
    OVERDUE = "overdue"
    OVERDUE_REMINDER = "overdue_reminder"
    COMPLETED = "completed"
    EVALUATED = "evaluated"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


# ---- input and actions --------------------------------------------------------------------------


@dataclass
class Participant:
    role: str  # a key of PARTICIPANT_ROLES
    name: str | None = None
    unit: str | None = None  # the unit whose channels reach them


@dataclass
class Attendance:
    expected: int
    present: int
    households_expected: int | None = None  # 村民会议: two thirds of households' representatives
    households_present: int | None = None


@dataclass
class Votes:
    approve: int = 0  # "for" in the API
    against: int = 0
    abstain: int = 0


@dataclass
class DecisionSpec:
    """What was decided, who implements it, and by when (a term, or an instant, or the policy's)."""

    text: str
    responsible_unit: str
    responsible_name: str = ""
    responsible_parent: str | None = None  # whose supervisors hear when it runs late
    due_term: Term | None = None
    due_at: datetime | None = None


@dataclass
class NewDeliberation:
    deliberation_id: str
    topic: str
    kind: Kind
    ladder: list[UnitRef]  # the opening unit up to the county
    opened_by: Actor
    opened_at: datetime
    description: str = ""
    issue_id: str | None = None
    participants: list[Participant] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    meeting_at: datetime | None = None
    options: list[str] = field(default_factory=list)  # a poll's choices
    idempotency_key: str | None = None


@dataclass
class Opinion(Action):
    text: str = ""


@dataclass
class Ballot(Action):
    household: str = ""  # a keyed hash of the household code (never the code itself)
    option: str = ""


@dataclass
class CloseRound(Action):
    outcome: RoundOutcome = RoundOutcome.NO_CONSENSUS
    attendance: Attendance | None = None
    votes: Votes | None = None
    summary: str = ""
    decision: DecisionSpec | None = None
    step: Step | None = None  # four_deliberations: the meeting this closes
    body: Body | None = None  # four_deliberations' resolution: 村民会议 or 村民代表会议


@dataclass
class Decide(Action):
    verdict: Verdict = Verdict.ADOPT
    decision: DecisionSpec | None = None
    reason: str = ""
    escalate_issue: bool = False  # refer_up: escalate the linked issue too


@dataclass
class ReportProgress(Action):
    percent: int = 0
    note: str = ""


@dataclass
class Complete(Action):
    summary: str = ""


@dataclass
class Evaluate(Action):
    satisfaction: Satisfaction = Satisfaction.SATISFIED
    comment: str | None = None


@dataclass
class DWithdraw(Action):
    reason: str = ""


# ---- state --------------------------------------------------------------------------------------


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


class DClock(StrEnum):
    TERMS = "terms"
    ROUND = "round"
    SUBMISSION = "submission"
    IMPLEMENTATION = "implementation"
    EVALUATION = "evaluation"
    OVERDUE = "overdue"
    REMINDER = "reminder"


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
class DeliberationState:
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
    def unit(self) -> UnitRef:
        return self.ladder[self.rung]

    @property
    def at_ceiling(self) -> bool:
        return self.rung == len(self.ladder) - 1

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
