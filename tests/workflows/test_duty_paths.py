"""Duty runs on the time-skipping server with the real worker and read model (SQLite and
PostgreSQL): a council on a holiday moves to the make-up Saturday and opens its deliberation with
the month's agenda; a missed 村务公开 alerts the township and reminds every working day until it is
published; a patrol without a check-in reminds the village; a quarterly report is kept as HTML
and PDF and sent; a month of every duty of a village, its grid and the county runs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from domain.deliberation.models import DeliberationState, Kind
from domain.duties.calendar import fires_between
from domain.duties.models import DutyKind, DutyOutcome, DutyStatus, Fulfilment
from domain.models import Actor, Role
from store.duty_tables import DisclosurePublication, DutyDocument, PatrolCheckin
from store.public_tables import TopicProposal
from store.units_import import import_units
from tests.workflows.conftest import TZ, calendar_with, local, quiet_monday
from tests.workflows.deliberation_desk import Desk
from tests.workflows.duty_desk import DutyDesk
from workflows.duty import SIGNAL_FULFILLED

COUNTY = "611025"
TOWNSHIP = "611025103"
VILLAGE = "611025103217"  # 龙湾村: no other scenario registers here, so its agenda is this one's
OTHER = "611025103218"  # 凤凰村
GRID = "611025103218001"
DAY = timedelta(days=1)


def _clerk(unit: str) -> Actor:
    return Actor(user=f"village-{unit}", role=Role.CLERK, unit_code=unit)


def _load_grid(engine: Engine, where: Path) -> None:
    """A 片区 under 凤凰村 (the importer takes grids below villages); again: a no-op."""
    grids = where / "grids.json"
    grid = {"code": GRID, "name": "凤凰一片区", "kind": "grid", "parent": OTHER}
    grids.write_text(json.dumps({"units": [grid]}), encoding="utf-8")
    import_units(engine, grids)


async def _friday_after(env: WorkflowEnvironment, days: int) -> date:
    day = (await env.get_current_time()).astimezone(TZ).date() + timedelta(days=days)
    return day + timedelta(days=(4 - day.weekday()) % 7)


async def test_a_council_on_a_holiday_meets_on_the_make_up_saturday_with_the_months_agenda(
    env: WorkflowEnvironment, make_harness: Any
) -> None:
    friday = await _friday_after(env, 3)
    saturday = friday + DAY
    # The Friday is a holiday and the Saturday after it a 调休 make-up working day.
    async with make_harness(calendar=calendar_with([friday], [saturday])) as h:
        issue = await h.register(village=VILLAGE, title="龙湾村河堤塌方")
        waiting = await Desk(h).open(unit=VILLAGE)
        with Session(h.engine) as session:
            topic = TopicProposal(
                village_code=VILLAGE, title="修建村口路灯", proposed_at=datetime.now(UTC)
            )
            session.add(topic)
            session.commit()
            session.refresh(topic)
        duties = DutyDesk(h)
        run = await duties.start(DutyKind.VILLAGE_COUNCIL, VILLAGE, local(friday, 9))

        await h.sleep_until(local(friday, 17))
        s = await duties.state(run)
        assert s.status is DutyStatus.WAITING and s.plan is not None
        assert (s.plan.due, s.plan.moved_from) == (local(saturday, 9), local(friday, 9))

        await h.sleep_until(local(saturday, 9, 5))
        s = await duties.state(run)
        assert s.outcome is DutyOutcome.HELD and s.deliberation_id is not None
        row = await duties.row(run)
        sources = {item["source"]: item["title"] for item in row.agenda}
        assert sources["topic"] == "修建村口路灯"
        assert "龙湾村河堤塌方" in {i["title"] for i in row.agenda if "issue" in i["source"]}
        assert any(i["ref"] == waiting.id.removeprefix("deliberation-") for i in row.agenda)
        assert issue.id.removeprefix("issue-") in {i["ref"] for i in row.agenda}

        council = duties.council_handle(s.deliberation_id)
        d: DeliberationState = await Desk(h).state(council)
        assert d.d.kind is Kind.VILLAGE_COUNCIL
        assert d.d.meeting_at == local(saturday, 9)
        assert local(saturday, 9) <= d.d.opened_at < local(saturday, 9, 1)
        for expected in ("龙湾村河堤塌方", "修建村口路灯", "村道硬化选线"):
            assert expected in d.d.description
        with Session(h.engine) as session:
            assert session.get(TopicProposal, topic.id).taken_up_by == s.deliberation_id  # type: ignore[union-attr]


async def test_a_missed_disclosure_alerts_the_township_and_reminds_each_working_day(
    env: WorkflowEnvironment, make_harness: Any
) -> None:
    monday = quiet_monday((await env.get_current_time()).astimezone(TZ), weeks=2)
    async with make_harness(calendar=calendar_with([], [])) as h:
        duties = DutyDesk(h)
        run = await duties.start(DutyKind.DISCLOSURE_MONTHLY, VILLAGE, local(monday, 18))
        await h.sleep_until(local(monday, 18, 5))
        s = await duties.state(run)
        assert s.status is DutyStatus.OVERDUE
        alerts = await duties.notified(run.id, "duty_missed", 1)
        assert {(r.target_kind, r.target_code) for r in alerts} >= {
            ("unit", TOWNSHIP),
            ("unit", VILLAGE),
            ("supervisors", TOWNSHIP),
        }

        # Reminded Tuesday to Friday at 09:00; nothing over the weekend.
        await h.sleep_until(local(monday + 6 * DAY, 12))
        s = await duties.state(run)
        assert s.reminders == 4 and s.next_reminder == local(monday + 7 * DAY, 9)
        reminders = await duties.notified(run.id, "duty_reminder", 4)
        assert {r.target_code for r in reminders} >= {VILLAGE}

        assert s.plan is not None
        with Session(h.engine) as session:
            session.add(
                DisclosurePublication(
                    unit_code=VILLAGE,
                    period=s.plan.period,
                    published_at=await h.now(),
                    published_by=f"village-{VILLAGE}",
                )
            )
            session.commit()
        # The next working morning looks again, finds it published, and stops.
        await h.sleep_until(local(monday + 7 * DAY, 9, 5))
        s = await duties.state(run)
        assert (s.status, s.outcome, s.reminders) == (DutyStatus.DONE, DutyOutcome.LATE, 4)
        row = await duties.row(run)
        assert (row.on_time, row.reminders) == (False, 4)


async def test_published_before_the_deadline_is_on_time_at_once(
    env: WorkflowEnvironment, make_harness: Any
) -> None:
    monday = quiet_monday((await env.get_current_time()).astimezone(TZ), weeks=1)
    async with make_harness(calendar=calendar_with([], [])) as h:
        duties = DutyDesk(h)
        run = await duties.start(DutyKind.DISCLOSURE_QUARTERLY, OTHER, local(monday, 18))
        await h.sleep_until(local(monday, 10))
        await run.signal(SIGNAL_FULFILLED, Fulfilment(await h.now(), _clerk(OTHER), "1"))
        row = await duties.row(run)
        assert (row.status, row.outcome, row.on_time) == ("done", "on_time", True)
        assert not duties.notices(run.id, "duty_missed")


async def test_a_grid_without_a_check_in_reminds_its_village_the_next_morning(
    env: WorkflowEnvironment, make_harness: Any, tmp_path: Path
) -> None:
    monday = quiet_monday((await env.get_current_time()).astimezone(TZ), weeks=1)
    async with make_harness(calendar=calendar_with([], [])) as h:
        _load_grid(h.engine, tmp_path)
        with Session(h.engine) as session:
            session.add(
                PatrolCheckin(
                    grid_code=GRID,
                    village_code=OTHER,
                    day=monday,
                    started_at=local(monday, 8),
                    ended_at=local(monday, 9),
                    found="河道有垃圾",
                    checked_in_by="pianzhang",
                    created_at=local(monday, 9),
                )
            )
            session.commit()
        duties = DutyDesk(h)
        patrolled = await duties.start(DutyKind.PATROL, GRID, local(monday + DAY, 8, 30))
        missed = await duties.start(DutyKind.PATROL, GRID, local(monday + 2 * DAY, 8, 30))
        await h.sleep_until(local(monday + 2 * DAY, 9))
        assert (await duties.row(patrolled)).outcome == "on_time"
        assert (await duties.row(missed)).outcome == "missed"
        alerts = await duties.notified(missed.id, "duty_missed", 1)
        assert {r.target_code for r in alerts} == {OTHER}
        assert not duties.notices(patrolled.id, "duty_missed")


async def test_the_joint_meeting_report_is_kept_as_html_and_pdf_and_sent_to_the_townships(
    env: WorkflowEnvironment, make_harness: Any
) -> None:
    monday = quiet_monday((await env.get_current_time()).astimezone(TZ), weeks=1)
    async with make_harness(calendar=calendar_with([], [])) as h:
        duties = DutyDesk(h)
        run = await duties.start(DutyKind.JOINT_MEETING, COUNTY, local(monday, 9))
        await h.sleep_until(local(monday, 9, 5))
        row = await duties.row(run)
        assert row.outcome == "held" and row.document_id is not None
        with Session(h.engine) as session:
            doc = session.get(DutyDocument, row.document_id)
            assert doc is not None
            assert doc.pdf.startswith(b"%PDF") and "联席会议" in doc.html
            assert "各单位办理情况" in doc.html
        sent = await duties.notified(run.id, "duty_report", 1)
        assert {COUNTY, TOWNSHIP} <= {r.target_code for r in sent}


async def test_a_month_of_every_duty_runs(
    env: WorkflowEnvironment, make_harness: Any, tmp_path: Path
) -> None:
    now = (await env.get_current_time()).astimezone(TZ)
    first = date(now.year + (now.month == 12), now.month % 12 + 1, 1)
    start = datetime(first.year, first.month, 1, tzinfo=TZ)
    end = datetime(first.year + (first.month == 12), first.month % 12 + 1, 1, tzinfo=TZ)
    async with make_harness() as h:
        _load_grid(h.engine, tmp_path)
        duties = DutyDesk(h)
        runs = []
        for kind, unit in (
            (DutyKind.VILLAGE_COUNCIL, OTHER),
            (DutyKind.DISCLOSURE_MONTHLY, OTHER),
            (DutyKind.REPRESENTATIVES_MEETING, OTHER),
            (DutyKind.JOINT_MEETING, COUNTY),
            (DutyKind.PATROL, GRID),
        ):
            for nominal in fires_between(kind, start, end):
                runs.append((kind, await duties.start(kind, unit, nominal)))
        kinds = [k for k, _ in runs]
        assert kinds.count(DutyKind.PATROL) == (end - start).days
        assert kinds.count(DutyKind.VILLAGE_COUNCIL) == 1
        await h.sleep_until(end + 3 * DAY)
        for kind, run in runs:
            s = await duties.state(run)
            assert s.plan is not None and s.nominal is not None
            assert s.plan.due >= s.nominal, (kind, s.plan)
            if kind is DutyKind.PATROL:
                assert s.outcome in (DutyOutcome.MISSED, DutyOutcome.ON_TIME), kind
            elif kind is DutyKind.DISCLOSURE_MONTHLY:
                assert s.status is DutyStatus.OVERDUE and s.reminders >= 1
            else:
                assert s.outcome is DutyOutcome.HELD, kind
            if kind is DutyKind.VILLAGE_COUNCIL:
                assert s.deliberation_id is not None
                duties.council_handle(s.deliberation_id)
