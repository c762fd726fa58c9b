"""Replay every recorded history against today's IssueWorkflow: running issues survive a deploy.

A worker that picks up a running issue after a deploy replays the issue's history through the new
code; if the code now issues other commands (another activity, a timer more or less, in another
order) the replay fails with a nondeterminism error and the issue is stuck until the code is
rolled back. These tests do that replay ahead of time, in the sandbox as the worker runs it, over
one recorded history of every path (``histories/*.json.gz``).

Changing the workflow after the first production release (the rule, also in the README):

- A change to live workflow logic that alters the commands goes behind ``workflow.patched``:
  ``if workflow.patched("what-changed"): <new> else: <old>``, so that histories recorded before
  the change replay along the old branch (``PausesBeforeRegisteringPatched`` in
  ``altered_issue.py`` is the shape). Once no run from before the change remains, the old branch
  goes: ``workflow.deprecate_patch("what-changed")``, and in a later release the call too. Larger
  rewrites run on Worker Versioning instead (new runs on the new build, old runs drain on the old).
- Before regenerating, keep a few histories recorded by the old code that cross the changed code
  in ``histories/legacy/`` (named after the patch they predate), which the recorder never touches;
  then regenerate the set so the new paths are covered as well::

      python3 -m uv run python -m tests.workflows.record_histories

  which plays every scenario on the time-skipping server with the real worker and rewrites
  ``histories/*.json.gz`` (gzipped ``WorkflowHistory.to_json()``, one file per run). Drop a
  legacy file when its patch is removed.

Nothing runs in production yet: the core rebuild (2026-12-05) dropped every patch and every
legacy history once, and re-recorded the set from the new code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from domain.payloads import DATA_CONVERTER
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
LEGACY = sorted((HISTORIES / "legacy").glob("*.json.gz")) if (HISTORIES / "legacy").exists() else []
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
    replayer = Replayer(workflows=[IssueWorkflow], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(load_history(file))


@pytest.mark.parametrize("file", FIRST_RUNS, ids=lambda f: f.name.removesuffix(".json.gz"))
async def test_a_careless_change_at_the_start_is_caught_as_nondeterminism(file: Path) -> None:
    replayer = Replayer(workflows=[PausesBeforeRegistering], data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(load_history(file), raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure
    assert "Nondeterminism" in str(result.replay_failure)


async def test_a_careless_change_deep_in_the_run_is_caught_as_nondeterminism() -> None:
    replayer = Replayer(workflows=[ForgetsToRecordAcceptance], data_converter=DATA_CONVERTER)
    file = HISTORIES / "resolved_at_village.json.gz"
    result = await replayer.replay_workflow(load_history(file), raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure
    # A history that never reaches an acceptance does not notice the change.
    await replayer.replay_workflow(load_history(HISTORIES / "withdrawn.json.gz"))


async def test_the_same_change_behind_a_patch_replays() -> None:
    replayer = Replayer(workflows=[PausesBeforeRegisteringPatched], data_converter=DATA_CONVERTER)
    for file in FIRST_RUNS:
        await replayer.replay_workflow(load_history(file))


def _kinds(file: Path) -> list[str]:
    return [HistoryEventType.Name(e.event_type)[11:] for e in load_history(file).events]


def _scheduled(file: Path) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in load_history(file).events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


def test_clocks_are_local_activities_and_the_record_the_only_activity() -> None:
    # Clocks are pure: computed inside the task that decided. The record writes the read model
    # and the outbox, so its input must be in the history before it runs.
    for file in FIRST_RUNS:
        assert set(_scheduled(file)) == {"record"}, file.name
        assert "MARKER_RECORDED" in _kinds(file), file.name
    for file in FILES:
        assert set(_scheduled(file)) <= {"record"}, file.name


def test_an_escalation_on_timeout_is_one_timer_task_and_one_activity_round_trip() -> None:
    # The timer fires; its task computes the next level's clock and schedules the record; the
    # record's completion brings one more task, which upserts the attributes and sets the timer.
    kinds = _kinds(HISTORIES / "escalated_on_timeout_twice_then_overdue.json.gz")
    fired = [i for i, k in enumerate(kinds) if k == "TIMER_FIRED"]
    assert len(fired) >= 3
    for i in fired:
        tail = kinds[i + 1 :]
        upto = tail.index("TIMER_STARTED") if "TIMER_STARTED" in tail else len(tail)
        step = tail[:upto]
        assert step.count("ACTIVITY_TASK_SCHEDULED") <= 1, step
        assert step.count("WORKFLOW_TASK_STARTED") == 1 + step.count("ACTIVITY_TASK_COMPLETED")


def test_no_workflow_code_asks_for_a_patch() -> None:
    # Patches come back only after the first release, by the rule in this module's docstring.
    for path in (Path(__file__).parents[2] / "workflows").rglob("*.py"):
        assert "patched(" not in path.read_text(), path
