"""The deliberation recorder: writes a deliberation workflow's state into the read model and its
notices into the outbox, in one transaction.

As the issue's recorder, with the same helpers (``activities.rows``): every write is an upsert keyed
by what the workflow fixed (deliberation id, round number, event seq), so a retried attempt writes
the same rows once and an older snapshot cannot roll the row back.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from activities.rows import append_trail, event_row, jsonable, upsert, upsert_newest
from domain.deliberation.models import (
    DeliberationSnapshot,
    DeliberationState,
    Kind,
    RoundOutcome,
    RoundRecord,
)
from domain.deliberation.trail import live_deadline
from domain.models import UnitKind
from store.db import session_scope
from store.deliberation_tables import Deliberation, DeliberationEvent, DeliberationRound
from store.units_import import unit_path_of


class DeliberationRecorder:
    """Holds the engine; register ``DeliberationRecorder(engine).record`` with a worker."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="record_deliberation")
    def record(self, snapshot: DeliberationSnapshot) -> None:
        write_deliberation(self.engine, snapshot)


def write_deliberation(engine: Engine, snapshot: DeliberationSnapshot) -> None:
    with session_scope(engine) as session:
        _write(session, snapshot)


def _write(session: Session, snapshot: DeliberationSnapshot) -> None:
    s = snapshot.state
    if upsert_newest(session, Deliberation, _row(session, s)):
        rounds = [_round_row(s.d.deliberation_id, r) for r in s.rounds]
        upsert(session, DeliberationRound, rounds, keys=("deliberation_id", "number"))
    events = [
        event_row("deliberation_id", s.d.deliberation_id, e)
        for e in s.events
        if e.seq >= snapshot.from_seq
    ]
    append_trail(session, DeliberationEvent, "deliberation_id", events, s.outbox)


def _row(session: Session, s: DeliberationState) -> dict[str, Any]:
    d = s.d
    ladder = s.ladder or d.ladder
    unit = ladder[min(s.rung, len(ladder) - 1)]
    decision = s.decision
    closed = [r for r in s.rounds if r.outcome is not None]
    poll_closed = d.kind is Kind.POLL and bool(closed)
    counts: dict[str, int] = {}
    for e in s.evaluations:
        counts[e.satisfaction.value] = counts.get(e.satisfaction.value, 0) + 1
    return {
        "id": d.deliberation_id,
        "topic": d.topic,
        "kind": d.kind.value,
        "description": d.description,
        "issue_id": d.issue_id,
        "status": s.status.value,
        "unit_code": unit.code,
        "unit_path": unit_path_of(session, unit.code, [u.code for u in reversed(ladder[s.rung :])]),
        "opened_unit_code": d.ladder[0].code,
        "opened_unit_path": unit_path_of(
            session, d.ladder[0].code, [u.code for u in reversed(d.ladder)]
        ),
        "county_code": next((u.code for u in d.ladder if u.kind is UnitKind.COUNTY), None),
        "level": unit.kind.value,
        "round": len(s.rounds),
        "deadline": live_deadline(s),
        "overdue": s.overdue,
        "opened_at": d.opened_at,
        "updated_at": s.updated_at or d.opened_at,
        "closed_at": s.closed_at,
        "opened_by": d.opened_by.user,
        "participants": [dataclasses.asdict(p) for p in d.participants],
        "departments": list(d.departments),
        "participant_units": sorted({p.unit for p in d.participants if p.unit}),
        "options": list(d.options),
        "tally": dict(s.tally) if poll_closed else None,
        "ballots": len(s.voted),
        "consensus": any(r.outcome is RoundOutcome.CONSENSUS for r in closed) if closed else None,
        "decision_text": decision.text if decision else None,
        "decision_via": decision.via if decision else None,
        "decision_level": decision.decided_level if decision else None,
        "decision_unit": decision.decided_unit if decision else None,
        "responsible_unit": decision.responsible_unit if decision else None,
        "decided_at": decision.decided_at if decision else None,
        "due": decision.due if decision else None,
        "progress": decision.progress if decision else None,
        "progress_note": decision.progress_note if decision else None,
        "completed_at": decision.completed_at if decision else None,
        "completion_summary": decision.summary if decision else None,
        "on_time": decision.on_time if decision else None,
        "evaluations": counts,
        "idempotency_key": d.idempotency_key,
        "last_seq": s.next_seq - 1,
    }


def _round_row(deliberation_id: str, r: RoundRecord) -> dict[str, Any]:
    return {
        "deliberation_id": deliberation_id,
        "number": r.number,
        "unit_code": r.unit.code,
        "opened_at": r.opened_at,
        "deadline": r.deadline,
        "closed_at": r.closed_at,
        "outcome": r.outcome.value if r.outcome else None,
        "attendance": dataclasses.asdict(r.attendance) if r.attendance else None,
        "votes": dataclasses.asdict(r.votes) if r.votes else None,
        "summary": r.summary,
        "steps": [jsonable(dataclasses.asdict(step)) for step in r.steps],
    }
