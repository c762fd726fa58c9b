"""Invalid marks (无效) through the workflow under the default policy, time-skipped, on SQLite and
PostgreSQL: overturned by a supervisor (fresh clocks at the same unit, and escalation on timeout
resumes from them), upheld (final at once), or left alone until the review window ends (final).

The review window is the feedback window's length: 5 working days. Each scenario starts on a
Monday 09:00 of a week without statutory holidays, so its deadlines are worked out by hand.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.models import (
    Accept,
    Actor,
    EventType,
    InvalidKind,
    MarkInvalid,
    Outcome,
    ReviewInvalid,
    Role,
    Status,
)
from store.tables import Issue
from tests.workflows.conftest import (
    COUNTY,
    TOWNSHIP,
    TZ,
    VILLAGE,
    Harness,
    clerk,
    local,
    quiet_monday,
    settled_read_model,
)

SUPERVISOR = Actor(user="county-supervisor", role=Role.SUPERVISOR, unit_code=COUNTY)


def _day(day: date, n: int) -> date:
    return day + timedelta(days=n)


async def _monday(h: Harness) -> date:
    return quiet_monday(await h.now())


async def _marked(
    h: Harness, day: date, kind: InvalidKind = InvalidKind.SPAM, **more: Any
) -> WorkflowHandle[Any, Any]:
    """An issue registered on ``day`` (a quiet Monday) 09:00 and marked invalid by its village
    at once."""
    await h.sleep_until(local(day, 9))
    issue = await h.register()
    mark = MarkInvalid(actor=clerk(VILLAGE), kind=kind, reason="无关内容", **more)
    result = await h.act(issue, "mark_invalid", mark)
    assert result.status is Status.INVALID
    state = await h.state(issue)
    assert state.invalid is not None and state.invalid.unit == VILLAGE
    # Five working days after Monday, the starting day not counted: next Monday 18:00.
    assert state.invalid.review_until == local(_day(day, 7), 18)
    assert state.levels[0].outcome is Outcome.INVALID and state.closed_at is None
    return issue


async def _issue_row(h: Harness, issue: WorkflowHandle[Any, Any]) -> Issue:
    await settled_read_model(h, issue)
    state = await h.state(issue)
    with Session(h.engine) as session:
        row = session.get(Issue, state.issue.issue_id)
    assert row is not None
    return row


async def test_overturned_by_a_supervisor_runs_again_at_the_same_unit_on_fresh_clocks(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        day = await _monday(h)
        issue = await _marked(h, day)
        marked = await _issue_row(h, issue)
        assert (marked.status, marked.invalid_kind, marked.invalid_reason) == (
            "invalid",
            "spam",
            "无关内容",
        )
        assert marked.invalid_review_until == local(_day(day, 7), 18)
        # Wednesday 10:00: the county's supervisor overturns it.
        await h.sleep_until(local(_day(day, 2), 10))
        review = ReviewInvalid(actor=SUPERVISOR, overturn=True, note="确属本村事项")
        result = await h.act(issue, "review_invalid", review)
        assert result.status is Status.PENDING_ACCEPT
        state = await h.state(issue)
        assert state.invalid is None and state.unit.code == VILLAGE
        assert [(lv.unit.code, lv.outcome) for lv in state.levels] == [
            (VILLAGE, Outcome.INVALID),
            (VILLAGE, None),
        ]
        fresh = state.current
        assert fresh.reason == "reinstated"
        # Fresh clocks from Wednesday: accept by Thursday 18:00, resolve by Monday 18:00
        # (Thursday, Friday, Monday), not the first level's Thursday.
        assert fresh.accept_deadline == local(_day(day, 3), 18)
        assert fresh.deadline == local(_day(day, 7), 18)
        row = await _issue_row(h, issue)
        assert (row.status, row.invalid_kind, row.invalid_at, row.closed_at) == (
            "pending_accept",
            None,
            None,
            None,
        )
        assert [e.type for e in state.events][-3:] == [
            EventType.INVALIDATED,
            EventType.INVALID_REVIEWED,
            EventType.LEVEL_ENTERED,
        ]
        # Escalation resumes from the fresh clocks: the village misses Monday 18:00.
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        await h.sleep_until(local(_day(day, 7), 18, 1))
        state = await h.state(issue)
        assert state.unit.code == TOWNSHIP and state.status is Status.PENDING_ACCEPT
        assert [lv.outcome for lv in state.levels] == [
            Outcome.INVALID,
            Outcome.ESCALATED_ON_TIMEOUT,
            None,
        ]
        row = await _issue_row(h, issue)
        assert (row.level, row.unit_code, row.status) == ("township", TOWNSHIP, "pending_accept")


async def test_upheld_by_a_supervisor_is_final_and_ends_the_run(make_harness: Any) -> None:
    async with make_harness() as h:
        day = await _monday(h)
        issue = await _marked(h, day, InvalidKind.NOT_GOVERNANCE)
        await h.sleep_until(local(_day(day, 1), 11))
        review = ReviewInvalid(actor=SUPERVISOR, overturn=False, note="属民事合同纠纷")
        result = await h.act(issue, "review_invalid", review)
        assert result.status is Status.INVALID
        assert not await h.running(issue.id)
        state = await h.state(issue)
        assert state.closed_at is not None
        assert state.closed_at.astimezone(TZ).replace(second=0, microsecond=0) == local(
            _day(day, 1), 11
        )
        assert [e.type for e in state.events][-2:] == [
            EventType.INVALID_REVIEWED,
            EventType.CLOSED,
        ]
        row = await _issue_row(h, issue)
        assert (row.status, row.invalid_kind) == ("invalid", "not_governance")
        assert row.closed_at is not None and row.resolution_level is None
        # The run has ended: nobody can overturn it any more.
        again = ReviewInvalid(actor=SUPERVISOR, overturn=True, note="再议")
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):
            await h.act(issue, "review_invalid", again)


async def test_a_duplicate_left_alone_is_final_when_the_review_window_ends(
    make_harness: Any,
) -> None:
    async with make_harness() as h:
        day = await _monday(h)
        await h.sleep_until(local(day, 8))
        first = await h.register()
        first_id = (await h.state(first)).issue.issue_id
        issue = await _marked(
            h, day, InvalidKind.DUPLICATE, duplicate_of=first_id, duplicate_code="FIRST00001"
        )
        # A minute before the window ends the mark can still be overturned...
        await h.sleep_until(local(_day(day, 7), 17, 59))
        assert await h.running(issue.id)
        assert (await _issue_row(h, issue)).closed_at is None
        # ...and at its end it stands for good, with nothing more to do.
        await h.sleep_until(local(_day(day, 7), 18, 1))
        assert not await h.running(issue.id)
        state = await h.state(issue)
        assert state.status is Status.INVALID
        assert [e.type for e in state.events][-2:] == [EventType.INVALIDATED, EventType.CLOSED]
        assert state.closed_at == local(_day(day, 7), 18)
        row = await _issue_row(h, issue)
        assert (row.status, row.invalid_kind, row.duplicate_of, row.duplicate_code) == (
            "invalid",
            "duplicate",
            first_id,
            "FIRST00001",
        )
        assert row.closed_at is not None
        assert row.closed_at.astimezone(TZ) == local(_day(day, 7), 18)
