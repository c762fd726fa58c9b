"""The units' side of duties over HTTP: a village records its 村务公开 (and a run waiting for it
stops at once, on time), a 片长 checks in a patrol, staff read on-time shares and patrol coverage
and a meeting's report; refusals name their field and change nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from domain.duties.models import DutyKind, DutyOutcome, DutyStart, DutyState
from domain.models import UnitKind, UnitRef
from settings import Settings
from store.duty_tables import DisclosurePublication, DutyDocument, DutyRun, PatrolCheckin
from store.units_import import import_units
from tests.api.conftest import Api, problem
from workflows.duty import WORKFLOW_NAME

VILLAGE = "611025103224"  # 龙池村
TOWNSHIP = "611025103"
GRID = "611025103224001"


def _grid(engine: Engine, where: Path) -> None:
    file = where / "grid.json"
    grid = {"code": GRID, "name": "龙池一片区", "kind": "grid", "parent": VILLAGE}
    file.write_text(json.dumps({"units": [grid]}), encoding="utf-8")
    import_units(engine, file)


async def test_a_publication_stops_the_run_waiting_for_it_on_time(
    api: Api, settings: Settings
) -> None:
    now = (await api.env.get_current_time()).astimezone(UTC)
    start = DutyStart(
        kind=DutyKind.DISCLOSURE_QUARTERLY,
        unit=UnitRef(VILLAGE, "龙池村委会", UnitKind.VILLAGE),
        parent=UnitRef(TOWNSHIP, "镇", UnitKind.TOWNSHIP),
        nominal=now + timedelta(days=3),
    )
    handle = await api.env.client.start_workflow(
        WORKFLOW_NAME, start, id=f"duty-test-{VILLAGE}", task_queue=settings.task_queue
    )
    for _ in range(200):
        with Session(api.engine) as session:
            row = session.get(DutyRun, handle.id)
            if row is not None and row.status == "waiting":
                break
        await asyncio.sleep(0.05)
    assert row is not None and row.period is not None

    body = {"unit": VILLAGE, "period": row.period, "note": "公开栏已张贴"}
    r = await api.http.post(
        "/duties/publications", json=body, headers=await api.headers(f"village-{VILLAGE}")
    )
    assert r.status_code == 201, r.text
    final: DutyState = await api.env.client.get_workflow_handle(
        handle.id, result_type=DutyState
    ).result()
    assert final.outcome is DutyOutcome.ON_TIME

    again = await api.http.post(
        "/duties/publications", json=body, headers=await api.headers(f"village-{VILLAGE}")
    )
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]


async def test_refusals_name_their_field_and_change_nothing(api: Api) -> None:
    other = await api.headers("village-611025103217")
    r = await api.http.post(
        "/duties/publications", json={"unit": VILLAGE, "period": "2026-01"}, headers=other
    )
    assert problem(r, 403)["field"] == "unit"
    mine = await api.headers(f"village-{VILLAGE}")
    r = await api.http.post(
        "/duties/publications", json={"unit": VILLAGE, "period": "2026-13"}, headers=mine
    )
    problem(r, 422)
    with Session(api.engine) as session:
        assert not session.exec(
            select(DisclosurePublication).where(DisclosurePublication.period == "2026-01")
        ).all()


async def test_a_patrol_check_in_and_the_figures(api: Api, tmp_path: Path) -> None:
    _grid(api.engine, tmp_path)
    mine = await api.headers(f"village-{VILLAGE}")
    started = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    body = {
        "grid": GRID,
        "started_at": started.isoformat(),
        "ended_at": started.isoformat(),
        "found": "河道垃圾",
    }
    assert (
        problem(await api.http.post("/duties/patrol-checkins", json=body, headers=mine), 422)[
            "field"
        ]
        == "ended_at"
    )
    body["ended_at"] = (started + timedelta(hours=1)).isoformat()
    r = await api.http.post("/duties/patrol-checkins", json=body, headers=mine)
    assert r.status_code == 201, r.text
    with Session(api.engine) as session:
        assert session.get(PatrolCheckin, r.json()["id"]) is not None
        for day, on_time in ((2, True), (3, False)):
            session.add(
                DutyRun(
                    id=f"duty-grid-patrol-{GRID}-{day}",
                    kind="patrol",
                    unit_code=GRID,
                    unit_path=f"/611025/{TOWNSHIP}/{VILLAGE}/{GRID}/",
                    period=f"2026-03-0{day}",
                    due_at=datetime(2026, 3, day + 1, 0, 30, tzinfo=UTC),
                    status="done",
                    outcome="on_time" if on_time else "missed",
                    on_time=on_time,
                    updated_at=datetime(2026, 3, day + 1, tzinfo=UTC),
                )
            )
        session.add(
            DutyDocument(
                id="doc-test",
                duty_id="x",
                kind="representatives_meeting",
                unit_code=VILLAGE,
                period="2026-Q1",
                title="报告",
                html="<h1>报告</h1>",
                pdf=b"%PDF-1.4",
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    figures = await api.get("/duties/stats", as_user=f"township-{TOWNSHIP}")
    assert figures.status_code == 200, figures.text
    shares = {(d["kind"], d["unit"]): d for d in figures.json()["duties"]}
    assert shares[("patrol", GRID)]["share"] == 0.5
    coverage = {c["village"]: c for c in figures.json()["patrol_coverage"]}
    assert coverage[VILLAGE]["days_due"] == 2 and coverage[VILLAGE]["coverage"] == 0.5
    assert (
        await api.get("/duties/stats", as_user="village-611025103217", unit=VILLAGE)
    ).status_code == 403
    # /stats carries the same shares beside the issues' figures.
    unit_stats = await api.get("/stats", as_user=f"township-{TOWNSHIP}", unit=VILLAGE)
    assert unit_stats.status_code == 200, unit_stats.text
    in_stats = {(d["kind"], d["unit"]): d["share"] for d in unit_stats.json()["duties"]}
    assert in_stats[("patrol", None)] == 0.5 and in_stats[("patrol", GRID)] == 0.5
    pdf = await api.get("/duties/documents/doc-test", as_user=f"township-{TOWNSHIP}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    hidden = await api.get("/duties/documents/doc-test", as_user="village-611025103217")
    assert hidden.status_code == 404


async def test_the_openapi_documents_a_repeated_publication(api: Api) -> None:
    """The same period again answers 200 with the first record: the document says so (the
    fuzzer's stateful phase found the answer undocumented)."""
    doc = (await api.http.get("/openapi.json")).json()
    answers = doc["paths"]["/api/v1/duties/publications"]["post"]["responses"]
    assert {"200", "201"} <= answers.keys()
    assert (
        answers["200"]["content"]["application/json"]["schema"]
        == (answers["201"]["content"]["application/json"]["schema"])
    )
