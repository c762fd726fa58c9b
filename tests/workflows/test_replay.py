"""Replay every recorded history against today's IssueWorkflow: running issues survive a deploy.

A worker that picks up a running issue after a deploy replays the issue's history through the new
code; if the code now issues other commands (another activity, a timer more or less, in another
order) the replay fails with a nondeterminism error and the issue is stuck until the code is
rolled back. These tests do that replay ahead of time, in the sandbox as the worker runs it, over
one recorded history of every path (``histories/*.json.gz``).

Changing the workflow:

- A change to live workflow logic that alters the commands goes behind ``workflow.patched``:
  ``if workflow.patched("what-changed"): <new> else: <old>``, so that histories recorded before
  the change replay along the old branch (``PausesBeforeRegisteringPatched`` in
  ``altered_issue.py`` is the shape). Once no run from before the change remains, the old branch
  goes: ``workflow.deprecate_patch("what-changed")``, and later the call too.
- Before regenerating, make sure the histories recorded by the old code pass against the new code;
  copy a few that cross the changed code into ``histories/legacy/`` (named after the patch they
  predate), which the recorder never touches; then regenerate the set so the new paths are
  covered as well::

      python3 -m uv run python -m tests.workflows.record_histories

  which plays every scenario on the time-skipping server with the real worker and rewrites
  ``histories/*.json.gz`` (gzipped ``WorkflowHistory.to_json()``, one file per run). Drop a
  legacy file when its patch is deprecated.

``histories/legacy/*.before-recheck-patch.json.gz`` come from the code before the patches
``recheck-actions-under-lock`` and ``pending-extension-lapses``: they replay along the old branches.
``histories/legacy/*.before-local-clocks.json.gz`` are every path as recorded before
``clocks-as-local-activities`` (clock computations as ordinary activities).
``histories/legacy/*.before-task-time-free.json.gz`` predate ``commands-free-of-task-time`` (no
timer for a clock already due; clocks fired as of the task's time); ``test_late_tasks.py`` also
uses them to show the failure that patch removed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.workflows.altered_issue import (
    ForgetsToRecordAcceptance,
    PausesBeforeRegistering,
    PausesBeforeRegisteringPatched,
)
from tests.workflows.conftest import load_history
from workflows.issue import IssueWorkflow

HISTORIES = Path(__file__).parent / "histories"
FILES = sorted(HISTORIES.glob("*.json.gz"))
# Recorded by older code and kept, never regenerated: runs like these may still be in flight.
LEGACY = sorted((HISTORIES / "legacy").glob("*.json.gz"))
# A run continued as new starts from carried state, not from registration.
FIRST_RUNS = [f for f in FILES if not re.search(r"\.run([2-9]|\d\d+)\.json\.gz$", f.name)]
# The paths the recorder plays; a missing file means the set was regenerated incompletely.
EXPECTED = {
    "resolved_at_village",
    "resolved_at_township_after_escalation_on_request",
    "resolved_at_county_after_two_escalations",
    "escalated_on_timeout_twice_then_overdue",
    "extension_granted",
    "extension_refused",
    "extension_request_lapses_on_resolve",
    "extension_request_lapses_when_overdue",
    "transferred_by_the_unit",
    "transferred_late_by_the_parent",
    "whistle_with_a_late_report",
    "reopened_after_unsatisfied_feedback",
    "closed_without_feedback",
    "withdrawn",
    "continued_as_new",
}


def scenario(file: Path) -> str:
    return file.name.removesuffix(".json.gz").split(".run")[0]


def test_every_path_has_a_recorded_history() -> None:
    assert {scenario(f) for f in FILES} == EXPECTED
    runs = [f for f in FILES if scenario(f) == "continued_as_new"]
    assert len(runs) >= 2, "the continue-as-new history should span several runs"
    size = sum(f.stat().st_size for f in FILES + LEGACY)
    assert size < 400_000, "keep the recorded histories small"


@pytest.mark.parametrize("file", FILES + LEGACY, ids=lambda f: f.name.removesuffix(".json.gz"))
async def test_history_replays_deterministically(file: Path) -> None:
    # Sandboxed by default, as the worker runs the workflow.
    replayer = Replayer(workflows=[IssueWorkflow])
    await replayer.replay_workflow(load_history(file))


@pytest.mark.parametrize("file", FIRST_RUNS, ids=lambda f: f.name.removesuffix(".json.gz"))
async def test_a_careless_change_at_the_start_is_caught_as_nondeterminism(file: Path) -> None:
    replayer = Replayer(workflows=[PausesBeforeRegistering])
    result = await replayer.replay_workflow(load_history(file), raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure
    assert "Nondeterminism" in str(result.replay_failure)


async def test_a_careless_change_deep_in_the_run_is_caught_as_nondeterminism() -> None:
    replayer = Replayer(workflows=[ForgetsToRecordAcceptance])
    file = HISTORIES / "resolved_at_village.json.gz"
    result = await replayer.replay_workflow(load_history(file), raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure
    # A history that never reaches an acceptance does not notice the change.
    await replayer.replay_workflow(load_history(HISTORIES / "withdrawn.json.gz"))


async def test_the_same_change_behind_a_patch_replays() -> None:
    replayer = Replayer(workflows=[PausesBeforeRegisteringPatched])
    for file in FIRST_RUNS:
        await replayer.replay_workflow(load_history(file))


def _clock_calls(file: Path) -> tuple[int, int]:
    """(clock computations scheduled as activities, local-activity markers) in a history."""
    clocks = {"terms_for", "level_clock", "deadline", "next_reminder"}
    activities = markers = 0
    for event in load_history(file).events:
        scheduled = event.activity_task_scheduled_event_attributes
        if event.HasField("activity_task_scheduled_event_attributes"):
            activities += scheduled.activity_type.name in clocks
        if event.HasField("marker_recorded_event_attributes"):
            markers += event.marker_recorded_event_attributes.marker_name == "core_local_activity"
    return activities, markers


def test_both_branches_of_the_local_clocks_patch_are_replayed() -> None:
    # Current runs compute every clock in a local activity; runs recorded before the patch
    # scheduled them as activities, and must keep replaying along that branch.
    for file in FILES:
        activities, markers = _clock_calls(file)
        assert activities == 0 and markers > 0, (file.name, activities, markers)
    before = [f for f in LEGACY if ".before-local-clocks." in f.name]
    assert {scenario(f).split(".")[0] for f in before} >= {
        "escalated_on_timeout_twice_then_overdue",
        "extension_granted",
        "continued_as_new",
    }
    for file in before:
        activities, markers = _clock_calls(file)
        assert activities > 0 and markers == 0, (file.name, activities, markers)
