"""The supervisors' live view while a decision waits for its clock.

An escalation is decided in one step (the level is left, ``escalated`` is written) and finished
when its clock comes back from a local activity (the new level is entered). A query answered in
between sees the state half-way: an ``escalated`` event and no level for it. The live view shows
the issue as that clock will leave it, computed by the same clock activities.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.deadlines import Clocks, build_calendar
from api import issue_detail
from domain.models import ClockRequest, LevelClock
from domain.policy import load_policy
from settings import Settings
from tests.api.conftest import TOWNSHIP, VILLAGE, Api, instants, own_stack

CLERK = f"village-{VILLAGE}"
SUPERVISOR = "county-supervisor"


class GatedClocks(Clocks):
    """The real clock activities; once ``hold`` is set, a level's clocks wait for ``release``."""

    hold = threading.Event()
    release = threading.Event()
    held = threading.Event()

    @activity.defn(name="level_clock")
    def level_clock(self, req: ClockRequest) -> LevelClock:
        if self.hold.is_set():
            self.held.set()
            self.release.wait(60)
        return super().level_clock(req)


@pytest.fixture
async def gated(
    settings: Settings, engine: Engine, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Api]:
    own = settings.model_copy(update={"task_queue": f"api-gated-{uuid.uuid4().hex[:8]}"})
    for gate in (GatedClocks.hold, GatedClocks.release, GatedClocks.held):
        gate.clear()
    clocks = GatedClocks(build_calendar(own), load_policy(own.policy))
    try:
        async with own_stack(own, engine, temporal_env, clocks) as api:
            yield api
    finally:
        GatedClocks.release.set()


def _types(body: dict[str, Any]) -> list[str]:
    return [e["type"] for e in body["events"]]


async def test_the_live_view_mid_escalation_shows_the_level_its_clock_enters(
    gated: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = gated
    # A query that reaches a workflow task busy with a local activity is answered when the task
    # heartbeats (8 s into a 10 s task timeout), perhaps the one after: wait for it.
    monkeypatch.setattr(issue_detail, "LIVE_QUERY_TIMEOUT", timedelta(seconds=30))
    created = await api.register()
    issue_id = created["id"]
    await api.ok(issue_id, "accept", as_user=CLERK)

    GatedClocks.hold.set()
    escalating = asyncio.create_task(
        api.act(issue_id, "escalate", {"reason": "超出村级权限"}, as_user=CLERK)
    )
    assert await asyncio.to_thread(GatedClocks.held.wait, 30), "the escalation's clock never ran"

    # Answered at the workflow task's next heartbeat, with the clock still out: the workflow's
    # own state then holds the decision without its level.
    r = await api.get(f"/issues/{issue_id}/live", as_user=SUPERVISOR)
    assert r.status_code == 200, r.text
    mid = r.json()
    assert GatedClocks.release.is_set() is False
    assert (mid["level"], mid["unit"]["code"]) == ("township", TOWNSHIP)
    assert [lv["level"] for lv in mid["levels"]] == ["village", "township"]
    assert _types(mid)[-2:] == ["escalated", "level_entered"]
    assert [e["seq"] for e in mid["events"]] == list(range(1, len(mid["events"]) + 1))
    assert mid["deadline"] is not None

    GatedClocks.release.set()
    # The person's request may have been told to retry meanwhile (503): the decision stands.
    assert (await escalating).status_code in (200, 503)
    for _ in range(300):
        recorded = (await api.get(f"/issues/{issue_id}", as_user=SUPERVISOR)).json()
        if recorded["level"] == "township":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the escalation was never recorded")
    # What the worker entered and recorded is what the live view showed before it had.
    after = (await api.get(f"/issues/{issue_id}/live", as_user=SUPERVISOR)).json()
    assert _types(recorded) == _types(after) == _types(mid)
    assert instants(recorded["levels"]) == instants(mid["levels"])
    assert instants(after["levels"]) == instants(mid["levels"])
    assert instants(after["deadline"]) == instants(mid["deadline"])
