"""``GET /categories``, registration by a category's Chinese name, and retired reference data: a
retired category is not listed and refused; a retired department is not listed under its
categories, hears no notice and cannot be whistled."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlmodel import Session, col, select

from activities.notify import Recipient, recipients
from domain.models import Notice
from store.tables import Category, Issue, Notification
from tests.api.conftest import VILLAGE, Api, problem

CLERK = f"village-{VILLAGE}"
# A village no other test registers at: its unit's notices are this module's alone.
QUIET_VILLAGE = "611025104201"


async def _reference(api: Api) -> tuple[str, str]:
    """A department of its own, and a category that calls it and a seeded one in at once."""
    admin = await api.headers("county-admin")
    department = f"cat-test-{uuid.uuid4().hex[:6]}"
    r = await api.http.post(
        "/admin/departments",
        json={"code": department, "name": "镇安县测试局", "short_name": "测试", "county": "611025"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    category = f"cat_{uuid.uuid4().hex[:6]}"
    r = await api.http.post(
        "/admin/categories",
        json={
            "code": category,
            "name": f"测试类别{category[-6:]}",
            "departments": [department, "zhenan-gongan"],
            "notify_departments": True,
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return department, category


async def _patch(api: Api, what: str, code: str, body: dict[str, Any]) -> None:
    r = await api.http.patch(
        f"/admin/{what}/{code}", json=body, headers=await api.headers("county-admin")
    )
    assert r.status_code == 200, r.text


async def _listed(api: Api, **params: Any) -> dict[str, dict[str, Any]]:
    r = await api.get("/categories", as_user=CLERK, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["data"])
    return {c["code"]: c for c in body["data"]}


async def test_the_categories_are_listed_with_their_names_and_departments(api: Api) -> None:
    assert problem(await api.http.get("/categories"), 401)
    listed = await _listed(api)
    sanitation = listed["sanitation"]
    assert sanitation["name"] == "环境卫生" and sanitation["active"] is True
    assert [d["short_name"] for d in sanitation["departments"]] == ["农业农村", "城管", "住建"]
    assert listed["rural_drinking_water"]["notify_departments"] is True
    # A department's machine client reads it too (the caller of "our own API").
    dept = await api.get("/categories", as_user="dept-zhenan-zhujian")
    assert dept.status_code == 200 and "sanitation" in {c["code"] for c in dept.json()["data"]}


async def test_the_categories_are_in_the_openapi_document(api: Api) -> None:
    document = (await api.http.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/categories"]["get"]
    assert operation["tags"] == ["categories"] and "include_retired" in str(operation)


async def test_an_issue_registers_under_the_chinese_name_and_holds_the_code(api: Api) -> None:
    created = await api.register(VILLAGE, category="环境卫生")
    detail = (await api.get(f"/issues/{created['id']}", as_user=CLERK)).json()
    assert detail["category"] == "sanitation"
    row = await api.settled(created["id"])
    assert row.category == "sanitation"
    # A retry naming the category the other way is the same request (one issue, one answer).
    key = uuid.uuid4().hex
    first = await api.register(VILLAGE, category="环境卫生", key=key)
    again = await api.register(VILLAGE, category="sanitation", key=key)
    assert again["id"] == first["id"]
    r = await api.http.post(
        "/issues",
        json={"village_code": VILLAGE, "category": "无此类别", "title": "t", "description": "d"},
        headers=await api.headers(CLERK),
    )
    assert problem(r, 422)["field"] == "category"


async def test_a_retired_category_is_not_listed_and_refused_by_code_and_by_name(api: Api) -> None:
    _, category = await _reference(api)
    assert category in await _listed(api)
    await _patch(api, "categories", category, {"active": False})
    assert category not in await _listed(api)
    flagged = await _listed(api, include_retired="true")
    assert flagged[category]["active"] is False
    with Session(api.engine) as session:
        name = session.get(Category, category).name  # type: ignore[union-attr]
        before = session.exec(select(Issue.id)).all()
    for given in (category, name):
        r = await api.http.post(
            "/issues",
            json={"village_code": VILLAGE, "category": given, "title": "t", "description": "d"},
            headers=await api.headers(CLERK),
        )
        assert "停用" in problem(r, 422)["detail"] and r.json()["field"] == "category"
    with Session(api.engine) as session:
        assert session.exec(select(Issue.id)).all() == before


def test_a_retired_department_is_no_recipient_of_any_notice() -> None:
    notice = Notice(
        issue_id="i",
        seq=1,
        kind="level_entered",
        title="t",
        text="t",
        units=["611025001001"],
        departments=["zhenan-old", "zhenan-sifa"],
        category="c",
    )
    category = Category(code="c", name="类", departments=["zhenan-old", "zhenan-gongan"])
    category.notify_departments = True
    heard = recipients(notice, category, retired={"zhenan-old"})
    assert Recipient("department", "zhenan-old") not in heard
    assert {
        Recipient("department", "zhenan-sifa"),
        Recipient("department", "zhenan-gongan"),
    } <= set(heard)


async def _department_notices(api: Api, issue_id: str) -> list[str]:
    """The departments that heard of the issue's arrival, once its unit has heard of it."""
    for _ in range(400):
        with Session(api.engine) as session:
            rows = session.exec(
                select(Notification).where(
                    col(Notification.issue_id) == issue_id,
                    col(Notification.kind) == "level_entered",
                    col(Notification.channel) == "inbox",
                )
            ).all()
        if any(r.target_kind == "unit" for r in rows):
            return sorted(r.target_code for r in rows if r.target_kind == "department")
        await asyncio.sleep(0.025)
    raise AssertionError(f"issue {issue_id}'s arrival was never fanned out")


async def test_a_retired_department_hears_nothing_and_cannot_be_whistled(api: Api) -> None:
    department, category = await _reference(api)
    clerk = f"village-{QUIET_VILLAGE}"
    before = await api.register(QUIET_VILLAGE, category=category)
    assert await _department_notices(api, before["id"]) == sorted([department, "zhenan-gongan"])
    listed = (await _listed(api))[category]
    assert [d["code"] for d in listed["departments"]] == [department, "zhenan-gongan"]

    await _patch(api, "departments", department, {"active": False})
    after = await api.register(QUIET_VILLAGE, category=category)
    assert await _department_notices(api, after["id"]) == ["zhenan-gongan"]
    listed = (await _listed(api))[category]
    assert [d["code"] for d in listed["departments"]] == ["zhenan-gongan"]

    await api.ok(after["id"], "accept", as_user=clerk)
    trail = len((await api.state(after["id"])).events)
    whistle = {"departments": ["zhenan-gongan", department], "reason": "需要部门到场"}
    r = await api.act(after["id"], "whistle", whistle, as_user=clerk)
    assert problem(r, 422)["field"] == "departments" and "停用" in r.json()["detail"]
    assert len((await api.state(after["id"])).events) == trail  # the refusal changed nothing
    r = await api.act(
        after["id"], "whistle", {**whistle, "departments": ["zhenan-gongan"]}, as_user=clerk
    )
    assert r.status_code == 200, r.text
