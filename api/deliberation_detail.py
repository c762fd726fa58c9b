"""A deliberation as the API shows it, from the read model: its row, rounds and events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, col, select

from domain.deliberation import labels
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


def _event_label(type_: str, data: dict[str, Any]) -> str:
    """ "本轮结束：达成共识", "程序步骤：党员大会审议": the event, then its step and outcome."""
    words = [labels.EVENT.get(type_, type_)]
    words += [w for w in (labels.STEP.get(data.get("step") or ""),) if w]
    if type_ == "round_closed":
        words += [w for w in (labels.OUTCOME.get(data.get("outcome") or ""),) if w]
    return "：".join(words)


def unit_names(session: Session, codes: Iterable[str | None]) -> dict[str, str]:
    """The names of the units ``codes`` name (one query for a page or a detail)."""
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    found = session.exec(select(Unit.code, Unit.name).where(col(Unit.code).in_(wanted))).all()
    return dict(found)


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
    names = unit_names(
        session,
        [row.unit_code, row.opened_unit_code, row.responsible_unit, row.decision_unit]
        + [r.unit_code for r in rounds]
        + [e.unit_code for e in events],
    )
    return {
        **summary(row, names),
        "opened_unit": {"code": row.opened_unit_code, "name": names.get(row.opened_unit_code)},
        "description": row.description,
        "participants": row.participants,
        "departments": row.departments,
        "options": row.options,
        "rounds": [
            {
                "number": r.number,
                "unit": r.unit_code,
                "unit_name": names.get(r.unit_code),
                "opened_at": r.opened_at,
                "deadline": r.deadline,
                "closed_at": r.closed_at,
                "outcome": r.outcome,
                "outcome_label": labels.OUTCOME.get(r.outcome or "", r.outcome),
                "attendance": r.attendance,
                "votes": _votes(r.votes),
                "summary": r.summary,
                "steps": [
                    {
                        **s,
                        "label": labels.STEP.get(s.get("step", ""), s.get("step")),
                        "votes": _votes(s.get("votes")),
                    }
                    for s in r.steps or []
                ],
            }
            for r in rounds
        ],
        "events": [
            {
                "seq": e.seq,
                "type": e.type,
                "label": _event_label(e.type, e.data or {}),
                "at": e.at,
                "actor": {
                    "user": e.actor_user,
                    "name": e.actor_name,
                    "role": e.actor_role,
                    "unit": e.actor_unit,
                },
                "unit": e.unit_code,
                "unit_name": names.get(e.unit_code or ""),
                "data": e.data,
            }
            for e in events
        ],
    }


def summary(row: Deliberation, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The list's row (and the head of a detail); ``names`` of the units it names, when known."""
    names = names or {}
    decision = None
    if row.decision_text is not None:
        decision = {
            "text": row.decision_text,
            "responsible_unit": row.responsible_unit,
            "responsible_name": names.get(row.responsible_unit or ""),
            "due": row.due,
            "progress": row.progress,
            "progress_note": row.progress_note,
            "via": row.decision_via,
            "via_label": labels.VIA.get(row.decision_via or "", row.decision_via),
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
        "kind_label": labels.KIND.get(row.kind, row.kind),
        "status": row.status,
        "status_label": labels.STATUS.get(row.status, row.status),
        "unit": row.unit_code,
        "unit_name": names.get(row.unit_code),
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
