"""Answers within a bound, whatever the workers do.

A registration or an action waits on a worker: update-with-start retries until a worker accepts
the ``registered`` update, and an action's update waits the same way. With the workers stopped
the caller would wait for ever and never learn its tracking code and PIN. So every such wait has
a bound (``answer_timeout_seconds``). When it runs out:

- a registration asks Temporal whether its workflow exists. A running workflow *is* the issue,
  registered: the answer is its 201, with the first level and deadline computed here by the very
  rules and clock activities the worker will run on the same input (``first_state``), so the
  caller learns its code and PIN, and the worker records the issue when it catches up. No
  workflow: a 503 with ``Retry-After``; a retry with the same ``Idempotency-Key`` joins whatever
  started.
- an action is a 503 with ``Retry-After``; the retry with the same key is the same update id,
  which Temporal and the workflow apply at most once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.deadlines import build_clocks
from api.problems import ProblemError
from domain.lifecycle.completions import settle
from domain.lifecycle.transitions import register
from domain.models import IssueStart, IssueState
from settings import Settings
from workflows.issue import workflow_id

T = TypeVar("T")
DEFAULT_ANSWER_SECONDS: float = Settings.model_fields["answer_timeout_seconds"].default
RETRY_AFTER_SECONDS = 5
LOOKUP_SHARE = 0.3
"""Of the answer's time, the share kept for asking Temporal what became of a registration."""
LOOKUP_MOST_SECONDS = 3.0


@dataclass(frozen=True)
class Budget:
    """How a registration spends ``answer_timeout_seconds``: waiting on the worker, then looking
    the issue up in Temporal."""

    wait: float
    lookup: float

    @classmethod
    def of(cls, settings: Settings) -> Budget:
        total = settings.answer_timeout_seconds
        lookup = min(total * LOOKUP_SHARE, LOOKUP_MOST_SECONDS)
        return cls(wait=total - lookup, lookup=lookup)


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """``await awaitable`` for at most ``seconds``.

    Raises:
        TimeoutError: when the time ran out, whatever the SDK turned the cancellation into
            (update calls answer it with ``WorkflowUpdateRPCTimeoutOrCancelledError``).
    """
    bound = asyncio.timeout(seconds)
    try:
        async with bound:
            return await awaitable
    except Exception as exc:
        if bound.expired() and not isinstance(exc, TimeoutError):
            raise TimeoutError from exc
        raise


def workers_unavailable(detail: str) -> ProblemError:
    """The 503 a request gets when no worker answered in time."""
    return ProblemError(
        503,
        detail,
        slug="workers-unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@dataclass(frozen=True)
class Running:
    """An issue's running workflow, as the server knows it without a worker."""

    start: IssueStart  # its input
    at: datetime  # when the server started it


async def running(temporal: Client, issue_id: str, seconds: float) -> Running | None:
    """The issue's running workflow (its latest run), or None when there is none.

    Asks the server only (describe, then the first event of the run's history): no worker needed.
    """
    rpc_timeout = timedelta(seconds=seconds)
    handle = temporal.get_workflow_handle(workflow_id(issue_id))
    try:
        described = await handle.describe(rpc_timeout=rpc_timeout)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    if described.status is not WorkflowExecutionStatus.RUNNING:
        return None
    start = await started_with(temporal, issue_id, seconds, described.run_id)
    return Running(start, described.start_time) if start is not None else None


async def started_with(
    temporal: Client, issue_id: str, seconds: float, run_id: str | None = None
) -> IssueStart | None:
    """The input a run of the issue's workflow started with (the latest run by default)."""
    handle = temporal.get_workflow_handle(workflow_id(issue_id), run_id=run_id)
    events = handle.fetch_history_events(page_size=1, rpc_timeout=timedelta(seconds=seconds))
    async for event in events:
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [start] = await temporal.data_converter.decode(payloads, [IssueStart])
        assert isinstance(start, IssueStart)
        return start
    return None


def first_state(settings: Settings, run: Running) -> IssueState:
    """The state a worker reaches on the run's input: its policy terms and first level, computed
    by the same transitions and clock activities (``activities.deadlines.Clocks``) it runs. A run
    continued as new carries its state already.

    The worker counts from its first workflow task, this from the run's start (the same instant
    on every retry, so every answer agrees): a worker that comes later records a deadline later
    by as long as it was away, never an earlier one than the caller was told.
    """
    start = run.start
    if start.carried is not None:
        return start.carried
    state = IssueState(issue=start.issue, ladder=list(start.issue.ladder))
    register(state, run.at)
    return settled(settings, state)


def settled(settings: Settings, state: IssueState) -> IssueState:
    """``state`` with every transition that waits for its clock finished, by the same clock
    activities (``activities.deadlines.Clocks``) a worker runs (``completions.settle``)."""
    if state.awaiting is None:
        return state
    clocks = build_clocks(settings)
    return settle(state, lambda name, request: getattr(clocks, name)(request))
