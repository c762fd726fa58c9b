"""The effects the run loop performs, one place each: clocks, the record, search attributes.

Clocks are pure and run as local activities, inside the workflow task that decided. The record
writes the read model and the outbox: it is one ordinary activity, whose input the history holds
before it runs (a local activity runs before its task completes, and a task that is retried after
a crash may decide otherwise). An escalation is one timer task, one activity round trip and its
task.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa
    from domain.lifecycle.clocks import request_for
    from domain.lifecycle.completions import complete
    from domain.lifecycle.trail import live_deadline
    from domain.models import IssueState, Snapshot, UnitKind

# Clocks and records retry until they succeed: a database down for a while delays the record,
# never loses it. Past a minute of backoff the SDK waits on a server timer between attempts.
PATIENT = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
ACTIVITY_TIMEOUT = timedelta(seconds=30)


async def compute_clock(state: IssueState) -> None:
    """Compute the clock the waiting decision needs and complete the decision with it."""
    assert state.awaiting is not None
    name, arg, result_type = request_for(state, state.awaiting)
    result = await workflow.execute_local_activity(
        name,
        arg,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=PATIENT,
        result_type=result_type,
    )
    complete(state, result)


def unrecorded(state: IssueState) -> bool:
    return state.recorded_seq < state.next_seq or bool(state.outbox)


async def record(state: IssueState) -> None:
    """Write the read model and the outbox in one transaction; forget what it wrote.

    Decisions taken while the record runs stay for the next one: only the events and notices the
    snapshot held are dropped from the state.
    """
    upto, sent = state.next_seq, len(state.outbox)
    snapshot = Snapshot(
        state=dataclasses.replace(state, events=list(state.events), outbox=list(state.outbox)),
        from_seq=state.recorded_seq,
    )
    # An ordinary activity, not a local one: its input is in the history before it runs, so a
    # retried workflow task can never write a snapshot (events, notices) the history lacks.
    await workflow.execute_activity(
        "record", snapshot, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=PATIENT
    )
    state.events = [e for e in state.events if e.seq >= upto]
    state.outbox = state.outbox[sent:]
    state.recorded_seq = upto


def search_attributes(state: IssueState) -> tuple[Any, ...]:
    """The values the issue's search attributes should hold now."""
    s = state
    by_kind = {u.kind: u.code for u in s.issue.ladder}
    township = next((u.code for u in s.ladder if u.kind is UnitKind.TOWNSHIP), None)
    return (
        s.status.value,
        s.current.level,
        s.unit.code,
        by_kind.get(UnitKind.VILLAGE, ""),
        township or by_kind.get(UnitKind.TOWNSHIP, ""),
        s.ladder[-1].code,
        s.issue.category,
        s.issue.urgency.value,
        s.overdue,
        live_deadline(s),
    )


def upsert_search_attributes(values: tuple[Any, ...]) -> None:
    status, level, unit, village, township, county, category, urgency, overdue, deadline = values
    updates: list[SearchAttributeUpdate[Any]] = [
        sa.STATUS.value_set(status),
        sa.LEVEL.value_set(level),
        sa.UNIT.value_set(unit),
        sa.VILLAGE.value_set(village),
        sa.TOWNSHIP.value_set(township),
        sa.COUNTY.value_set(county),
        sa.CATEGORY.value_set(category),
        sa.URGENCY.value_set(urgency),
        sa.OVERDUE.value_set(overdue),
        sa.DEADLINE.value_set(deadline) if deadline is not None else sa.DEADLINE.value_unset(),
    ]
    workflow.upsert_search_attributes(updates)
