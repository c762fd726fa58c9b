"""The bare SDK baseline of the deadline burst: sleep until an instant, then one activity.

What a developer writes first for "at T, do one thing and record it": ``workflow.sleep`` to the
instant, then one remote activity (``bench.bare_activity``: one row inserted with SQLAlchemy into
the read model's database). A firing costs two workflow tasks (the timer's and the activity
result's) and one activity round trip through the server; the issue workflow's escalation costs
the same tasks with its clock as a local activity and ``record`` as the activity, whose input is
the whole issue state. The lag benchmark fires N of each at one instant on the same worker and
compares their CPU and rate.

This module holds only the workflow and its inputs, and imports nothing but ``temporalio`` and the
standard library: the sandbox imports it again for every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

WORKFLOW_NAME = "BareTimerWorkflow"
ACTIVITY_NAME = "bare_write"
ID_PREFIX = "bare-"
# The issue workflow's record policy and timeout (workflows/effects.py), so a failing write
# retries the same way.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
ACTIVITY_TIMEOUT = timedelta(seconds=30)
_SHORTEST_SLEEP = 0.001  # seconds: an instant already past still gets its timer

# Instants travel as POSIX seconds: a module the sandbox imports sees a restricted stand-in for
# ``datetime.datetime``, which the payload converter does not decode into a dataclass field.


@dataclass(frozen=True)
class BareStart:
    """One bare workflow: its key (the row it writes) and the instant it sleeps until."""

    key: str
    due: float


@dataclass(frozen=True)
class BareRow:
    """The row the activity writes: when it was due and when the timer's task ran."""

    key: str
    due: float
    fired_at: float


@workflow.defn(name=WORKFLOW_NAME)
class BareTimerWorkflow:
    """Timer, then one activity: the least an escalation on timeout can cost with the SDK."""

    @workflow.run
    async def run(self, start: BareStart) -> None:
        await workflow.sleep(max(start.due - workflow.now().timestamp(), _SHORTEST_SLEEP))
        await workflow.execute_activity(
            ACTIVITY_NAME,
            BareRow(key=start.key, due=start.due, fired_at=workflow.now().timestamp()),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
