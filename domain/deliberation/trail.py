"""Appending to a deliberation's audit trail and its outbox, and who hears of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.deliberation.models import DeliberationState, DEvent, DEventType, DStatus
from domain.lifecycle.trail import append_event, place_names
from domain.models import Actor, Notice

SUBJECT = "deliberation"


def live_deadline(s: DeliberationState) -> datetime | None:
    """The deadline that matters now: the round's, the leadership's, the implementation's or the
    evaluation window's."""
    if s.status is DStatus.OPEN and s.current_round is not None:
        return s.current_round.deadline
    if s.status is DStatus.SUBMITTED and s.submission is not None:
        return s.submission.deadline
    if s.status is DStatus.IMPLEMENTING and s.decision is not None:
        return s.decision.due
    if s.status is DStatus.AWAITING_EVALUATION:
        return s.evaluation_deadline
    return None


def event(
    s: DeliberationState,
    type_: DEventType,
    actor: Actor,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> int:
    """Append a deliberation's event, at its current unit; returns its seq."""
    return append_event(s, DEvent, type_, actor, at, data, unit=s.unit.code if s.ladder else None)


def participants_of(s: DeliberationState) -> tuple[list[str], list[str]]:
    """The units and departments every change is told to: the deliberating unit, the invited
    participants' units, the responsible unit of a decision, and the invited departments."""
    units = [s.unit.code] + [p.unit for p in s.d.participants if p.unit]
    if s.decision is not None:
        units.append(s.decision.responsible_unit)
    return list(dict.fromkeys(units)), list(dict.fromkeys(s.d.departments))


def notice(
    s: DeliberationState,
    seq: int,
    kind: str,
    title: str,
    *,
    units: list[str] | None = None,
    departments: list[str] | None = None,
    supervisors_of: list[str] | None = None,
    everyone: bool = False,
    text: str = "",
) -> None:
    """Leave a notice in the outbox; ``everyone`` adds all participants to ``units``."""
    targets, depts = (units or []), (departments or [])
    if everyone:
        more_units, more_depts = participants_of(s)
        targets, depts = [*targets, *more_units], [*depts, *more_depts]
    s.outbox.append(
        Notice(
            issue_id=s.d.deliberation_id,
            seq=seq,
            kind=f"deliberation_{kind}",
            title=title,
            text=text or s.d.topic,
            units=list(dict.fromkeys(targets)),
            departments=list(dict.fromkeys(depts)),
            supervisors_of=supervisors_of or [],
            level=s.unit.kind.value if s.ladder else None,
            deadline=live_deadline(s),
            where=place_names(s.d.ladder),
            subject=SUBJECT,
        )
    )
