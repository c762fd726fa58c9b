"""The soak's exemption for the SDK's update-order bug is exactly that bug, and nothing of ours.

Both histories are real, kept by the soak (``test-artifacts/``) on 2026-12-03:

- ``update-beside-a-result-on-a-cold-worker``: a worker restarted by the soak took up the issue
  with a task carrying the ``record`` activity's result and the village's ``accept``; it handed
  the workflow the result first (the loop's timer went out) and the update after, while a replay
  applies the update first. temporalio/sdk-python#1591, open upstream.
- ``result-applied-at-an-older-task-time``: this project's bug, fixed by the patch
  ``commands-free-of-task-time``. It was recorded before the patch and replays along the old
  branch, so it still fails, and must still count as a failure.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.faults.conftest import sdk_update_order
from tests.workflows.conftest import load_history
from workflows.issue import IssueWorkflow

HISTORIES = Path(__file__).parent / "histories"


def load(name: str) -> WorkflowHistory:
    return load_history(HISTORIES / f"{name}.json.gz")


async def replay_failure(history: WorkflowHistory) -> str:
    result = await Replayer(workflows=[IssueWorkflow]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is not None, f"{history.workflow_id} should not replay"
    return str(result.replay_failure)


async def test_the_sdk_update_order_bug_is_recognised() -> None:
    history = load("update-beside-a-result-on-a-cold-worker")
    failure = await replay_failure(history)
    assert "Update machine does not handle this event" in failure
    assert sdk_update_order(history, failure)


async def test_our_own_nondeterminism_is_not_taken_for_it() -> None:
    history = load("result-applied-at-an-older-task-time")
    failure = await replay_failure(history)
    assert "Activity machine does not handle this event" in failure
    assert not sdk_update_order(history, failure)


def test_an_update_mismatch_elsewhere_in_the_history_is_not_taken_for_it() -> None:
    # The same words about another event: the registration's timer (event 27), whose task
    # completed the registration update rather than accepting one beside a result.
    history = load("update-beside-a-result-on-a-cold-worker")
    failure = (
        "[TMPRL1100] Nondeterminism error: Update machine does not handle this event: "
        "HistoryEvent(id: 27, TimerStarted)"
    )
    assert not sdk_update_order(history, failure)
    assert not sdk_update_order(history, "[TMPRL1100] Nondeterminism error: something else")
