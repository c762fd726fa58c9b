"""Record the histories that ``test_replay`` replays: one JSON file per workflow run, every path.

Run from the repository root::

    python3 -m uv run python -m tests.workflows.record_histories

It starts the time-skipping test server, a real worker with every activity and a scratch SQLite
read model, plays each scenario below (the same paths as ``test_issue_paths``) and writes
``tests/workflows/histories/<scenario>.json.gz`` (``<scenario>.run<N>.json.gz`` for each run of a
workflow that continued as new): ``WorkflowHistory.to_json()``, gzipped — the payloads inside are
base64, so the plain files would be ten times larger (``zcat`` one to read it; the Temporal CLI and
UI read the unzipped JSON). Old files are removed first, so the directory holds exactly what
the current workflow code produces; ``histories/legacy/`` is left alone. Re-record after every
change to ``workflows/issue.py`` — but only *after* the old histories replay against the new code
(see ``test_replay``). Each scenario starts on a quiet Monday 09:00 ahead of the server's clock,
with the statutory holidays marked official, so the recordings do not depend on the date.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import holidays
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.calendar import WorkCalendar
from domain.models import (
    Accept,
    Actor,
    Escalate,
    ExtensionDecision,
    ExtensionRequest,
    Feedback,
    IssueState,
    Progress,
    Report,
    Resolve,
    Role,
    Satisfaction,
    Status,
    Supervise,
    Term,
    Transfer,
    Urgency,
    Whistle,
    Withdraw,
)
from store.units_import import ladder
from tests.workflows.conftest import (
    COUNTY,
    TOWNSHIP,
    TZ,
    VILLAGE,
    Harness,
    calendar_with,
    clerk,
    leader,
    local,
    quiet_monday,
)
from tests.workflows.standalone import (
    read_model_at,
    run_histories,
    running_harness,
    time_skipping_env,
)

HISTORIES = Path(__file__).parent / "histories"

COUNTY_CLERK = Actor(user="county-clerk", role=Role.CLERK, unit_code=COUNTY)
SUPERVISOR = Actor(user="county-supervisor", role=Role.SUPERVISOR, unit_code=COUNTY)
CITIZEN = Actor(user="citizen", role=Role.CITIZEN)
OTHER_VILLAGE = "611025101202"  # a village of 回龙镇
SIBLING_VILLAGE = "611025001002"
SATISFIED = Feedback(actor=CITIZEN, solved=True, satisfaction=Satisfaction.SATISFIED)
UNSATISFIED = Feedback(actor=CITIZEN, solved=False, satisfaction=Satisfaction.UNSATISFIED)

Handle = WorkflowHandle[Any, Any]
Scenario = Callable[[Harness, date], Awaitable[Handle]]


def d(day: date, n: int) -> date:
    return day + timedelta(days=n)


async def finish(h: Harness, issue: Handle, *, resolver: Actor | None = None) -> Handle:
    """Accept (if needed), resolve and rate satisfied: the issue closes and its run completes."""
    state = await h.state(issue)
    actor = resolver or _handler_of(state)
    if state.status is Status.PENDING_ACCEPT:
        await h.act(issue, "accept", Accept(actor=actor))
    await h.act(issue, "resolve", Resolve(actor=actor, summary="已办结"))
    await h.act(issue, "feedback", SATISFIED)
    return issue


def _handler_of(state: IssueState) -> Actor:
    code = state.unit.code
    return clerk(code) if len(code) == 12 else leader(code)


# ---- scenarios: each returns the handle of the workflow whose runs are recorded ---------------


async def resolved_at_village(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
    await h.act(issue, "progress", Progress(actor=clerk(VILLAGE), note="已联系保洁员"))
    await h.act(issue, "resolve", Resolve(actor=clerk(VILLAGE), summary="已清运"))
    await h.act(issue, "feedback", SATISFIED)
    return issue


async def resolved_at_township_after_escalation_on_request(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "escalate", Escalate(actor=clerk(VILLAGE), reason="涉及跨村道路"))
    await h.act(issue, "accept", Accept(actor=leader(TOWNSHIP)))
    await h.act(issue, "supervise", Supervise(actor=SUPERVISOR, note="请加快办理"))
    await h.act(issue, "resolve", Resolve(actor=leader(TOWNSHIP), summary="镇上协调修复"))
    basically = Feedback(actor=CITIZEN, solved=True, satisfaction=Satisfaction.BASICALLY_SATISFIED)
    await h.act(issue, "feedback", basically)
    return issue


async def resolved_at_county_after_two_escalations(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "escalate", Escalate(actor=clerk(VILLAGE), reason="超出村级权限"))
    await h.act(issue, "accept", Accept(actor=leader(TOWNSHIP)))
    await h.act(issue, "escalate", Escalate(actor=leader(TOWNSHIP), reason="需县级部门协调"))
    return await finish(h, issue, resolver=COUNTY_CLERK)


async def escalated_on_timeout_twice_then_overdue(h: Harness, day: date) -> Handle:
    issue = await h.register()
    # Village Thursday 18:00, township next Thursday, county the Monday after next; then 督办
    # every working day at 09:00.
    await h.sleep_until(local(d(day, 24), 10))
    await h.act(issue, "supervise", Supervise(actor=SUPERVISOR, note="超期，请立即办理"))
    state = await h.state(issue)
    assert state.overdue and state.unit.code == COUNTY, state.unit
    return await finish(h, issue, resolver=COUNTY_CLERK)


async def extension_granted(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
    ask = ExtensionRequest(actor=clerk(VILLAGE), term=Term(working_days=2), reason="等待材料")
    await h.act(issue, "extension", ask)
    grant = ExtensionDecision(actor=leader(TOWNSHIP), approve=True, term=Term(working_days=1))
    await h.act(issue, "extension_decision", grant)
    await h.sleep_until(local(d(day, 4), 18, 1))  # past the extended deadline: at the township
    assert (await h.state(issue)).unit.code == TOWNSHIP
    return await finish(h, issue)


async def extension_refused(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
    ask = ExtensionRequest(actor=clerk(VILLAGE), term=Term(working_days=3), reason="等待")
    await h.act(issue, "extension", ask)
    refuse = ExtensionDecision(actor=leader(TOWNSHIP), approve=False, comment="请按期办结")
    await h.act(issue, "extension_decision", refuse)
    return await finish(h, issue)


async def extension_request_lapses_on_resolve(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
    ask = ExtensionRequest(actor=clerk(VILLAGE), term=Term(working_days=1), reason="等待材料")
    await h.act(issue, "extension", ask)
    return await finish(h, issue)  # resolved before the township decided


async def extension_request_lapses_when_overdue(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "escalate", Escalate(actor=clerk(VILLAGE), reason="超出村级权限"))
    await h.act(issue, "escalate", Escalate(actor=leader(TOWNSHIP), reason="需县级部门协调"))
    await h.act(issue, "accept", Accept(actor=COUNTY_CLERK))
    ask = ExtensionRequest(actor=COUNTY_CLERK, term=Term(working_days=3), reason="等待鉴定")
    await h.act(issue, "extension", ask)
    await h.sleep_until(local(d(day, 10), 10))  # the county's 7 working days pass undecided
    assert (await h.state(issue)).pending_extension is None
    return await finish(h, issue, resolver=COUNTY_CLERK)


async def transferred_by_the_unit(h: Harness, day: date) -> Handle:
    issue = await h.register()
    with Session(h.engine) as session:
        target = ladder(session, OTHER_VILLAGE)
    move = Transfer(actor=clerk(VILLAGE), ladder=target, reason="属回龙镇")
    await h.act(issue, "transfer", move)
    return await finish(h, issue)


async def transferred_late_by_the_parent(h: Harness, day: date) -> Handle:
    issue = await h.register()
    with Session(h.engine) as session:
        sibling = ladder(session, SIBLING_VILLAGE)
    await h.sleep_until(local(d(day, 2), 18, 30))  # past the unit's own 2 working days
    move = Transfer(actor=leader(TOWNSHIP), ladder=sibling, reason="镇里改派")
    await h.act(issue, "transfer", move)
    return await finish(h, issue)


async def whistle_with_a_late_report(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
    whistle = Whistle(
        actor=clerk(VILLAGE),
        departments=["zhenan-zhujian", "zhenan-shuili"],
        department_names={"zhenan-zhujian": "住建", "zhenan-shuili": "水利"},
        reason="需要专业力量",
    )
    await h.act(issue, "whistle", whistle)
    await h.sleep_until(local(day, 9, 10))
    await h.act(issue, "report", Report(actor=department("zhenan-zhujian"), contribution="到场"))
    await h.sleep_until(local(day, 9, 45))  # 水利's 30 minutes have passed
    await h.act(issue, "report", Report(actor=department("zhenan-shuili"), contribution="补报到"))
    return await finish(h, issue)


def department(code: str) -> Actor:
    return Actor(user=f"dept-{code}", role=Role.DEPARTMENT, department_code=code)


async def reopened_after_unsatisfied_feedback(h: Harness, day: date) -> Handle:
    issue = await h.register()
    for _ in range(2):  # 重办 once at the village, then up to the township
        await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
        await h.act(issue, "resolve", Resolve(actor=clerk(VILLAGE), summary="已处理"))
        await h.act(issue, "feedback", UNSATISFIED)
    assert (await h.state(issue)).unit.code == TOWNSHIP
    return await finish(h, issue)


async def closed_without_feedback(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "accept", Accept(actor=clerk(VILLAGE)))
    await h.act(issue, "resolve", Resolve(actor=clerk(VILLAGE), summary="已处理"))
    await h.sleep_until(local(d(day, 7), 18, 1))  # the 5 working days' window has ended
    return issue


async def withdrawn(h: Harness, day: date) -> Handle:
    issue = await h.register()
    await h.act(issue, "withdraw", Withdraw(actor=CITIZEN, reason="已自行解决"))
    return issue


async def continued_as_new(h: Harness, day: date) -> Handle:
    issue = await h.register(urgency=Urgency.URGENT)
    # Urgent: 4 h + 8 h + 24 h, then 督办 every working day: the small history limit of this
    # harness makes the run continue as new in the middle of the reminders.
    await h.sleep_until(local(d(day, 8), 10))
    state = await h.state(issue)
    assert state.overdue, "the urgent issue should be overdue at the county by now"
    return await finish(h, issue, resolver=COUNTY_CLERK)


SCENARIOS: list[Scenario] = [
    resolved_at_village,
    resolved_at_township_after_escalation_on_request,
    resolved_at_county_after_two_escalations,
    escalated_on_timeout_twice_then_overdue,
    extension_granted,
    extension_refused,
    extension_request_lapses_on_resolve,
    extension_request_lapses_when_overdue,
    transferred_by_the_unit,
    transferred_late_by_the_parent,
    whistle_with_a_late_report,
    reopened_after_unsatisfied_feedback,
    closed_without_feedback,
    withdrawn,
]
CONTINUE_AS_NEW_LIMIT = 40  # history events before the run continues as new


def official_calendar(day: date) -> WorkCalendar:
    """The statutory holidays, marked official: no provisional deadlines, whatever the year."""
    years = [day.year, day.year + 1]
    return calendar_with(days_off=list(holidays.China(years=years)), workdays=[])


async def play(
    env: WorkflowEnvironment, engine: Engine, scenario: Scenario, history_limit: int
) -> list[str]:
    """Play one scenario from a fresh quiet Monday; write its runs; return the files' names."""
    day = quiet_monday((await env.get_current_time()).astimezone(TZ))
    calendar = official_calendar(day)
    async with running_harness(env, engine, calendar=calendar, history_limit=history_limit) as h:
        await h.sleep_until(local(day, 9))
        issue = await scenario(h, day)
        await env.client.get_workflow_handle(issue.id).result()  # the last run has completed
        runs = await run_histories(env, issue)
    if history_limit < 10_000:
        assert len(runs) > 1, f"{scenario.__name__} should have continued as new"
    name = scenario.__name__
    written = []
    for index, history in enumerate(runs, start=1):
        file = f"{name}.json.gz" if len(runs) == 1 else f"{name}.run{index}.json.gz"
        # Payloads are base64 inside the JSON, so it compresses about tenfold; mtime=0 keeps the
        # bytes the same for the same history.
        (HISTORIES / file).write_bytes(gzip.compress(history.to_json().encode(), mtime=0))
        written.append(file)
    return written


async def main() -> None:
    HISTORIES.mkdir(exist_ok=True)
    for old in HISTORIES.glob("*.json.gz"):
        old.unlink()
    with tempfile.TemporaryDirectory() as scratch, read_model_at(Path(scratch)) as engine:
        async with time_skipping_env() as env:
            for scenario in SCENARIOS:
                for file in await play(env, engine, scenario, 10_000):
                    print(f"recorded {file}")
            for file in await play(env, engine, continued_as_new, CONTINUE_AS_NEW_LIMIT):
                print(f"recorded {file}")
    files = sorted(HISTORIES.glob("*.json.gz"))
    print(f"{len(files)} histories, {sum(f.stat().st_size for f in files) // 1024} KiB")


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # The SDK's runtime can abort at interpreter exit after a worker ran (see NOTES.md).
    os._exit(0)
