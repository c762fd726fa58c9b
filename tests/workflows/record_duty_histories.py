"""Record the histories that ``test_duty_replay`` replays: one file per path of a duty.

    python3 -m uv run python -m tests.workflows.record_duty_histories

Plays each scenario on the time-skipping server with the real worker and writes
``tests/workflows/histories/duty/<scenario>.json.gz``. Re-record after a change to
``workflows/duty`` — once the old ones replay.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session
from temporalio.client import WorkflowHandle

from domain.duties.models import DutyKind, Fulfilment
from domain.models import Actor, Role
from store.duty_tables import DisclosurePublication
from tests.workflows.conftest import TZ, calendar_with, local, quiet_monday
from tests.workflows.duty_desk import DutyDesk
from tests.workflows.standalone import (
    read_model_at,
    run_histories,
    running_harness,
    time_skipping_env,
)
from workflows.duty import SIGNAL_FULFILLED

HISTORIES = Path(__file__).parent / "histories" / "duty"
VILLAGE, COUNTY = "611025103217", "611025"
DAY = timedelta(days=1)
Handle = WorkflowHandle[Any, Any]


async def council_moved_off_a_holiday(desk: DutyDesk) -> Handle:
    monday = quiet_monday(await desk.h.now(), weeks=1)
    # The harness's calendar has Monday off (see main): the council meets on Tuesday.
    run = await desk.start(DutyKind.VILLAGE_COUNCIL, VILLAGE, local(monday, 9))
    await desk.h.sleep_until(local(monday + DAY, 9, 5))
    await desk.row(run)
    return run


async def disclosure_missed_reminded_then_published(desk: DutyDesk) -> Handle:
    monday = quiet_monday(await desk.h.now(), weeks=1) + 7 * DAY
    run = await desk.start(DutyKind.DISCLOSURE_MONTHLY, VILLAGE, local(monday, 18))
    await desk.h.sleep_until(local(monday + 2 * DAY, 12))
    s = await desk.state(run)
    assert s.plan is not None
    with Session(desk.h.engine) as session:
        session.add(
            DisclosurePublication(
                unit_code=VILLAGE,
                period=s.plan.period,
                published_at=await desk.h.now(),
                published_by="village",
            )
        )
        session.commit()
    await desk.h.sleep_until(local(monday + 3 * DAY, 9, 5))
    await desk.row(run)
    return run


async def disclosure_fulfilled_before_the_deadline(desk: DutyDesk) -> Handle:
    monday = quiet_monday(await desk.h.now(), weeks=1) + 14 * DAY
    run = await desk.start(DutyKind.DISCLOSURE_QUARTERLY, VILLAGE, local(monday, 18))
    await desk.h.sleep_until(local(monday, 10))
    clerk = Actor(user=f"village-{VILLAGE}", role=Role.CLERK, unit_code=VILLAGE)
    await run.signal(SIGNAL_FULFILLED, Fulfilment(await desk.h.now(), clerk, "1"))
    await desk.row(run)
    return run


async def joint_meeting_reported(desk: DutyDesk) -> Handle:
    monday = quiet_monday(await desk.h.now(), weeks=1) + 21 * DAY
    run = await desk.start(DutyKind.JOINT_MEETING, COUNTY, local(monday, 9))
    await desk.h.sleep_until(local(monday, 9, 5))
    await desk.row(run)
    return run


SCENARIOS: dict[str, Callable[[DutyDesk], Awaitable[Handle]]] = {
    f.__name__: f
    for f in (
        council_moved_off_a_holiday,
        disclosure_missed_reminded_then_published,
        disclosure_fulfilled_before_the_deadline,
        joint_meeting_reported,
    )
}


async def main() -> None:
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for old in HISTORIES.glob("*.json.gz"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp, read_model_at(Path(tmp)) as engine:
        async with time_skipping_env() as env:
            now = (await env.get_current_time()).astimezone(TZ)
            holiday = quiet_monday(now, weeks=1)
            calendar = calendar_with([holiday], [])
            async with running_harness(env, engine, calendar=calendar) as harness:
                for name, play in SCENARIOS.items():
                    handle = await play(DutyDesk(harness))
                    await harness.stop_all()
                    for history in await run_histories(env, handle):
                        file = HISTORIES / f"{name}.json.gz"
                        file.write_bytes(gzip.compress(history.to_json().encode(), mtime=0))
                        print("wrote", file.name)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
