"""What the dashboard's 值班职责 view and a duty run's page read: ``GET /duties/overview`` (on-time
shares per township, then per village of a chosen township with its grids' patrols rolled in;
each village's 村务公开 for the current month and quarter; patrol coverage yesterday and this
week; the meetings coming up) and ``GET /duties/runs/{id}`` (labels, agenda, report links,
events); a duty's notice links to its page, which the app serves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine
from sqlmodel import Session

from activities.deadlines import build_calendar
from activities.notify import _link
from domain.duties.calendar import cycle_nominal, plan
from domain.duties.models import DutyKind
from settings import Settings
from store.duty_tables import (
    DisclosurePublication,
    DutyDocument,
    DutyEventRow,
    DutyRun,
    PatrolCheckin,
)
from store.units_import import import_units
from tests.api.conftest import Api

COUNTY = "611025"
TOWNSHIP = "611025106"  # 西口回族镇: no other duty test's
BEHIND = "611025106202"  # 石景村: its monthly 村务公开 is overdue and reminded
AHEAD = "611025106205"  # 长发村: published its quarter on time; a grid patrolled yesterday
GRID = "611025106205001"
SUFFIX = datetime.now(UTC).strftime("%H%M%S%f")
SEEDED: dict[str, str] = {}


def _path(*codes: str) -> str:
    return "/" + "/".join((COUNTY, TOWNSHIP, *codes)) + "/"


def _run(kind: DutyKind, unit: str, path: str, **fields: Any) -> DutyRun:
    values: dict[str, Any] = {
        "id": f"duty-{kind.value}-{unit}-{SUFFIX}",
        "kind": kind.value,
        "unit_code": unit,
        "unit_path": path,
        "status": "done",
        "updated_at": datetime.now(UTC),
        "due_at": datetime.now(UTC) - timedelta(days=1),
    }
    return DutyRun(**(values | fields))


def _seed(engine: Engine, settings: Settings, where: Path) -> dict[str, str]:
    """The township's runs, once for the session (its database outlives one test)."""
    if SEEDED:
        return SEEDED
    grids = where / "grids.json"
    grid = {"code": GRID, "name": "长发一片区", "kind": "grid", "parent": AHEAD}
    grids.write_text(json.dumps({"units": [grid]}), encoding="utf-8")
    import_units(engine, grids)
    cal = build_calendar(settings)
    local = cal.to_local(datetime.now(UTC))
    month = plan(
        cal, DutyKind.DISCLOSURE_MONTHLY, cycle_nominal(DutyKind.DISCLOSURE_MONTHLY, local)
    )
    quarter = plan(
        cal, DutyKind.DISCLOSURE_QUARTERLY, cycle_nominal(DutyKind.DISCLOSURE_QUARTERLY, local)
    )
    council = _run(
        DutyKind.VILLAGE_COUNCIL,
        BEHIND,
        _path(BEHIND),
        outcome="held",
        on_time=True,
        period="2026-03",
        deliberation_id=f"council-{BEHIND}-2026-03",
        agenda=[
            {"source": "hard_issue", "ref": "abc", "title": "村道塌方"},
            {"source": "topic", "ref": "7", "title": "修建文化广场"},
        ],
    )
    meeting = _run(
        DutyKind.REPRESENTATIVES_MEETING,
        AHEAD,
        _path(AHEAD),
        outcome="held",
        on_time=True,
        period="2026-Q1",
        document_id=f"doc-{SUFFIX}",
    )
    behind = _run(
        DutyKind.DISCLOSURE_MONTHLY,
        BEHIND,
        _path(BEHIND),
        status="overdue",
        period=month.period,
        due_at=month.due,
        reminders=2,
    )
    missed = _run(DutyKind.PATROL, GRID, _path(AHEAD, GRID), outcome="missed", on_time=False)
    yesterday = local.replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(days=1)
    with Session(engine) as session:
        session.add_all([council, meeting, behind, missed])
        session.flush()
        session.add_all(
            [
                DutyEventRow(duty_id=behind.id, seq=1, type="planned", at=month.due, data={}),
                DutyEventRow(duty_id=behind.id, seq=2, type="missed", at=month.due, data={}),
                DutyEventRow(
                    duty_id=behind.id, seq=3, type="reminded", at=month.due, data={"count": 2}
                ),
                DisclosurePublication(
                    unit_code=AHEAD,
                    period=quarter.period,
                    published_at=quarter.due - timedelta(days=1),
                    published_by=f"village-{AHEAD}",
                ),
                PatrolCheckin(
                    grid_code=GRID,
                    village_code=AHEAD,
                    day=yesterday.date(),
                    started_at=yesterday,
                    ended_at=yesterday + timedelta(hours=1),
                    checked_in_by=f"village-{AHEAD}",
                    created_at=yesterday,
                ),
                DutyDocument(
                    id=f"doc-{SUFFIX}",
                    duty_id=meeting.id,
                    kind="representatives_meeting",
                    unit_code=AHEAD,
                    period="2026-Q1",
                    title="长发村2026-Q1村民代表会议报告",
                    html="<h1>报告</h1>",
                    pdf=b"%PDF-1.4",
                    created_at=datetime.now(UTC),
                ),
            ]
        )
        ids = {"council": council.id, "meeting": meeting.id, "behind": behind.id}
        session.commit()
    SEEDED.update(ids, month=month.period, quarter=quarter.period)
    return SEEDED


async def test_the_overview_rolls_up_by_township_then_village(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    made = _seed(api.engine, settings, tmp_path)
    county = await api.get("/duties/overview", as_user="county-supervisor")
    assert county.status_code == 200, county.text
    body = county.json()
    assert body["unit"]["code"] == COUNTY
    assert {k["kind"] for k in body["kinds"]} == {k.value for k in DutyKind}
    rows = {r["unit"]["code"]: r for r in body["rows"]}
    assert rows[TOWNSHIP]["unit_kind"] == "township"
    council = {d["kind"]: d for d in rows[TOWNSHIP]["duties"]}
    assert council["village_council"]["on_time"] >= 1 and council["patrol"]["late"] >= 1

    township = (
        await api.get("/duties/overview", as_user="county-supervisor", unit=TOWNSHIP)
    ).json()
    villages = {r["unit"]["code"]: {d["kind"]: d for d in r["duties"]} for r in township["rows"]}
    assert set(villages) == {BEHIND, AHEAD}  # the grid's patrol rolled into its village
    assert villages[AHEAD]["patrol"]["share"] == 0.0
    assert villages[BEHIND]["disclosure_monthly"]["open"] == 1

    disclosures = {d["village"]["code"]: d for d in township["disclosures"]}
    assert len(disclosures) == 10  # every village of the township
    behind = disclosures[BEHIND]["monthly"]
    assert (behind["period"], behind["status"], behind["reminders"]) == (
        made["month"],
        "overdue",
        2,
    )
    assert behind["duty_id"] == made["behind"] and behind["status_label"] == "逾期未公开，督促中"
    ahead = disclosures[AHEAD]["quarterly"]
    assert (ahead["period"], ahead["status"]) == (made["quarter"], "published")
    assert disclosures[AHEAD]["township"]["code"] == TOWNSHIP
    # A village no run tracked for a period already due is not overdue: nobody chased it (a
    # period before the county started, or its schedule paused); it says so.
    now = datetime.now(UTC)
    for code, d in disclosures.items():
        if code in (AHEAD, BEHIND):
            continue
        for cell in (d["monthly"], d["quarterly"]):
            due = datetime.fromisoformat(cell["due"])
            assert cell["status"] == ("untracked" if due <= now else "pending"), (code, cell)
            assert cell["duty_id"] is None
    assert disclosures[AHEAD]["monthly"]["status"] in ("untracked", "pending")

    patrols = {p["village"]["code"]: p for p in township["patrols"]}
    assert patrols[AHEAD]["grids"] == 1 and patrols[AHEAD]["yesterday"] == 1
    assert 1 <= patrols[AHEAD]["week_patrolled"] <= patrols[AHEAD]["week_due"] <= 7

    upcoming = {m["kind"]: m for m in township["upcoming"]}
    assert upcoming["village_council"]["units"] == 10
    assert upcoming["representatives_meeting"]["units"] == 10
    assert "joint_meeting" not in upcoming  # the county's, outside a township
    assert "joint_meeting" in {m["kind"] for m in body["upcoming"]}

    # A village reads its own; staff of another township cannot read this one.
    own = await api.get("/duties/overview", as_user=f"village-{AHEAD}")
    assert own.status_code == 200 and own.json()["unit"]["code"] == AHEAD
    other = await api.get("/duties/overview", as_user="township-611025101", unit=TOWNSHIP)
    assert other.status_code == 403 and other.json()["field"] == "unit"


async def test_a_runs_page_says_what_it_is_with_its_agenda_report_and_events(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    made = _seed(api.engine, settings, tmp_path)
    council = (await api.get(f"/duties/runs/{made['council']}", as_user="county-supervisor")).json()
    assert (council["kind_label"], council["unit"]["name"]) == ("村民议事会", "石景村委会")
    assert council["description"].startswith("每月村民议事会")
    assert council["deliberation_id"] == f"council-{BEHIND}-2026-03"
    assert [a["source_label"] for a in council["agenda"]] == ["疑难事项", "村民提议"]

    meeting = (await api.get(f"/duties/runs/{made['meeting']}", as_user=f"village-{AHEAD}")).json()
    doc = meeting["document"]
    assert doc["html"].endswith("?format=html") and doc["pdf"].endswith("?format=pdf")
    pdf = await api.get(doc["pdf"].removeprefix("/api/v1"), as_user=f"village-{AHEAD}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    behind = (await api.get(f"/duties/runs/{made['behind']}", as_user="county-supervisor")).json()
    assert (behind["status_label"], behind["reminders"]) == ("逾期督促中", 2)
    assert [e["label"] for e in behind["events"]] == ["排定日期", "逾期未完成", "督促提醒"]
    assert behind["events"][0]["actor"]["name"] == "系统"

    hidden = await api.get(f"/duties/runs/{made['behind']}", as_user=f"village-{AHEAD}")
    assert hidden.status_code == 404
    missing = await api.get("/duties/runs/duty-nothing", as_user="county-supervisor")
    assert missing.status_code == 404


async def test_a_duty_notice_links_to_the_duty_page_which_is_served(
    api: Api, settings: Settings
) -> None:
    duty_id = "duty-village-disclosure-monthly-611025106202-2026-03-10T10:00:00Z"
    link = _link(settings, duty_id, "duty_reminder")
    path = urlsplit(link).path
    assert path.startswith("/dashboard/duties/") and unquote(path.rsplit("/", 1)[1]) == duty_id
    assert "/dashboard/issues/" in _link(settings, "a" * 32, "overdue")
    assert "/dashboard/deliberations/" in _link(settings, "d1", "deliberation_opened")
    page = await api.http.get(f"http://testserver{path}")
    assert page.status_code == 200 and "值班职责" in page.text
