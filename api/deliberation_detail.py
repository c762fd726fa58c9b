"""A deliberation as the API shows it, from the read model: its row, rounds and events."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, or_, select

from api.deliberations import can_read
from api.deps import Principal
from api.problems import invalid
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


def listing_rows(
    session: Session, principal: Principal, unit: str | None, status: str | None
) -> list[Deliberation]:
    query = select(Deliberation).order_by(col(Deliberation.opened_at).desc())
    if status is not None:
        query = query.where(Deliberation.status == status)
    if unit is not None:
        row = session.get(Unit, unit)
        if row is None:
            raise invalid("unit", "未知的单位代码")
        path = f"{row.path}%"
        query = query.where(
            or_(
                col(Deliberation.unit_path).like(path),
                col(Deliberation.opened_unit_path).like(path),
            )
        )
    return [r for r in session.exec(query.limit(LIST_LIMIT)).all() if can_read(principal, r)]


def listing(
    session: Session, principal: Principal, unit: str | None, status: str | None
) -> dict[str, Any]:
    rows = listing_rows(session, principal, unit, status)
    return {"data": [summary(r) for r in rows], "count": len(rows)}


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


def statistics(session: Session, principal: Principal, unit: str | None) -> dict[str, Any]:
    """Counts of what the caller may read: by status (open, submitted, implementing, overdue),
    the share of deliberations whose rounds reached consensus, and decisions implemented on time,
    by the level that decided."""
    rows = listing_rows(session, principal, unit, None)
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    settled = [r for r in rows if r.consensus is not None]
    levels: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.decision_level is None:
            continue
        level = levels.setdefault(r.decision_level, {"decisions": 0, "completed": 0, "on_time": 0})
        level["decisions"] += 1
        if r.completed_at is not None:
            level["completed"] += 1
            level["on_time"] += bool(r.on_time)
    for level in levels.values():
        done = level["completed"]
        level["on_time_rate"] = level["on_time"] / done if done else None
    return {
        "total": len(rows),
        "by_status": by_status,
        "overdue": sum(r.overdue for r in rows),
        "consensus_share": sum(bool(r.consensus) for r in settled) / len(settled)
        if settled
        else None,
        "by_level": levels,
    }
