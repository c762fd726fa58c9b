"""The dashboard's 值班职责 view and a duty run's page in Debian's Chromium, over the dashboard
test's stack.

Real duty runs on the time-skipping server: 石景村's monthly 村务公开 is missed and reminded, the
county's 联席会议 sends its report (HTML and PDF), the village's 村民议事会 opens with its agenda; a
片长 checks in a grid of 长发村 yesterday over HTTP. The county supervisor opens the view (township
rows, then the township's villages), follows the link the missed disclosure's notice carries to
the run's page, opens the meeting's report as HTML and PDF, and the council's page. Screenshots go
to ``test-artifacts/``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, select

from activities.dispatch import Dispatcher
from activities.notify import delivery_of
from domain.duties.models import DutyKind
from domain.duties.schedules import schedule_id, wanted
from store.duty_tables import DutyRun
from store.tables import Notification
from store.units_import import import_units
from tests.dashboard.test_dashboard_browser import (
    ARTIFACTS,
    Stack,
    _chromium,
    _sign_in,
    pytestmark,
    stack,
)
from workers.schedules import tree_units
from workflows.duty import WORKFLOW_NAME, action_id

__all__ = ["pytestmark", "stack"]  # the marks and the fixture, imported for pytest

COUNTY, TOWNSHIP = "611025", "611025106"  # 西口回族镇: no other browser test's
VILLAGE, PATROLLED = "611025106202", "611025106205"  # 石景村, 长发村
GRID = "611025106205001"


async def _start(stack: Stack, kind: DutyKind, unit: str, nominal: datetime) -> str:
    """A run as the unit's schedule would start it (the time-skipping server has no schedules)."""
    with Session(stack.engine) as session:
        sid = schedule_id(kind, unit)
        found = next(d for d in wanted(tree_units(session)) if d.schedule_id == sid)
    start = replace(found.start, schedule_id=None, nominal=nominal)
    run_id = f"{action_id(sid)}-{nominal:%Y-%m-%dT%H:%M:%SZ}"  # as Temporal names them
    queue = stack.settings.task_queue
    await stack.env.client.start_workflow(WORKFLOW_NAME, start, id=run_id, task_queue=queue)
    return run_id


def _run(stack: Stack, run_id: str) -> DutyRun | None:
    with Session(stack.engine) as session:
        return session.get(DutyRun, run_id)


async def _runs(stack: Stack, tmp: Path) -> dict[str, str]:
    grids = tmp / "grids.json"
    grid = {"code": GRID, "name": "长发一片区", "kind": "grid", "parent": PATROLLED}
    grids.write_text(json.dumps({"units": [grid]}), encoding="utf-8")
    import_units(stack.engine, grids)
    now = (await stack.env.get_current_time()).astimezone(UTC)
    runs = {
        "disclosure": await _start(
            stack, DutyKind.DISCLOSURE_MONTHLY, VILLAGE, now + timedelta(minutes=10)
        ),
        "joint": await _start(stack, DutyKind.JOINT_MEETING, COUNTY, now),
        "council": await _start(stack, DutyKind.VILLAGE_COUNCIL, VILLAGE, now),
    }
    # Past any weekend the due moves to, and a working day of reminders.
    await stack.env.sleep(timedelta(days=5))

    def settled() -> bool:
        disclosure, joint, council = (_run(stack, runs[k]) for k in runs)
        return bool(
            disclosure
            and disclosure.status == "overdue"
            and disclosure.reminders >= 1
            and joint
            and joint.document_id
            and council
            and council.status == "done"
        )

    await stack.until(settled, "the duties' runs recorded", seconds=60)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    checkin = {
        "grid": GRID,
        "started_at": yesterday.isoformat(),
        "ended_at": (yesterday + timedelta(hours=1)).isoformat(),
        "found": "河道有垃圾",
    }
    await stack.accounts.post("duties/patrol-checkins", checkin, f"village-{PATROLLED}")
    return runs


def _notice(stack: Stack, run_id: str) -> Notification | None:
    with Session(stack.engine) as session:
        return session.exec(
            select(Notification).where(
                Notification.issue_id == run_id, col(Notification.kind) == "duty_missed"
            )
        ).first()


async def _notice_link(stack: Stack, run_id: str) -> str:
    """The link the missed disclosure's notice carries out to a channel (the dispatcher a worker
    process runs beside it fans the outbox out; this stack's worker runs none)."""
    async with (
        httpx.AsyncClient(trust_env=False) as http,
        Dispatcher(stack.engine, http, stack.settings),
    ):
        await stack.until(lambda: _notice(stack, run_id) is not None, "the dispatched notice", 30)
    with Session(stack.engine) as session:
        row = _notice(stack, run_id)
        assert row is not None
        message, _ = delivery_of(session, row, stack.settings)
    assert message.link is not None
    return message.link


async def _cells(page: Any, table: str, key: str, code: str) -> list[str]:
    cells: list[str] = await page.locator(
        f"#{table} tr[data-{key}='{code}'] td"
    ).all_text_contents()
    return cells


async def _paused_meetings_say_so(page: Any) -> None:
    """A meeting some units' paused schedules keep from sitting says how many. (This stack has
    no schedules to pause: the answer is the real one with a count set; tests/duties pauses a
    real schedule and checks the count.)"""

    async def with_paused(route: Any) -> None:
        answer = await route.fetch()
        body = await answer.json()
        for meeting in body["upcoming"]:
            meeting["paused"] = 2 if meeting["kind"] == "village_council" else 0
        await route.fulfill(response=answer, json=body)

    await page.route("**/api/v1/duties/overview*", with_paused)
    try:
        await page.click("#views a[data-view='issues']")
        await page.click("#views a[data-view='duties']")
        hint = page.locator("#du-upcoming tr[data-kind='village_council'] .hint", has_text="暂停")
        await hint.wait_for()
        assert await hint.text_content() == "（另有 2 个单位日程已暂停）"
        await page.locator("#du-upcoming").screenshot(
            path=str(ARTIFACTS / "dashboard-duties-paused.png")
        )
    finally:
        await page.unroute("**/api/v1/duties/overview*", with_paused)


async def test_duties_view_and_a_duty_page_in_chromium(stack: Stack, tmp_path: Path) -> None:
    runs = await _runs(stack, tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    async with _chromium(stack.base) as (page, problems):
        await _sign_in(page, stack.base, "demo")
        await page.wait_for_selector("#app-view:not([hidden])")

        # The view: townships' rows with each duty's share, the county's own joint meeting.
        await page.click("#views a[data-view='duties']")
        assert page.url.endswith("/dashboard/duties")
        await page.wait_for_selector(f"#du-units tr[data-unit='{TOWNSHIP}']")
        assert await page.is_hidden("#issues-view") and await page.is_hidden("#filter-category")
        headers = await page.locator("#du-units thead th").all_text_contents()
        assert headers[:3] == ["单位", "村民议事会", "村民代表会议"]
        county = await _cells(page, "du-units", "unit", COUNTY)
        assert county[0].endswith("（本级）") and "100.0%" in county[3]  # 联席会议 held
        kpi = page.locator("#du-kpis .kpi[data-kind='village_council'] .kpi-value")
        assert await kpi.text_content() == "100.0%"
        assert "村民议事会" in (await page.text_content("#du-upcoming") or "")
        await page.screenshot(path=str(ARTIFACTS / "dashboard-duties.png"), full_page=True)
        await _paused_meetings_say_so(page)

        # A township's row opens its villages: 村务公开 overdue and reminded, patrols yesterday.
        await page.click(f"#du-units tr[data-unit='{TOWNSHIP}']")
        await page.wait_for_selector(f"#du-units tr[data-unit='{VILLAGE}']")
        assert await page.input_value("#filter-township") == TOWNSHIP
        disclosed = await _cells(page, "du-disclosures", "village", VILLAGE)
        assert "逾期未公开，督促中" in disclosed[2] and "已督促" in disclosed[2]
        # The badge counts the villages behind on either disclosure (a run chasing them).
        behind = await page.locator(
            "#du-disclosures tbody tr:has(td[data-status='overdue'])"
        ).count()
        assert await page.text_content("#du-disclosures-count") == str(behind) != "0"
        other = await _cells(page, "du-disclosures", "village", PATROLLED)
        assert "已督促" not in other[2]  # no run of its own is reminding it
        patrols = await _cells(page, "du-patrols", "village", PATROLLED)
        assert patrols[1:3] == ["1", "1/1"]

        # The notice's link opens the run's page: what it is, due, the reminders, its events.
        link = await _notice_link(stack, runs["disclosure"])
        assert "/dashboard/duties/" in link
        await page.goto(link)
        await page.wait_for_selector("#duty-modal:not([hidden]) #duty-events li")
        assert "村务公开（月度）" in (await page.text_content("#duty-title") or "")
        assert "逾期督促中" in (await page.text_content("#duty-detail .tags") or "")
        assert "截止前未登记公开" in (await page.text_content("#duty-description") or "")
        events = await page.locator("#duty-events li").all_text_contents()
        assert any("逾期未完成" in e for e in events) and any("督促提醒" in e for e in events)
        await page.locator("#duty-modal .modal-box").screenshot(
            path=str(ARTIFACTS / "dashboard-duty.png")
        )

        # The joint meeting's report, fetched with the reader's token: HTML opens, PDF saves.
        await page.goto(f"{stack.base}/dashboard/duties/{runs['joint']}")
        await page.wait_for_selector("#duty-modal:not([hidden]) #duty-document")
        async with page.expect_popup() as popup:
            await page.click("#duty-document-html")
        report = await popup.value
        await report.wait_for_load_state()
        assert "联席会议" in (await report.content())
        await report.close()
        async with page.expect_download() as download:
            await page.click("#duty-document-pdf")
        pdf = tmp_path / "report.pdf"
        await (await download.value).save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")

        # The council's page: its agenda and the deliberation it opened.
        await page.goto(f"{stack.base}/dashboard/duties/{runs['council']}")
        await page.wait_for_selector("#duty-modal:not([hidden]) .deliberation-link")
        await page.click("#duty-close")
        assert page.url.endswith("/dashboard/duties")

        assert problems == []
