"""A schedule an operator pauses in the Temporal UI takes its meeting off the duties page's
upcoming meetings (the paused schedule stops the runs it starts), through the real app on a real
dev server; resumed, it is back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from domain.duties.schedules import wanted
from tests.conftest import seeded_engine, stack_settings
from tests.duties.conftest import paused
from tests.faults.stack import eventually
from workers.schedules import paused_ids, schedule_of, tree_units

TOWNSHIP = "611025001"  # 永乐街道: each of its communities holds a monthly 村民议事会
VILLAGE = "611025001001"  # 新城社区居委会
SCHEDULE = f"village-council-{VILLAGE}"


@pytest.fixture
async def app(dev_server: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = stack_settings(tmp_path, "duties")
    engine = seeded_engine(settings)
    with Session(engine) as session:
        ds = next(d for d in wanted(list(tree_units(session))) if d.schedule_id == SCHEDULE)
    client = dev_server.client
    await client.create_schedule(SCHEDULE, schedule_of(ds, settings.task_queue, "Asia/Shanghai"))
    application = create_app(settings, temporal=client, engine=engine)
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver/api/v1"
            ) as http:
                token = await http.post(
                    "/auth/token", data={"username": f"township-{TOWNSHIP}", "password": "demo"}
                )
                assert token.status_code == 200, token.text
                http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
                yield http
    finally:
        await client.get_schedule_handle(SCHEDULE).delete()
        engine.dispose()


async def _council(http: httpx.AsyncClient) -> dict[str, Any]:
    r = await http.get("/duties/overview", params={"unit": TOWNSHIP})
    assert r.status_code == 200, r.text
    (council,) = [m for m in r.json()["upcoming"] if m["kind"] == "village_council"]
    return dict(council)


async def _listed_paused(client: Client, want: bool) -> bool:
    """The server's visibility, which the page asks, says the schedule is paused, or not, yet."""
    return (SCHEDULE in await paused_ids(client)) == want


async def test_a_paused_council_is_not_coming_and_is_back_when_resumed(
    dev_server: WorkflowEnvironment, app: httpx.AsyncClient
) -> None:
    client = dev_server.client
    before = await _council(app)
    held = before["units"]
    assert held > 1 and before["paused"] == 0
    assert "新城社区居委会" in before["names"]

    handle = client.get_schedule_handle(SCHEDULE)
    await handle.pause(note="社区换届，本月议事会暂停")
    await eventually(lambda: paused(handle), 30, "the pause to hold", every=0.1)
    await eventually(
        lambda: _listed_paused(client, True), 30, "the list to show the pause", every=0.1
    )
    during = await _council(app)
    assert (during["units"], during["paused"]) == (held - 1, 1)
    assert "新城社区居委会" not in during["names"]
    assert during["due"] == before["due"]

    await handle.unpause(note="换届完成")
    await eventually(
        lambda: _listed_paused(client, False), 30, "the list to show it resumed", every=0.1
    )
    after = await _council(app)
    assert (after["units"], after["paused"]) == (held, 0)
