"""The effects every run loop performs the same way: a clock or a read asked of a local activity,
and the one record that writes the read model and the outbox together.

Each workflow names its own activities and snapshot type; how they are called, retried and what
the state forgets after a record is one rule here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

# Clocks and records retry until they succeed: a database down for a while delays the record,
# never loses it. Past a minute of backoff the SDK waits on a server timer between attempts.
PATIENT = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
ACTIVITY_TIMEOUT = timedelta(seconds=30)

T = TypeVar("T")


class Recorded(Protocol):
    """What a workflow's state holds for its record: the events and notices not yet written."""

    events: list[Any]
    outbox: list[Any]
    next_seq: int
    recorded_seq: int


S = TypeVar("S", bound=Recorded)


async def ask(name: str, arg: Any, result_type: type[T]) -> T:
    """A clock or a read: a local activity, inside the workflow task that needs its answer."""
    result: T = await workflow.execute_local_activity(
        name,
        arg,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=PATIENT,
        result_type=result_type,
    )
    return result


def unrecorded(s: Recorded) -> bool:
    return s.recorded_seq < s.next_seq or bool(s.outbox)


async def record(s: S, activity: str, snapshot: Callable[..., Any]) -> None:
    """Write the read model and the outbox in one transaction; forget what it wrote.

    Decisions taken while the record runs stay for the next one: only the events and notices the
    snapshot held are dropped from the state. An ordinary activity, not a local one: its input is
    in the history before it runs, so a retried workflow task can never write a snapshot (events,
    notices) the history lacks.
    """
    upto, sent = s.next_seq, len(s.outbox)
    held = dataclasses.replace(s, events=list(s.events), outbox=list(s.outbox))  # type: ignore[type-var]
    await workflow.execute_activity(
        activity,
        snapshot(state=held, from_seq=s.recorded_seq),
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=PATIENT,
    )
    s.events = [e for e in s.events if e.seq >= upto]
    s.outbox = s.outbox[sent:]
    s.recorded_seq = upto
