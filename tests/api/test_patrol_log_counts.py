"""One patrol log: a grid worker's entry from the phone pages (``POST /patrols``, what the field
page's offline queue sends) counts for the grid's patrol duty as a check-in does; an entry about
the village names no grid and leaves the grid's day unpatrolled. Both ways in keep answering."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, select

from domain.duties.models import DutyKind, DutyStart
from domain.models import UnitKind, UnitRef
from settings import Settings
from store.duty_tables import DutyEventRow, DutyRun
from store.units_import import import_units
from tests.api.admin_helpers import STRONG, bearer, token
from tests.api.conftest import Api
from workflows.duty import WORKFLOW_NAME

VILLAGE = "611025106001"  # 上河社区: no other test's grids
LOGGED, SILENT = "611025106001001", "611025106001002"
TZ = ZoneInfo("Asia/Shanghai")


def _grids(engine: Engine, where: Path) -> None:
    file = where / "grids.json"
    units = [
        {"code": code, "name": name, "kind": "grid", "parent": VILLAGE}
        for code, name in ((LOGGED, "上河一片区"), (SILENT, "上河二片区"))
    ]
    file.write_text(json.dumps({"units": units}), encoding="utf-8")
    import_units(engine, file)


async def _grid_worker(api: Api) -> dict[str, str]:
    username = f"grid-{uuid.uuid4().hex[:6]}"
    user = {
        "username": username,
        "display_name": "上河一片区片长",
        "role": "clerk",
        "unit": LOGGED,
        "password": STRONG,
    }
    r = await api.http.post("/admin/users", json=user, headers=await api.headers("county-admin"))
    assert r.status_code == 201, r.text
    return bearer(await token(api.http, username))


async def _patrol_run(api: Api, settings: Settings, grid: str, nominal: datetime) -> DutyRun:
    """The grid's patrol duty run as its schedule would start it, once the read model has it done
    (the clock skipped an hour at a time: a weekend's patrol is looked at on Monday)."""
    start = DutyStart(
        kind=DutyKind.PATROL,
        unit=UnitRef(grid, "片区", UnitKind.GRID),
        parent=UnitRef(VILLAGE, "上河社区", UnitKind.VILLAGE),
        nominal=nominal,
    )
    run_id = f"duty-test-patrol-{grid}-{uuid.uuid4().hex[:6]}"
    await api.env.client.start_workflow(
        WORKFLOW_NAME, start, id=run_id, task_queue=settings.task_queue
    )
    for _ in range(24 * 5):
        with Session(api.engine) as session:
            row = session.get(DutyRun, run_id)
            if row is not None and row.status == "done":
                return row
        await api.env.sleep(timedelta(hours=1))
    raise AssertionError(f"{run_id} did not finish")


def _reference(api: Api, run: DutyRun) -> str | None:
    with Session(api.engine) as session:
        event = session.exec(
            select(DutyEventRow).where(
                DutyEventRow.duty_id == run.id, DutyEventRow.type == "fulfilled"
            )
        ).first()
    return event.data.get("reference") if event else None


async def test_a_phone_patrol_log_entry_counts_for_the_grid_patrol_duty(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    _grids(api.engine, tmp_path)
    worker = await _grid_worker(api)
    now = (await api.env.get_current_time()).astimezone(TZ)
    yesterday = (now - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    # As the field page sends its queue: no unit (the worker's own grid), an Idempotency-Key.
    entry = {
        "started_at": yesterday.astimezone(UTC).isoformat(),
        "recorded_at": yesterday.astimezone(UTC).isoformat(),
        "place": "上河一片区河堤",
        "note": "河道有垃圾",
    }
    headers = worker | {"Idempotency-Key": f"queue-{uuid.uuid4().hex}"}
    r = await api.http.post("/patrols", json=entry, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["unit"] == LOGGED
    logged_id = r.json()["id"]
    # The queue sends it again (the answer was lost): the first entry, answered 200 as documented.
    again = await api.http.post("/patrols", json=entry, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == logged_id, again.text
    documented = (await api.http.get("/openapi.json")).json()["paths"]["/api/v1/patrols"]
    assert {"200", "201"} <= documented["post"]["responses"].keys()
    # The village's clerk logs one about the village: it names no grid.
    village = await api.headers(f"village-{VILLAGE}")
    r = await api.http.post("/patrols", json=entry | {"unit": VILLAGE}, headers=village)
    assert r.status_code == 201, r.text

    # This morning's look at yesterday: the logged grid was patrolled, the other was not.
    nominal = now.replace(hour=8, minute=30, second=0, microsecond=0)
    logged = await _patrol_run(api, settings, LOGGED, nominal)
    assert (logged.outcome, logged.on_time) == ("on_time", True)
    assert _reference(api, logged) == f"log-{logged_id}"
    silent = await _patrol_run(api, settings, SILENT, nominal)
    assert (silent.outcome, silent.on_time) == ("missed", False)

    # The dashboard's coverage counts the same entry.
    overview = await api.get("/duties/overview", as_user=f"village-{VILLAGE}")
    assert overview.status_code == 200, overview.text
    coverage = {p["village"]["code"]: p for p in overview.json()["patrols"]}
    assert coverage[VILLAGE]["grids"] == 2
