"""What a deliberation about an issue does to the issue: pure, like every other transition.

The deliberation's run loop signals its news (``IssueLink``); the issue's handler applies it here:
- ``opened``: an event on the issue (its timeline shows the deliberation);
- ``referred_up``: the issue escalates on request to the unit that takes the deliberation, when it
  still sits below that unit;
- ``decided``: a completed decision resolves the issue, the resolution's level and unit being the
  ones that decided; the citizen's feedback window follows as after any resolve.
"""

from __future__ import annotations

from datetime import datetime

from domain.deliberation.models import IssueLink
from domain.lifecycle.trail import event, notice
from domain.lifecycle.transitions import escalate, resolve
from domain.models import (
    OPEN_STATUSES,
    EventType,
    IssueState,
    Outcome,
    Status,
)

_ACTIVE = (Status.PENDING_ACCEPT, Status.IN_PROGRESS)


def deliberation_news(s: IssueState, link: IssueLink, now: datetime) -> bool:
    """Apply ``link`` at ``now``; False when the issue has nothing left to change (closed)."""
    if s.status not in OPEN_STATUSES or not s.levels or s.awaiting is not None:
        return False
    data = {
        "news": link.kind,
        "deliberation_id": link.deliberation_id,
        "topic": link.topic,
        "unit": link.unit,
        "level": link.level,
    }
    seq = event(s, EventType.DELIBERATION, link.actor, now, data)
    if link.kind == "referred_up" and s.status in _ACTIVE:
        # One rung, as a 上报 is: the deliberation moved one unit up its own ladder.
        if link.unit in [u.code for u in s.ladder[s.rung + 1 :]]:
            escalate(s, Outcome.ESCALATED_ON_REQUEST, link.actor, "协商议事提交上级", now)
    elif link.kind == "decided" and s.status in _ACTIVE:
        decided_by = (link.level, link.unit, link.unit_name)
        resolve(s, link.actor, link.summary or link.topic, now, decided_by)
    else:
        title = f"协商议事（{link.topic}）：{s.issue.title}"
        notice(s, seq, "deliberation", title, units=[s.unit.code])
    return True
