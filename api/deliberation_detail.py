"""A deliberation as the API shows it, from the read model: its row, rounds and events."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from domain.deliberation.checks import STATUS_LABEL
from store.deliberation_tables import Deliberation, DeliberationEvent, DeliberationRound
from store.tables import Unit

LIST_LIMIT = 500


def _votes(votes: dict[str, Any] | None) -> dict[str, Any] | None:
    if votes is None:
        return None
    return {
        "for": votes.get("approve", 0),
        "against": votes["against"],
        "abstain": votes["abstain"],
    }


def detail(session: Session, row: Deliberation) -> dict[str, Any]:
    rounds = session.exec(
        select(DeliberationRound)
        .where(DeliberationRound.deliberation_id == row.id)
        .order_by(col(DeliberationRound.number))
    ).all()
    events = session.exec(
        select(DeliberationEvent)
        .where(DeliberationEvent.deliberation_id == row.id)
        .order_by(col(DeliberationEvent.seq))
    ).all()
    return {
        **summary(row),
        "description": row.description,
        "participants": row.participants,
        "departments": row.departments,
        "options": row.options,
        "rounds": [
            {
                "number": r.number,
                "unit": r.unit_code,
                "opened_at": r.opened_at,
                "deadline": r.deadline,
                "closed_at": r.closed_at,
                "outcome": r.outcome,
                "attendance": r.attendance,
                "votes": _votes(r.votes),
                "summary": r.summary,
                "steps": [{**s, "votes": _votes(s.get("votes"))} for s in r.steps or []],
            }
            for r in rounds
        ],
        "events": [
            {
                "seq": e.seq,
                "type": e.type,
                "at": e.at,
                "actor": {"user": e.actor_user, "role": e.actor_role, "unit": e.actor_unit},
                "unit": e.unit_code,
                "data": e.data,
            }
            for e in events
        ],
    }


def summary(row: Deliberation) -> dict[str, Any]:
    decision = None
    if row.decision_text is not None:
        decision = {
            "text": row.decision_text,
            "responsible_unit": row.responsible_unit,
            "due": row.due,
            "progress": row.progress,
            "progress_note": row.progress_note,
            "via": row.decision_via,
            "level": row.decision_level,
            "unit": row.decision_unit,
            "decided_at": row.decided_at,
            "completed_at": row.completed_at,
            "on_time": row.on_time,
        }
    return {
        "id": row.id,
        "topic": row.topic,
        "kind": row.kind,
        "status": row.status,
        "status_label": STATUS_LABEL.get(row.status, row.status),
        "unit": row.unit_code,
        "level": row.level,
        "issue_id": row.issue_id,
        "round": row.round,
        "deadline": row.deadline,
        "overdue": row.overdue,
        "opened_at": row.opened_at,
        "closed_at": row.closed_at,
        "consensus": row.consensus,
        "tally": row.tally,
        "ballots": row.ballots,
        "decision": decision,
        "evaluations": row.evaluations,
    }


def published(session: Session, code: str) -> list[dict[str, Any]]:
    """A unit's published decisions and their implementation (公示): no names, no free text a
    citizen wrote — the topic, the decision, the responsible unit, progress and the poll's tally."""
    unit = session.get(Unit, code)
    if unit is None:
        return []
    rows = session.exec(
        select(Deliberation)
        .where(col(Deliberation.opened_unit_path).like(f"{unit.path}%"))
        .where(col(Deliberation.decision_text).is_not(None))
        .order_by(col(Deliberation.decided_at).desc())
        .limit(LIST_LIMIT)
    ).all()
    return [
        {
            "id": r.id,
            "topic": r.topic,
            "kind": r.kind,
            "status": r.status,
            "decision": r.decision_text,
            "decided_level": r.decision_level,
            "decided_at": r.decided_at,
            "responsible_unit": r.responsible_unit,
            "due": r.due,
            "progress": r.progress,
            "completed_at": r.completed_at,
            "on_time": r.on_time,
            "tally": r.tally,
        }
        for r in rows
    ]
