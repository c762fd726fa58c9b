"""The division importer, ladders and subtrees on the real 镇安县 and Shaanxi trees."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import col, select

from domain.models import UnitKind
from settings import ROOT
from store.db import session_scope
from store.tables import Issue, Unit
from store.units_import import UnitNotFound, import_units, ladder, subtree_prefix

ZHENAN = ROOT / "data" / "divisions-611025-zhenan.json"
SHAANXI = ROOT / "data" / "divisions-61-shaanxi.json.gz"  # all Shaanxi, shipped gzipped
VILLAGE = "611025101001"  # 回龙社区, under 回龙镇
TOWNSHIP = "611025101"


def _kinds(engine: Engine) -> Counter[str]:
    with session_scope(engine) as session:
        return Counter(session.exec(select(Unit.kind)).all())


def test_zhenan_tree_has_one_county_18_townships_and_159_villages(db_engine: Engine) -> None:
    report = import_units(db_engine, ZHENAN)

    assert report.inserted == report.units == 178
    assert _kinds(db_engine) == {"county": 1, "township": 18, "village": 159}
    with session_scope(db_engine) as session:
        townships = session.exec(select(Unit).where(Unit.kind == "township")).all()
    forestry = sorted(u.code for u in townships if u.code[6] == "4")
    assert forestry == ["611025400", "611025401", "611025402"]
    assert len(townships) - len(forestry) == 15


def test_importing_again_changes_nothing(db_engine: Engine) -> None:
    import_units(db_engine, ZHENAN)

    again = import_units(db_engine, ZHENAN)

    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 178)


def test_paths_and_depths_are_materialised(db_engine: Engine) -> None:
    import_units(db_engine, ZHENAN)

    with session_scope(db_engine) as session:
        village = session.get(Unit, VILLAGE)
        assert village is not None
        assert (village.path, village.depth, village.parent_code) == (
            f"/611025/{TOWNSHIP}/{VILLAGE}/",
            2,
            TOWNSHIP,
        )
        prefix = subtree_prefix(session, TOWNSHIP)
        in_subtree = session.exec(
            select(func.count()).where(col(Unit.path).like(f"{prefix}%"))
        ).one()
        children = session.exec(select(func.count()).where(Unit.parent_code == TOWNSHIP)).one()
    assert prefix == f"/611025/{TOWNSHIP}/"
    assert in_subtree == children + 1


def test_ladder_of_a_village_is_village_township_county(db_engine: Engine) -> None:
    import_units(db_engine, ZHENAN)

    with session_scope(db_engine) as session:
        rungs = ladder(session, VILLAGE)
        county_only = ladder(session, "611025")

    assert [(r.code, r.kind) for r in rungs] == [
        (VILLAGE, UnitKind.VILLAGE),
        (TOWNSHIP, UnitKind.TOWNSHIP),
        ("611025", UnitKind.COUNTY),
    ]
    assert [r.name for r in rungs] == ["回龙社区", "回龙镇", "镇安县"]
    assert [r.code for r in county_only] == ["611025"]


def test_ladder_and_subtree_of_an_unknown_unit_raise(db_engine: Engine) -> None:
    import_units(db_engine, ZHENAN)

    with session_scope(db_engine) as session:
        with pytest.raises(UnitNotFound, match="999"):
            ladder(session, "999")
        with pytest.raises(UnitNotFound, match="999"):
            subtree_prefix(session, "999")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ladder_stops_at_the_county_below_city_and_province(db_engine: Engine) -> None:
    report = import_units(db_engine, SHAANXI, county="611025")

    assert report.by_kind == {"province": 1, "city": 1, "county": 1, "township": 18, "village": 159}
    with session_scope(db_engine) as session:
        assert [r.code for r in ladder(session, VILLAGE)] == [VILLAGE, TOWNSHIP, "611025"]
        assert subtree_prefix(session, "611025") == "/61/6110/611025/"
        with pytest.raises(ValueError, match="no county"):
            ladder(session, "6110")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_county_file_keeps_the_parents_a_province_file_gave(db_engine: Engine) -> None:
    import_units(db_engine, SHAANXI, county="611025")

    report = import_units(db_engine, ZHENAN)

    assert report.updated == 0
    with session_scope(db_engine) as session:
        assert subtree_prefix(session, VILLAGE) == f"/61/6110/611025/{TOWNSHIP}/{VILLAGE}/"


def test_a_county_moved_under_its_city_carries_its_subtree(
    db_engine: Engine, tmp_path: Path
) -> None:
    import_units(db_engine, ZHENAN)
    grid = {"code": f"{VILLAGE}01", "name": "一组", "kind": "grid", "parent": VILLAGE}
    import_units(db_engine, _write(tmp_path, [grid]))  # a county's own grids, not in NBS files
    with session_scope(db_engine) as session:
        session.add(_issue_at(f"/611025/{TOWNSHIP}/{VILLAGE}/"))

    report = import_units(db_engine, SHAANXI, county="611025")

    assert report.inserted == 2 and report.updated == 178
    with session_scope(db_engine) as session:
        village = session.get(Unit, VILLAGE)
        grid_unit = session.get(Unit, grid["code"])
        issue = session.exec(select(Issue)).one()
    moved = f"/61/6110/611025/{TOWNSHIP}/{VILLAGE}/"
    assert village is not None and grid_unit is not None
    assert (village.path, village.depth) == (moved, 4)
    assert (grid_unit.path, grid_unit.depth) == (f"{moved}{grid['code']}/", 5)
    assert issue.unit_path == issue.registered_unit_path == moved


def _issue_at(unit_path: str) -> Issue:
    now = datetime(2025, 5, 6, tzinfo=UTC)
    return Issue(
        id="i",
        tracking_code="t",
        category="other",
        title="t",
        description="d",
        urgency="normal",
        channel="walk_in",
        unit_code=VILLAGE,
        unit_path=unit_path,
        registered_unit_path=unit_path,
        level="village",
        status="in_progress",
        registered_at=now,
        updated_at=now,
    )


def test_the_whole_province_imports_in_seconds(db_engine: Engine) -> None:
    started = time.monotonic()
    report = import_units(db_engine, SHAANXI)
    elapsed = time.monotonic() - started

    assert report.units == report.inserted == 21_809
    assert _kinds(db_engine) == {
        "province": 1,
        "city": 10,
        "county": 107,
        "township": 1335,
        "village": 20356,
    }
    assert elapsed < 15, f"import took {elapsed:.1f} s"


def _write(tmp_path: Path, units: list[dict[str, object]]) -> Path:
    path = tmp_path / "units.json"
    path.write_text(json.dumps({"units": units}, ensure_ascii=False), encoding="utf-8")
    return path


COUNTY = {"code": "611025", "name": "镇安县", "kind": "county", "parent": None}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("units", "message"),
    [
        (
            [COUNTY, {"code": "611025", "name": "again", "kind": "county", "parent": None}],
            "duplicate unit code 611025",
        ),
        (
            [COUNTY, {"code": "611025101", "name": "x", "kind": "hamlet", "parent": "611025"}],
            "unit 611025101: unknown kind",
        ),
        (
            [COUNTY, {"code": "611025101", "name": "x", "kind": "township", "parent": "6199"}],
            "unit 611025101: unknown parent 6199",
        ),
        (
            [COUNTY, {"code": "611025101001", "name": "x", "kind": "village", "parent": "611025"}],
            "unit 611025101001: a village cannot sit under a county",
        ),
        (
            [
                {"code": "a", "name": "a", "kind": "village", "parent": "b"},
                {"code": "b", "name": "b", "kind": "village", "parent": "a"},
            ],
            "unit [ab]: ",
        ),
    ],
)
def test_bad_files_are_refused_naming_the_code(
    db_engine: Engine, tmp_path: Path, units: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        import_units(db_engine, _write(tmp_path, units))

    assert _kinds(db_engine) == {}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_unknown_county_is_refused(db_engine: Engine) -> None:
    with pytest.raises(ValueError, match="county 611099"):
        import_units(db_engine, ZHENAN, county="611099")
