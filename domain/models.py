"""The shared vocabulary of Linkage: enums and dataclasses of the API, workflows and activities.

Pure: no I/O, no clock, safe inside the Temporal workflow sandbox. Everything that crosses a
Temporal boundary (workflow input, update arguments, activity input/output, query result) is a
dataclass defined here, so the payload shape has one definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any


class UnitKind(StrEnum):
    """Kind of a node of the jurisdiction tree (统计用区划代码 levels; grids below villages)."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"
    GRID = "grid"


class Level(StrEnum):
    """A rung of the escalation ladder. Values equal the unit kind of that rung."""

    GRID = "grid"
    VILLAGE = "village"
    TOWNSHIP = "township"
    COUNTY = "county"


class Status(StrEnum):
    PENDING_ACCEPT = "pending_accept"
    IN_PROGRESS = "in_progress"
    AWAITING_FEEDBACK = "awaiting_feedback"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    # Beyond the contract's five: the handling unit marked it 无效 (spam, duplicate, not a
    # governance matter). It counts in no unit's figures; a supervisor may overturn it until the
    # review window ends (``IssueState.invalid``).
    INVALID = "invalid"


OPEN_STATUSES = frozenset({Status.PENDING_ACCEPT, Status.IN_PROGRESS, Status.AWAITING_FEEDBACK})


class Outcome(StrEnum):
    """How an issue left a level (one per level record)."""

    RESOLVED = "resolved"
    ESCALATED_ON_REQUEST = "escalated_on_request"
    ESCALATED_ON_TIMEOUT = "escalated_on_timeout"
    TRANSFERRED = "transferred"
    # Beyond the contract's four: the citizen withdrew while the issue sat at this level.
    WITHDRAWN = "withdrawn"
    # Beyond the contract's four: the unit marked the issue invalid (无效) while it sat here.
    INVALID = "invalid"


class InvalidKind(StrEnum):
    """Why a unit marks a submission invalid (无效)."""

    SPAM = "spam"  # 恶意或无意义提交
    DUPLICATE = "duplicate"  # 重复提交：repeats another issue
    NOT_GOVERNANCE = "not_governance"  # 不属于基层治理事项


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


class Role(StrEnum):
    CLERK = "clerk"  # acts for its unit
    LEADER = "leader"  # also decides extensions and late transfers of child units
    SUPERVISOR = "supervisor"  # reads its subtree, sends 督办
    DEPARTMENT = "department"
    ADMIN = "admin"
    CITIZEN = "citizen"
    SYSTEM = "system"  # the workflow's own clocks


class Channel(StrEnum):
    """Where an issue came from (受理渠道)."""

    WALK_IN = "walk_in"
    PHONE = "phone"
    GRID = "grid"  # found by a grid worker
    APP = "app"
    HOTLINE_12345 = "hotline_12345"
    DEPARTMENT = "department"


class EventType(StrEnum):
    REGISTERED = "registered"
    LEVEL_ENTERED = "level_entered"
    ACCEPTED = "accepted"
    ACCEPT_OVERDUE = "accept_overdue"
    PROGRESS = "progress"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    WHISTLED = "whistled"
    REPORTED = "reported"
    REPORT_OVERDUE = "report_overdue"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_DECIDED = "extension_decided"
    TRANSFERRED = "transferred"
    SUPERVISED = "supervised"
    WARNING = "warning"
    OVERDUE = "overdue"
    OVERDUE_REMINDER = "overdue_reminder"
    FEEDBACK = "feedback"
    REOPENED = "reopened"
    FEEDBACK_EXPIRED = "feedback_expired"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    DELIBERATION = "deliberation"  # a deliberation about the issue opened, went up, or decided
    INVALIDATED = "invalidated"  # the unit marked it invalid (无效)
    INVALID_REVIEWED = "invalid_reviewed"  # a supervisor upheld or overturned the mark


@dataclass(frozen=True)
class UnitRef:
    code: str
    name: str
    kind: UnitKind


@dataclass
class Reporter:
    name: str | None = None
    phone: str | None = None


@dataclass
class Actor:
    """Who performs an action; travels with every update and lands in the event."""

    user: str
    role: Role
    unit_code: str | None = None
    department_code: str | None = None
    name: str | None = None


SYSTEM_ACTOR = Actor(user="system", role=Role.SYSTEM, name="系统")


@dataclass(frozen=True)
class Term:
    """A policy time allowance: natural seconds, or working days on the statutory calendar."""

    seconds: int | None = None
    working_days: int | None = None

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.working_days is None):
            raise ValueError("a term is either seconds or working_days, exactly one")
        if (self.seconds or 0) < 0 or (self.working_days or 0) < 0:
            raise ValueError("a term cannot be negative")

    def scaled(self, factor: int) -> Term:
        if self.seconds is not None:
            return Term(seconds=self.seconds * factor)
        return Term(working_days=(self.working_days or 0) * factor)

    def label(self) -> str:
        if self.working_days is not None:
            return f"{self.working_days}个工作日"
        seconds = self.seconds or 0
        if seconds % 3600 == 0 and seconds:
            return f"{seconds // 3600}小时"
        if seconds % 60 == 0 and seconds:
            return f"{seconds // 60}分钟"
        return f"{seconds}秒"


@dataclass(frozen=True)
class Terms:
    """The policy that applies to one issue (its category and urgency), fixed at registration."""

    policy: str
    accept: Term
    resolve: dict[str, Term]  # per level value
    report: Term  # department report after a whistle
    warnings: tuple[float, ...]
    extension_allowed: bool
    feedback_window: Term
    transfer_window: Term
    overdue_reminder: Term  # cadence of 督办 reminders at the ceiling


@dataclass(frozen=True)
class Deadline:
    """A deadline computed by an activity; provisional when past the official schedules."""

    at: datetime
    provisional: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class LevelClock:
    """The clocks of one stay at a level, all computed together by one activity."""

    deadline: Deadline
    accept_deadline: Deadline
    warnings: tuple[datetime, ...]
    transfer_until: Deadline


@dataclass
class NewIssue:
    """Workflow input: everything the API knows when it registers an issue."""

    issue_id: str
    tracking_code: str
    category: str
    title: str
    description: str
    urgency: Urgency
    ladder: list[UnitRef]  # from the registering unit up to the ceiling (county)
    registered_by: Actor
    registered_at: datetime
    reporter: Reporter = field(default_factory=Reporter)
    location: str | None = None
    attachments: list[str] = field(default_factory=list)
    channel: Channel = Channel.WALK_IN
    pin_hash: str | None = None  # keyed hash of the citizen's PIN (api.security); never the PIN
    idempotency_key: str | None = None
    request_fingerprint: str | None = None  # sha256 of the request body (api.idempotency)


# ---- update arguments -------------------------------------------------------------------------


@dataclass
class Action:
    """Base of every human action: who, and an id that makes a retried request apply once."""

    actor: Actor
    request_id: str | None = None


@dataclass
class Accept(Action):
    note: str | None = None


@dataclass
class Progress(Action):
    note: str = ""


@dataclass
class Resolve(Action):
    summary: str = ""


@dataclass
class Escalate(Action):
    reason: str = ""


@dataclass
class Whistle(Action):
    departments: list[str] = field(default_factory=list)  # department codes
    department_names: dict[str, str] = field(default_factory=dict)
    reason: str = ""


@dataclass
class Report(Action):
    contribution: str | None = None


@dataclass
class ExtensionRequest(Action):
    term: Term = field(default_factory=lambda: Term(working_days=1))
    reason: str = ""


@dataclass
class ExtensionDecision(Action):
    approve: bool = False
    term: Term | None = None  # may grant less than asked; None: as asked
    comment: str | None = None


@dataclass
class Transfer(Action):
    ladder: list[UnitRef] = field(default_factory=list)  # target unit's path up to the ceiling
    reason: str = ""


@dataclass
class Supervise(Action):
    note: str = ""


@dataclass
class Feedback(Action):
    solved: bool = True
    satisfaction: Satisfaction = Satisfaction.SATISFIED
    comment: str | None = None


@dataclass
class Withdraw(Action):
    reason: str | None = None


@dataclass
class MarkInvalid(Action):
    """The handling unit marks a submission invalid (无效), with a reason."""

    kind: InvalidKind = InvalidKind.SPAM
    reason: str = ""
    duplicate_of: str | None = None  # the issue it repeats (id), for a duplicate
    duplicate_code: str | None = None  # that issue's tracking code: the citizen is told it


@dataclass
class ReviewInvalid(Action):
    """A supervisor's review of an invalid mark: overturn (the issue runs again) or uphold."""

    overturn: bool = False
    note: str = ""


# ---- state --------------------------------------------------------------------------------------


@dataclass
class Event:
    """One entry of the audit trail; ``seq`` is unique per issue and never reused."""

    seq: int
    type: EventType
    at: datetime
    actor: Actor
    level: str | None = None
    unit: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class LevelRecord:
    """One stay of the issue at one unit."""

    level: str
    unit: UnitRef
    entered_at: datetime
    deadline: datetime
    accept_deadline: datetime
    provisional: bool = False
    accepted_at: datetime | None = None
    accepted_on_time: bool | None = None
    left_at: datetime | None = None
    outcome: Outcome | None = None
    on_time: bool | None = None
    extended: bool = False
    extension_requested: bool = False
    reason: str = "registered"  # registered | escalated | transferred | reopened
    warnings: list[datetime] = field(default_factory=list)  # instants of the policy's warnings
    warnings_sent: int = 0
    accept_reminded: bool = False
    transfer_until: datetime | None = None


@dataclass
class DepartmentCall:
    """A department called in by 吹哨 and its 报到."""

    department: str
    name: str
    level: str
    unit: str
    whistled_at: datetime
    report_deadline: datetime
    reported_at: datetime | None = None
    on_time: bool | None = None
    contribution: str | None = None
    overdue_notified: bool = False


@dataclass
class Resolution:
    level: str
    unit: str
    unit_name: str
    summary: str
    at: datetime
    by: str


@dataclass
class FeedbackRecord:
    solved: bool
    satisfaction: Satisfaction
    comment: str | None
    at: datetime
    by: str
    by_role: Role = Role.CITIZEN  # the citizen, or staff recording a phone 回访 (callback)


@dataclass
class InvalidMark:
    """An issue's invalid mark (无效) while it stands."""

    kind: InvalidKind
    reason: str
    at: datetime
    by: str
    unit: str  # the unit that marked it
    duplicate_of: str | None = None
    duplicate_code: str | None = None
    review_until: datetime | None = None  # supervisors may overturn it until then


@dataclass
class PendingExtension:
    term: Term
    reason: str
    requested_at: datetime
    requested_by: str


class ClockKind(StrEnum):
    """Which clock a decision waits for before it is complete (computed by an activity)."""

    TERMS = "terms"  # the policy of the issue, at registration
    LEVEL = "level"  # the clocks of a stay at a level
    FEEDBACK_WINDOW = "feedback_window"  # after a resolve
    REPORT = "report"  # departments' report deadline after a whistle
    EXTENSION = "extension"  # the new deadline of an approved extension
    OVERDUE = "overdue"  # the first 督办 reminder at the ceiling
    REMINDER = "reminder"  # the next 督办 reminder
    INVALID_REVIEW = "invalid_review"  # how long supervisors may overturn an invalid mark


@dataclass
class ClockNeed:
    """A decision taken, waiting for the clock that completes it.

    Handlers and clocks decide synchronously; what a decision needs from the calendar is computed
    by the run loop (a local activity) and handed back to the same pure core.
    """

    kind: ClockKind
    at: datetime  # the instant of the decision: the clock counts from here
    actor: Actor
    reason: str = ""  # a level's entry: registered | escalated | transferred | reopened
    note: str | None = None
    whistle: Whistle | None = None
    decision: ExtensionDecision | None = None
    summary: str | None = None  # a resolve's summary
    invalid: MarkInvalid | None = None  # an invalid mark's action


class OnLadder:
    """Where a workflow stands on its ladder of units (an issue's, a deliberation's): the unit at
    ``rung`` and whether it is the ceiling.

    Not a dataclass and without fields of its own: the state classes keep their fields, so their
    payloads in Temporal histories are as they were.
    """

    if TYPE_CHECKING:
        ladder: list[UnitRef]
        rung: int

    @property
    def unit(self) -> UnitRef:
        return self.ladder[self.rung]

    @property
    def at_ceiling(self) -> bool:
        return self.rung == len(self.ladder) - 1


@dataclass
class IssueState(OnLadder):
    """The whole live state of one issue: what the query returns and continue-as-new carries.

    Bounded: ``events`` and ``outbox`` hold only what the next record writes (the read model keeps
    the audit trail), and every other list has a cap in ``domain.lifecycle.limits``.
    """

    issue: NewIssue
    terms: Terms | None = None
    status: Status = Status.PENDING_ACCEPT
    ladder: list[UnitRef] = field(default_factory=list)
    rung: int = 0  # index in ladder of the current unit
    levels: list[LevelRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    departments: list[DepartmentCall] = field(default_factory=list)
    resolution: Resolution | None = None
    feedback: FeedbackRecord | None = None
    feedback_history: list[FeedbackRecord] = field(default_factory=list)
    feedback_deadline: datetime | None = None
    pending_extension: PendingExtension | None = None
    overdue: bool = False
    overdue_since: datetime | None = None
    next_overdue_reminder: datetime | None = None
    warnings_sent: int = 0  # across all levels
    reopened_at_level: list[str] = field(default_factory=list)  # unit codes reopened once
    closed_at: datetime | None = None
    applied_requests: list[str] = field(default_factory=list)  # recent request ids (dedupe)
    next_seq: int = 1
    recorded_seq: int = 1  # events before this seq are in the read model
    awaiting: ClockNeed | None = None  # a decision waiting for its clock
    outbox: list[Notice] = field(default_factory=list)  # notices the next record writes
    updated_at: datetime | None = None
    progress_notes: int = 0
    transfers: int = 0
    overdue_reminders: int = 0
    invalid: InvalidMark | None = None  # the standing invalid mark (status ``invalid``)

    @property
    def current(self) -> LevelRecord:
        return self.levels[-1]


@dataclass
class IssueStart:
    """Workflow input: a new issue, or the state carried over by continue-as-new."""

    issue: NewIssue
    carried: IssueState | None = None
    history_limit: int = 10_000  # events in history before continuing as new


@dataclass
class ActionResult:
    """What an update returns: where the issue stands after the action."""

    issue_id: str
    seq: int
    status: Status
    level: str
    unit: str
    deadline: datetime | None
    duplicate: bool = False


# ---- activity inputs ----------------------------------------------------------------------------


@dataclass
class ClockRequest:
    """Ask for a level's clocks, starting at ``start``."""

    start: datetime
    resolve: Term
    accept: Term
    transfer_window: Term
    warnings: tuple[float, ...]


@dataclass
class TermsRequest:
    category: str
    urgency: Urgency


@dataclass
class DeadlineRequest:
    start: datetime
    term: Term


@dataclass
class Notice:
    """A message to units and departments; the activity fans it out to their channels."""

    issue_id: str
    seq: int  # event sequence: with the issue id, the receivers' idempotency key
    kind: str  # registered | level_entered | warning | overdue | whistle | ... (template key)
    title: str
    text: str
    units: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    supervisors_of: list[str] = field(default_factory=list)  # unit codes whose supervisors hear
    level: str | None = None
    deadline: datetime | None = None
    category: str | None = None  # its departments hear of new arrivals when the category says so
    where: list[str] = field(default_factory=list)  # names of the issue's village and township
    subject: str = "issue"  # issue | deliberation: whose workflow and page the notice is about


@dataclass
class Snapshot:
    """What the recorder writes: the state after a batch of decisions, with the events and the
    notices (``state.outbox``) that batch produced."""

    state: IssueState
    from_seq: int  # events with seq >= from_seq are new since the last record
