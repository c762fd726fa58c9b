"""A pure world for the lifecycle's fast tier: the demo county's units, its actors, and a driver.

The driver plays the workflow shell's part without Temporal: ``act`` checks and applies an action,
``advance`` fires the clocks due up to an instant, and ``drive`` computes every clock a decision
waits for by calling the deadline activities' own methods in-process (``Clocks`` on the real
calendar and the default policy), then completes the decision (``completions.settle``, as the
live views do): what the run loop does with ``request_for``, a local activity and ``complete``.
Nothing is recorded: ``state.events`` keeps the whole trail unless a test clears it the way the
record does (``record``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from activities.deadlines import Clocks
from domain.calendar import WorkCalendar
from domain.lifecycle.checks import check
from domain.lifecycle.clocks import fire, next_due
from domain.lifecycle.completions import settle
from domain.lifecycle.transitions import apply, register
from domain.models import (
    Accept,
    Action,
    Actor,
    Escalate,
    Event,
    EventType,
    ExtensionDecision,
    ExtensionRequest,
    Feedback,
    IssueState,
    MarkInvalid,
    NewIssue,
    Notice,
    Progress,
    Report,
    Resolve,
    ReviewInvalid,
    Role,
    Supervise,
    Transfer,
    UnitKind,
    UnitRef,
    Urgency,
    Whistle,
    Withdraw,
)
from domain.payloads import DATA_CONVERTER
from domain.policy import load_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday 09:00 with no statutory holiday before 清明 (04-04): the first weeks count plainly.
START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
HOUR = timedelta(hours=1)

COUNTY = UnitRef("611025", "镇安县", UnitKind.COUNTY)
TOWNSHIP = UnitRef("611025001", "永乐街道", UnitKind.TOWNSHIP)
VILLAGE = UnitRef("611025001001", "新城社区居委会", UnitKind.VILLAGE)
SIBLING_VILLAGE = UnitRef("611025001002", "镇城社区居委会", UnitKind.VILLAGE)  # same township
OTHER_TOWNSHIP = UnitRef("611025101", "回龙镇", UnitKind.TOWNSHIP)
OTHER_VILLAGE = UnitRef("611025101202", "枣园村委会", UnitKind.VILLAGE)
OUTSIDE_TOWNSHIP = UnitRef("611025102", "铁厂镇", UnitKind.TOWNSHIP)  # never on a ladder here
OUTSIDE_VILLAGE = UnitRef("611025102002", "铁厂社区", UnitKind.VILLAGE)
FOREIGN_COUNTY = UnitRef("611024", "山阳县", UnitKind.COUNTY)
FOREIGN_TOWNSHIP = UnitRef("611024001", "城关街道", UnitKind.TOWNSHIP)
FOREIGN_VILLAGE = UnitRef("611024001001", "卜吉河社区居委会", UnitKind.VILLAGE)

_PARENT = {
    VILLAGE: TOWNSHIP,
    SIBLING_VILLAGE: TOWNSHIP,
    OTHER_VILLAGE: OTHER_TOWNSHIP,
    OUTSIDE_VILLAGE: OUTSIDE_TOWNSHIP,
    TOWNSHIP: COUNTY,
    OTHER_TOWNSHIP: COUNTY,
    OUTSIDE_TOWNSHIP: COUNTY,
    FOREIGN_VILLAGE: FOREIGN_TOWNSHIP,
    FOREIGN_TOWNSHIP: FOREIGN_COUNTY,
}

DEPARTMENTS = {"zhenan-zhujian": "住建", "zhenan-shuili": "水利", "zhenan-minzheng": "民政"}
ZHUJIAN, SHUILI, MINZHENG = DEPARTMENTS
SUPERVISOR = Actor(user="county-supervisor", role=Role.SUPERVISOR, unit_code=COUNTY.code)
ADMIN = Actor(user="county-admin", role=Role.ADMIN, unit_code=COUNTY.code)
CITIZEN = Actor(user="citizen", role=Role.CITIZEN)

# The deadline activities themselves, called as plain methods (they need no worker).
CLOCKS = Clocks(WorkCalendar(), load_policy("default"))
PAYLOADS = DATA_CONVERTER.payload_converter


def ladder_of(unit: UnitRef) -> list[UnitRef]:
    """The unit's path up to its county, as the API reads it from the tree."""
    path = [unit]
    while path[-1] in _PARENT:
        path.append(_PARENT[path[-1]])
    return path


def clerk(unit: UnitRef) -> Actor:
    return Actor(user=f"clerk-{unit.code}", role=Role.CLERK, unit_code=unit.code)


def leader(unit: UnitRef) -> Actor:
    return Actor(user=f"leader-{unit.code}", role=Role.LEADER, unit_code=unit.code)


def department(code: str) -> Actor:
    return Actor(user=f"dept-{code}", role=Role.DEPARTMENT, department_code=code)


def new_issue(
    urgency: Urgency = Urgency.NORMAL, at: datetime = START, unit: UnitRef = VILLAGE, **more: Any
) -> NewIssue:
    return NewIssue(
        issue_id="0" * 32,
        tracking_code="ZA-0001",
        category="环境卫生",
        title=more.pop("title", "村口垃圾堆放"),
        description=more.pop("description", "村口垃圾长期无人清运"),
        urgency=urgency,
        ladder=ladder_of(unit),
        registered_by=clerk(unit),
        registered_at=at,
        **more,
    )


def registered(
    urgency: Urgency = Urgency.NORMAL, at: datetime = START, unit: UnitRef = VILLAGE, **more: Any
) -> IssueState:
    """An issue registered and entered at its first level, as the run loop leaves it."""
    issue = new_issue(urgency, at, unit, **more)
    state = IssueState(issue=issue, ladder=list(issue.ladder))
    register(state, at)
    drive(state)
    return state


def accepted(urgency: Urgency = Urgency.NORMAL) -> IssueState:
    """Registered at START, accepted by the village an hour later."""
    state = registered(urgency)
    act(state, "accept", action("accept", clerk(VILLAGE)), START + HOUR)
    return state


def at_county(urgency: Urgency = Urgency.NORMAL) -> IssueState:
    """Escalated on request by the village and the township, accepted by the county."""
    state = registered(urgency)
    act(state, "escalate", action("escalate", clerk(VILLAGE)), START + HOUR)
    act(state, "escalate", action("escalate", leader(TOWNSHIP)), START + 2 * HOUR)
    act(state, "accept", action("accept", leader(COUNTY)), START + 3 * HOUR)
    return state


def resolved(urgency: Urgency = Urgency.NORMAL) -> IssueState:
    """Accepted and resolved by the village: waiting for the citizen's feedback."""
    state = accepted(urgency)
    act(state, "resolve", action("resolve", clerk(VILLAGE)), START + 2 * HOUR)
    return state


def drive(state: IssueState) -> None:
    """Complete every decision waiting for a clock, as the run loop does before it records:
    the activity ``request_for`` names computes it, in-process (``completions.settle``)."""
    settle(state, lambda name, request: getattr(CLOCKS, name)(request))


def act(state: IssueState, name: str, action: Action, now: datetime) -> list[Event]:
    """Check, apply and complete an action at ``now``, as a handler and the loop do, after the
    clocks due by then have fired; the events the action appended. Raises ``Rejected`` (and then
    the action changed nothing) when the rules refuse it."""
    advance(state, now)
    check(state, name, action, now)
    first = state.next_seq
    apply(state, name, action, now)
    drive(state)
    return [e for e in state.events if e.seq >= first]


def advance(state: IssueState, until: datetime) -> list[Event]:
    """Fire every clock due up to ``until`` at its own instant, in order; the events appended."""
    first = state.next_seq
    while (due := next_due(state)) is not None and due <= until:
        fire(state, due)
        drive(state)
        after = next_due(state)
        # A clock that fires and stays due would spin the workflow's timer for ever.
        assert after is None or after > due, f"the clock at {due} is still due ({after})"
    return [e for e in state.events if e.seq >= first]


def tick(state: IssueState) -> tuple[datetime, list[Event]]:
    """Fire the next clock alone: the instant it fired at and its events."""
    due = next_due(state)
    assert due is not None, "no clock is running"
    return due, advance(state, due)


def record(state: IssueState) -> None:
    """Forget what a record would have written, as the workflow does after its ``record``."""
    state.recorded_seq = state.next_seq
    state.events.clear()
    state.outbox.clear()


def payload_size(state: IssueState) -> int:
    """Bytes of the state as Temporal carries it (query answer, continue-as-new input)."""
    (payload,) = PAYLOADS.to_payloads([state])
    return len(payload.data)


def bounded(state: IssueState, since_seq: int, since_notice: int) -> IssueState:
    """The state as the workflow holds it just before its record: only the events and notices
    of the step at hand, the earlier ones recorded and dropped."""
    return replace(
        state,
        events=[e for e in state.events if e.seq >= since_seq],
        outbox=state.outbox[since_notice:],
    )


# ---- what a step did -------------------------------------------------------------------------


def sh(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant of 2026 in Shanghai."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def acted(s: IssueState, name: str, a: Action, now: datetime) -> tuple[list[Event], list[Notice]]:
    """An action at ``now`` (clocks due by then fired first): its events and its notices."""
    advance(s, now)
    sent = len(s.outbox)
    events = act(s, name, a, now)
    assert_trail(s)
    return events, s.outbox[sent:]


def clocks_fired(s: IssueState, until: datetime) -> tuple[list[Event], list[Notice]]:
    """The clocks due up to ``until`` fired: their events and their notices."""
    sent = len(s.outbox)
    events = advance(s, until)
    assert_trail(s)
    return events, s.outbox[sent:]


def assert_trail(s: IssueState) -> None:
    """Seqs 1..n without a gap; every notice names the event that caused it."""
    assert [e.seq for e in s.events] == list(range(1, s.next_seq))
    seqs = {e.seq for e in s.events}
    assert all(n.seq in seqs and n.issue_id == s.issue.issue_id for n in s.outbox)


def types(events: list[Event]) -> list[EventType]:
    """The types of events, in order."""
    return [e.type for e in events]


def to(n: Notice) -> tuple[str, list[str], list[str], list[str]]:
    """A notice's kind and recipients: units, departments, supervisors of."""
    return n.kind, n.units, n.departments, n.supervisors_of


TEXT = "说明"

_ACTIONS: dict[str, type[Action]] = {
    "accept": Accept,
    "progress": Progress,
    "resolve": Resolve,
    "escalate": Escalate,
    "whistle": Whistle,
    "report": Report,
    "extension": ExtensionRequest,
    "extension_decision": ExtensionDecision,
    "transfer": Transfer,
    "supervise": Supervise,
    "feedback": Feedback,
    "withdraw": Withdraw,
    "mark_invalid": MarkInvalid,
    "review_invalid": ReviewInvalid,
}
# The text each action requires, filled unless a test says otherwise.
_TEXTS = {
    "progress": "note",
    "resolve": "summary",
    "escalate": "reason",
    "whistle": "reason",
    "extension": "reason",
    "transfer": "reason",
    "supervise": "note",
    "mark_invalid": "reason",
}


def update_of(a: Action) -> str:
    """The update that carries an action (the workflow's update name)."""
    return next(name for name, kind in _ACTIONS.items() if type(a) is kind)


def action(name: str, actor: Actor, **fields: Any) -> Action:
    """An action of update ``name`` by ``actor``, its required text filled unless given."""
    text = _TEXTS.get(name)
    if text is not None:
        fields.setdefault(text, TEXT)
    if name == "whistle":
        fields.setdefault("departments", [ZHUJIAN])
        fields.setdefault("department_names", DEPARTMENTS)
    return _ACTIONS[name](actor=actor, **fields)
