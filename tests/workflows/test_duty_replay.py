"""Replay every recorded duty history against today's DutyWorkflow (the rule and the way to
re-record are in ``test_replay``'s docstring; the recorder is ``record_duty_histories``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from domain.payloads import DATA_CONVERTER
from tests.workflows.altered_duty import WaitsBeforePlanning
from tests.workflows.conftest import load_history
from tests.workflows.record_duty_histories import HISTORIES, SCENARIOS
from workflows.duty import DutyWorkflow

FILES = sorted(HISTORIES.glob("*.json.gz"))


def test_every_path_has_a_recorded_history() -> None:
    assert {f.name.removesuffix(".json.gz") for f in FILES} == set(SCENARIOS)
    assert sum(f.stat().st_size for f in FILES) < 100_000


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name.removesuffix(".json.gz"))
async def test_history_replays_deterministically(file: Path) -> None:
    replayer = Replayer(workflows=[DutyWorkflow], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(load_history(file))


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name.removesuffix(".json.gz"))
async def test_a_careless_change_is_caught_as_nondeterminism(file: Path) -> None:
    replayer = Replayer(workflows=[WaitsBeforePlanning], data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(load_history(file), raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure


def test_effects_are_the_record_the_report_and_the_council() -> None:
    """Reads and the calendar are local activities; what writes is an ordinary one (or the
    council's child workflow)."""
    for file in FILES:
        events = load_history(file).events
        scheduled = {
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in events
            if e.HasField("activity_task_scheduled_event_attributes")
        }
        assert scheduled <= {"record_duty", "duty_report"}, file.name
        assert "record_duty" in scheduled, file.name
        children = [
            e
            for e in events
            if e.HasField("start_child_workflow_execution_initiated_event_attributes")
        ]
        assert bool(children) == file.name.startswith("council"), file.name
