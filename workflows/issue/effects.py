"""The effects the run loop performs, one place each: clocks, the record, search attributes.

Clocks are pure and run as local activities, inside the workflow task that decided. The record
writes the read model and the outbox: it is one ordinary activity, whose input the history holds
before it runs (a local activity runs before its task completes, and a task that is retried after
a crash may decide otherwise). An escalation is one timer task, one activity round trip and its
task.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa
    from domain.lifecycle.clocks import request_for
    from domain.lifecycle.completions import complete
    from domain.lifecycle.trail import live_deadline
    from domain.models import IssueState, Snapshot, UnitKind
    from workflows import effects


async def compute_clock(state: IssueState) -> None:
    """Compute the clock the waiting decision needs and complete the decision with it."""
    assert state.awaiting is not None
    complete(state, await effects.ask(*request_for(state, state.awaiting)))


async def record(state: IssueState) -> None:
    """The issue's record: read model and outbox in one transaction (``workflows.effects``)."""
    await effects.record(state, "record", Snapshot)


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
