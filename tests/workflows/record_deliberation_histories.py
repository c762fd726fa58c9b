"""Record the histories that ``test_deliberation_replay`` replays: one file per path.

    python3 -m uv run python -m tests.workflows.record_deliberation_histories

Plays each scenario on the time-skipping server with the real worker (default policy) and writes
``tests/workflows/histories/deliberation/<scenario>.json.gz`` (gzipped ``WorkflowHistory``
JSON). Re-record after a change to ``workflows/deliberation`` — once the old ones replay.
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

from temporalio.client import WorkflowHandle

from domain.deliberation.models import (
    Attendance,
    Ballot,
    CloseRound,
    Complete,
    Decide,
    DecisionSpec,
    DWithdraw,
    Evaluate,
    Kind,
    Opinion,
    ReportProgress,
    RoundOutcome,
    Verdict,
    Votes,
)
from domain.models import Role
from tests.workflows.conftest import COUNTY, TOWNSHIP, VILLAGE
from tests.workflows.deliberation_desk import Desk, staff
from tests.workflows.standalone import (
    read_model_at,
    run_histories,
    running_harness,
    time_skipping_env,
)

HISTORIES = Path(__file__).parent / "histories" / "deliberation"
V, VL, T, C, CL = (
    staff(VILLAGE),
    staff(VILLAGE, Role.LEADER),
    staff(TOWNSHIP),
    staff(COUNTY),
    staff(COUNTY, Role.LEADER),
)
Handle = WorkflowHandle[Any, Any]


def _close(actor: Any, outcome: RoundOutcome) -> CloseRound:
    return CloseRound(
        actor=actor,
        outcome=outcome,
        attendance=Attendance(expected=25, present=20),
        votes=Votes(15, 3, 2),
        summary="纪要",
        decision=DecisionSpec("硬化村道", VILLAGE, "社区", TOWNSHIP)
        if outcome is RoundOutcome.CONSENSUS
        else None,
    )


async def consensus_implemented_late_then_evaluated(desk: Desk) -> Handle:
    h = await desk.open()
    await desk.act(h, "opinion", Opinion(actor=V, text="北线"))
    await desk.act(h, "close_round", _close(V, RoundOutcome.CONSENSUS))
    await desk.act(h, "progress", ReportProgress(actor=V, percent=50, note="过半"))
    s = await desk.state(h)
    assert s.decision is not None
    await desk.h.sleep_until(s.decision.due + timedelta(days=2))
    await desk.act(h, "complete", Complete(actor=V, summary="完工"))
    await desk.act(h, "evaluate", Evaluate(actor=staff(TOWNSHIP, Role.LEADER)))
    s = await desk.state(h)
    assert s.evaluation_deadline is not None
    await desk.h.sleep_until(s.evaluation_deadline + timedelta(seconds=1))
    return h


async def rounds_capped_then_adopted(desk: Desk) -> Handle:
    h = await desk.open()
    for _ in range(3):
        await desk.act(h, "close_round", _close(V, RoundOutcome.NO_CONSENSUS))
    spec = DecisionSpec("硬化村道", VILLAGE, "社区", TOWNSHIP)
    await desk.act(h, "decide", Decide(actor=VL, verdict=Verdict.ADOPT, decision=spec))
    return h


async def referred_up_to_the_county_then_overdue(desk: Desk) -> Handle:
    h = await desk.open()
    await desk.act(h, "close_round", _close(V, RoundOutcome.HARD))
    await desk.act(h, "decide", Decide(actor=VL, verdict=Verdict.REFER_UP, reason="跨村"))
    await desk.act(h, "close_round", _close(T, RoundOutcome.HARD))
    s = await desk.state(h)
    assert s.submission is not None
    await desk.h.sleep_until(s.submission.deadline + timedelta(seconds=1))
    await desk.act(h, "close_round", _close(C, RoundOutcome.HARD))
    s = await desk.state(h)
    assert s.submission is not None
    await desk.h.sleep_until(s.submission.deadline + timedelta(days=2))
    spec = DecisionSpec("县级统筹", COUNTY, "县", None)
    await desk.act(h, "decide", Decide(actor=CL, verdict=Verdict.ADOPT, decision=spec))
    return h


async def poll_closed_with_its_tally(desk: Desk) -> Handle:
    h = await desk.open(Kind.POLL, options=["甲", "乙"])
    await desk.act(h, "ballot", Ballot(actor=V, household="h1", option="甲"))
    await desk.act(h, "ballot", Ballot(actor=V, household="h2", option="乙"))
    await desk.act(h, "close_round", _close(V, RoundOutcome.NO_CONSENSUS))
    await desk.act(h, "withdraw", DWithdraw(actor=V, reason="改期"))
    return h


async def withdrawn(desk: Desk) -> Handle:
    h = await desk.open()
    await desk.act(h, "withdraw", DWithdraw(actor=V, reason="已解决"))
    return h


SCENARIOS: dict[str, Callable[[Desk], Awaitable[Handle]]] = {
    f.__name__: f
    for f in (
        consensus_implemented_late_then_evaluated,
        rounds_capped_then_adopted,
        referred_up_to_the_county_then_overdue,
        poll_closed_with_its_tally,
        withdrawn,
    )
}


async def main() -> None:
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for old in HISTORIES.glob("*.json.gz"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp, read_model_at(Path(tmp)) as engine:
        async with time_skipping_env() as env, running_harness(env, engine) as harness:
            for name, play in SCENARIOS.items():
                handle = await play(Desk(harness))
                await harness.stop_all()
                for history in await run_histories(env, handle):
                    file = HISTORIES / f"{name}.json.gz"
                    file.write_bytes(gzip.compress(history.to_json().encode(), mtime=0))
                    print("wrote", file.name)


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
