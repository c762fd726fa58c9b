"""The effects the deliberation's run loop performs, one place each: clocks (local activities),
one ``record_deliberation`` (an ordinary activity: read model and outbox in one transaction),
the signals to a linked issue, and the search attributes."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa
    from domain.deliberation.clocks import request_for
    from domain.deliberation.completions import complete
    from domain.deliberation.models import DeliberationSnapshot, DeliberationState
    from domain.deliberation.trail import live_deadline
    from workflows import effects
    from workflows.issue.shell import workflow_id as issue_workflow_id

ISSUE_SIGNAL = "deliberation"  # the issue workflow's signal for its deliberations' news


async def compute_clock(s: DeliberationState) -> None:
    assert s.awaiting is not None
    complete(s, await effects.ask(*request_for(s, s.awaiting)))


async def record(s: DeliberationState) -> None:
    await effects.record(s, "record_deliberation", DeliberationSnapshot)


async def tell_issue(s: DeliberationState) -> None:
    """Signal the linked issue what happened, in order, after it is recorded here."""
    while s.links:
        link = s.links[0]
        handle = workflow.get_external_workflow_handle(issue_workflow_id(link.issue_id))
        try:
            await handle.signal(ISSUE_SIGNAL, link)
        except FailureError:
            # The issue has closed (or is gone from Temporal): there is nobody left to tell.
            workflow.logger.info("issue %s no longer listens", link.issue_id)
        s.links.pop(0)


def search_attributes(s: DeliberationState) -> tuple[Any, ...]:
    unit = s.unit
    return (
        s.status.value,
        unit.kind.value,
        unit.code,
        s.ladder[-1].code,
        s.overdue,
        live_deadline(s),
    )


def upsert_search_attributes(values: tuple[Any, ...]) -> None:
    status, level, unit, county, overdue, deadline = values
    updates: list[SearchAttributeUpdate[Any]] = [
        sa.STATUS.value_set(status),
        sa.LEVEL.value_set(level),
        sa.UNIT.value_set(unit),
        sa.COUNTY.value_set(county),
        sa.OVERDUE.value_set(overdue),
        sa.DEADLINE.value_set(deadline) if deadline is not None else sa.DEADLINE.value_unset(),
    ]
    workflow.upsert_search_attributes(updates)
