"""Seeding: the county's tree, departments, categories and demo accounts, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pwdlib import PasswordHash
from sqlalchemy import Engine, func
from sqlmodel import select

from settings import Environment, Settings
from store.db import session_scope
from store.seed import DEMO_PASSWORD, seed
from store.tables import Category, Department, Issue, Unit, User


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"environment": Environment.TEST, "county": "611025"}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def _count(engine: Engine, model: type) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _issue() -> Issue:
    now = datetime(2025, 5, 6, 1, 0, tzinfo=UTC)
    return Issue(
        id="issue-1",
        tracking_code="ZA-0001",
        category="sanitation",
        title="t",
        description="d",
        urgency="normal",
        channel="walk_in",
        unit_code="611025101001",
        unit_path="/611025/611025101/611025101001/",
        registered_unit_path="/611025/611025101/611025101001/",
        level="village",
        status="in_progress",
        registered_at=now,
        updated_at=now,
    )


def test_seeding_twice_changes_nothing_and_keeps_issues(db_engine: Engine) -> None:
    first = seed(db_engine, _settings())
    with session_scope(db_engine) as session:
        session.add(_issue())

    second = seed(db_engine, _settings())

    assert first.changed and not second.changed
    assert (first.units.inserted, first.departments_added, first.categories_added) == (178, 19, 16)
    assert first.users_added == 4 + 18 + 2 * 159 + 19  # villages: a clerk and a leader each
    assert (second.units.unchanged, second.users_added) == (178, 0)
    assert _count(db_engine, Unit) == 178
    assert _count(db_engine, User) == first.users_added
    assert _count(db_engine, Issue) == 1


def test_demo_accounts_cover_every_unit_and_department(db_engine: Engine) -> None:
    seed(db_engine, _settings())

    with session_scope(db_engine) as session:
        users = {u.username: u for u in session.exec(select(User))}
        departments = session.exec(select(Department)).all()
        townships = session.exec(select(Unit.code).where(Unit.kind == "township")).all()
        villages = session.exec(select(Unit.code).where(Unit.kind == "village")).all()

    assert users["county-admin"].role == "admin"
    assert users["county-supervisor"].role == "supervisor"
    assert users["county-leader"].role == "leader"
    assert users["county-clerk"].role == "clerk"
    assert {users[n].unit_code for n in ("county-admin", "county-supervisor", "county-leader")} == {
        "611025"
    }
    assert all(users[f"township-{code}"].role == "leader" for code in townships)
    assert all(users[f"village-{code}"].role == "clerk" for code in villages)
    # The village's 书记/主任, to whom a deliberation submits what could not be agreed.
    leaders = [users[f"village-{code}-leader"] for code in villages]
    assert all(
        (u.role, u.unit_code) == ("leader", c) for u, c in zip(leaders, villages, strict=True)
    )
    assert users["village-611025101001"].unit_code == "611025101001"
    assert users["township-611025400"].role == "leader"  # forestry units count as townships
    for department in departments:
        account = users[f"dept-{department.code}"]
        assert (account.role, account.department_code) == ("department", department.code)
    # One hash for all: argon2 is slow, and the password is the documented "demo".
    assert len({u.password_hash for u in users.values()}) == 1
    assert PasswordHash.recommended().verify(DEMO_PASSWORD, users["county-admin"].password_hash)


def test_departments_and_categories_are_the_countys(db_engine: Engine) -> None:
    seed(db_engine, _settings())

    with session_scope(db_engine) as session:
        departments = {d.code: d for d in session.exec(select(Department))}
        categories = {c.code: c for c in session.exec(select(Category))}

    zhujian = departments["zhenan-zhujian"]
    assert (zhujian.name, zhujian.short_name, zhujian.county_code) == (
        "镇安县住房和城乡建设局",
        "住建",
        "611025",
    )
    for code in (
        "neighbour_dispute",
        "land_forest_rights",
        "sanitation",
        "roads_infrastructure",
        "rural_drinking_water",
        "safety_geohazard",
        "social_security",
        "labour_dispute",
    ):
        assert categories[code].departments, code
    assert categories["rural_drinking_water"].departments == ["zhenan-shuili", "zhenan-weijian"]
    assert categories["safety_geohazard"].notify_departments
    assert all(d in departments for c in categories.values() for d in c.departments)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_demo_accounts_when_turned_off(db_engine: Engine) -> None:
    report = seed(db_engine, _settings(demo_accounts=False))

    assert report.users_added == 0 and not report.demo_accounts
    assert _count(db_engine, User) == 0
    assert _count(db_engine, Department) == 19
