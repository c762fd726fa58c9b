"""What people send a deliberation: the opening, and one dataclass per action (each an issue
``Action``, so the workflow's handlers dedupe and attribute them the same way). Annotations are
evaluated at definition, on purpose: see ``domain.deliberation.state``."""

from dataclasses import dataclass, field
from datetime import datetime

from domain.deliberation.vocabulary import Body, Kind, RoundOutcome, Step, Verdict
from domain.models import Action, Actor, Satisfaction, Term, UnitRef


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
