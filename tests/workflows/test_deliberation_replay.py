"""Replay every recorded deliberation history against today's DeliberationWorkflow (the rule and
the way to re-record are in ``test_replay``'s docstring; the recorder is
``record_deliberation_histories``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from domain.payloads import DATA_CONVERTER
from tests.workflows.altered_deliberation import WaitsBeforeOpening
from tests.workflows.conftest import load_history
from tests.workflows.record_deliberation_histories import HISTORIES, SCENARIOS
from workflows.deliberation import DeliberationWorkflow

FILES = sorted(HISTORIES.glob("*.json.gz"))


def test_every_path_has_a_recorded_history() -> None:
    assert {f.name.removesuffix(".json.gz") for f in FILES} == set(SCENARIOS)
    assert sum(f.stat().st_size for f in FILES) < 200_000


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name.removesuffix(".json.gz"))
async def test_history_replays_deterministically(file: Path) -> None:
    replayer = Replayer(workflows=[DeliberationWorkflow], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(load_history(file))


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name.removesuffix(".json.gz"))
async def test_a_careless_change_is_caught_as_nondeterminism(file: Path) -> None:
    replayer = Replayer(workflows=[WaitsBeforeOpening], data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(load_history(file), raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure


def test_the_record_is_the_only_ordinary_activity() -> None:
    for file in FILES:
        scheduled = {
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in load_history(file).events
            if e.HasField("activity_task_scheduled_event_attributes")
        }
        assert scheduled == {"record_deliberation"}, file.name
