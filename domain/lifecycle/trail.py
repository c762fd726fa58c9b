"""Appending to an issue's audit trail and its outbox: the two things every transition leaves.

The appending itself (``append_event``, ``place_names``) serves a deliberation's trail as well.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from domain.models import Actor, Event, EventType, IssueState, Notice, Status, UnitKind, UnitRef

E = TypeVar("E")


def deadline_now(
    status: Status, level_deadline: datetime | None, feedback_deadline: datetime | None
) -> datetime | None:
    """The deadline that matters in ``status``: the feedback window, the level's, or none.

    One rule for the live state and the read model's rows (``api.issues``' list)."""
    if status is Status.AWAITING_FEEDBACK:
        return feedback_deadline
    if status in (Status.PENDING_ACCEPT, Status.IN_PROGRESS):
        return level_deadline
    return None


def live_deadline(state: IssueState) -> datetime | None:
    """The deadline that matters now for a live issue."""
    level = state.current.deadline if state.levels else None
    return deadline_now(state.status, level, state.feedback_deadline)


def plain(value: Any) -> Any:
    """Event data stays JSON-plain: datetimes as ISO strings, stored as they are."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Trail(Protocol[E]):
    """A workflow state keeping an audit trail of ``E`` events: an issue's, a deliberation's."""

    next_seq: int
    updated_at: datetime | None
    events: list[E]


def append_event(
    state: Trail[E],
    kind: Callable[..., E],
    type_: Any,
    actor: Actor,
    at: datetime,
    data: dict[str, Any] | None,
    **fields: Any,
) -> int:
    """Append a ``kind`` event with ``fields`` beside the ones every event has; returns its seq
    (unique per workflow, never reused)."""
    seq = state.next_seq
    state.next_seq += 1
    state.updated_at = at
    plain_data = {k: plain(v) for k, v in (data or {}).items()}
    state.events.append(kind(seq=seq, type=type_, at=at, actor=actor, data=plain_data, **fields))
    return seq


def event(
    state: IssueState,
    type_: EventType,
    actor: Actor,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> int:
    """Append an issue's event, at its current level and unit; returns its seq."""
    level = state.current.level if state.levels else None
    unit = state.unit.code if state.ladder else None
    return append_event(state, Event, type_, actor, at, data, level=level, unit=unit)


def whole_trail(recorded: list[Event], state: IssueState) -> list[Event]:
    """An issue's whole audit trail: the read model's events the state has recorded, then the
    state's own (those its next record writes)."""
    return [e for e in recorded if e.seq < state.recorded_seq] + state.events


def place_names(ladder: list[UnitRef]) -> list[str]:
    """The names of a ladder's units below the county (village, township): where a notice says
    the matter is."""
    return [u.name for u in ladder if u.kind is not UnitKind.COUNTY]


def notice(
    state: IssueState,
    seq: int,
    kind: str,
    title: str,
    *,
    units: list[str] | None = None,
    departments: list[str] | None = None,
    supervisors_of: list[str] | None = None,
    admins: bool = False,
    text: str = "",
) -> None:
    """Leave a notice in the outbox: the next record writes it with the events, and the
    dispatcher delivers it without holding up the issue."""
    s = state
    s.outbox.append(
        Notice(
            issue_id=s.issue.issue_id,
            seq=seq,
            kind=kind,
            title=title,
            text=text or s.issue.title,
            units=units or [],
            departments=departments or [],
            supervisors_of=(supervisors_of or []) + ([s.ladder[-1].code] if admins else []),
            level=s.current.level if s.levels else None,
            deadline=live_deadline(s),
            category=s.issue.category,
            where=place_names(s.issue.ladder),
        )
    )


def unit_and_parent(state: IssueState) -> list[str]:
    return [u.code for u in state.ladder[state.rung : state.rung + 2]]
