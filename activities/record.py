"""The recorder: writes an issue workflow's state into the SQL read model.

Every write is an upsert keyed by something the workflow fixed (issue id, level index, event seq);
why, and the helpers all recorders share, in ``activities.rows``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from activities.rows import append_trail, event_row, upsert, upsert_newest
from domain.models import DepartmentCall, Event, IssueState, Snapshot, UnitKind
from store.db import session_scope
from store.tables import (
    Issue,
    IssueDepartment,
    IssueEvent,
    IssueLevel,
    stats_columns,
)
from store.units_import import unit_path_of

# Columns the API owns on an issue row (citizen PIN attempts): set on insert, never overwritten.
_API_OWNED = ("pin_failures", "pin_locked_until")


class Recorder:
    """Holds the engine; register ``Recorder(engine).record`` with a worker's thread pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="record")
    def record(self, snapshot: Snapshot) -> None:
        """Write ``snapshot`` in one transaction (synchronous: runs on the worker's executor)."""
        write_snapshot(self.engine, snapshot)


def write_snapshot(engine: Engine, snapshot: Snapshot) -> None:
    """Project ``snapshot.state`` onto the read model and append its new events, atomically."""
    with session_scope(engine) as session:
        _write(session, snapshot)


def _write(session: Session, snapshot: Snapshot) -> None:
    state = snapshot.state
    issue_id = state.issue.issue_id
    row = _issue_row(session, state)
    # The PIN is the citizen's from registration: a row that holds one keeps it.
    if upsert_newest(session, Issue, row, keep=("pin_hash",), owned=_API_OWNED):
        upsert(
            session,
            IssueLevel,
            [_level_row(issue_id, idx, state) for idx in range(len(state.levels))],
            keys=("issue_id", "idx"),
        )
        upsert(
            session,
            IssueDepartment,
            [_department_row(issue_id, call) for call in state.departments],
            keys=("issue_id", "department_code", "whistled_at"),
        )
    events = [_event_row(issue_id, e) for e in state.events if e.seq >= snapshot.from_seq]
    append_trail(session, IssueEvent, "issue_id", events, state.outbox)


# ---- rows ---------------------------------------------------------------------------------------


def _issue_row(session: Session, state: IssueState) -> dict[str, Any]:
    new = state.issue
    ladder = state.ladder or new.ladder
    rung = min(state.rung, len(ladder) - 1)
    unit = ladder[rung]
    current = state.levels[-1] if state.levels else None
    by_kind = {str(u.kind): u.code for u in new.ladder}
    resolution = state.resolution
    feedback = state.feedback
    mark = state.invalid
    return {
        "id": new.issue_id,
        "tracking_code": new.tracking_code,
        "pin_hash": new.pin_hash,
        "pin_failures": 0,
        "pin_locked_until": None,
        "category": new.category,
        "title": new.title,
        "description": new.description,
        "urgency": str(new.urgency),
        "channel": str(new.channel),
        "reporter_name": new.reporter.name,
        "reporter_phone": new.reporter.phone,
        "location": new.location,
        "attachments": list(new.attachments),
        "village_code": by_kind.get(UnitKind.VILLAGE),
        "township_code": by_kind.get(UnitKind.TOWNSHIP),
        "county_code": by_kind.get(UnitKind.COUNTY),
        "unit_code": unit.code,
        # A unit missing from the tree still gets a path (ceiling first) rather than failing the
        # activity forever; it is exact whenever the tree was imported.
        "unit_path": unit_path_of(session, unit.code, [u.code for u in reversed(ladder[rung:])]),
        "registered_unit_path": unit_path_of(
            session, new.ladder[0].code, [u.code for u in reversed(new.ladder)]
        ),
        "level": current.level if current else str(unit.kind),
        "status": str(state.status),
        "deadline": current.deadline if current else None,
        "feedback_deadline": state.feedback_deadline,
        "feedback_by_role": str(feedback.by_role) if feedback else None,
        "overdue": state.overdue,
        "provisional": current.provisional if current else False,
        "registered_at": new.registered_at,
        "updated_at": state.updated_at or new.registered_at,
        "closed_at": state.closed_at,
        "resolution_level": resolution.level if resolution else None,
        "resolution_unit": resolution.unit if resolution else None,
        "resolution_unit_name": resolution.unit_name if resolution else None,
        "resolution_summary": resolution.summary if resolution else None,
        "resolved_at": resolution.at if resolution else None,
        "feedback_solved": feedback.solved if feedback else None,
        "feedback_satisfaction": str(feedback.satisfaction) if feedback else None,
        "feedback_comment": feedback.comment if feedback else None,
        "feedback_at": feedback.at if feedback else None,
        "invalid_kind": str(mark.kind) if mark else None,
        "invalid_reason": mark.reason if mark else None,
        "duplicate_of": mark.duplicate_of if mark else None,
        "duplicate_code": mark.duplicate_code if mark else None,
        "invalid_at": mark.at if mark else None,
        "invalid_review_until": mark.review_until if mark else None,
        "response_on_time": state.levels[0].accepted_on_time if state.levels else None,
        "idempotency_key": new.idempotency_key,
        "request_fingerprint": new.request_fingerprint,
        "last_seq": state.next_seq - 1,
        "warnings_sent": state.warnings_sent,
        **stats_columns(new.registered_at, resolution.at if resolution else None),
    }


def _level_row(issue_id: str, idx: int, state: IssueState) -> dict[str, Any]:
    level = state.levels[idx]
    return {
        "issue_id": issue_id,
        "idx": idx,
        "level": level.level,
        "unit_code": level.unit.code,
        "unit_name": level.unit.name,
        "entered_at": level.entered_at,
        "deadline": level.deadline,
        "accept_deadline": level.accept_deadline,
        "accepted_at": level.accepted_at,
        "accepted_on_time": level.accepted_on_time,
        "left_at": level.left_at,
        "outcome": str(level.outcome) if level.outcome is not None else None,
        "on_time": level.on_time,
        "extended": level.extended,
        "reason": level.reason,
    }


def _department_row(issue_id: str, call: DepartmentCall) -> dict[str, Any]:
    return {
        "issue_id": issue_id,
        "department_code": call.department,
        "level": call.level,
        "unit_code": call.unit,
        "whistled_at": call.whistled_at,
        "report_deadline": call.report_deadline,
        "reported_at": call.reported_at,
        "on_time": call.on_time,
        "contribution": call.contribution,
    }


def _event_row(issue_id: str, event: Event) -> dict[str, Any]:
    return {**event_row("issue_id", issue_id, event), "level": event.level}
