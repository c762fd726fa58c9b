"""Categories, departments and households through the admin API."""

from __future__ import annotations

import uuid

from tests.api.admin_helpers import STRONG, bearer, footprint, token
from tests.api.conftest import TOWNSHIP, VILLAGE, Api, problem

OTHER_VILLAGE = "611025101001"


async def township_admin(api: Api, username: str) -> dict[str, str]:
    r = await api.http.post(
        "/admin/users",
        headers=await api.headers("county-admin"),
        json={
            "username": username,
            "display_name": "永乐管理员",
            "role": "admin",
            "unit": TOWNSHIP,
            "password": STRONG,
        },
    )
    assert r.status_code == 201, r.text
    return bearer(await token(api.http, username))


async def test_a_category_in_use_is_retired_not_deleted(api: Api) -> None:
    admin = await api.headers("county-admin")
    code = f"cat_{uuid.uuid4().hex[:6]}"
    body = {
        "code": code,
        "name": "流浪犬只",
        "departments": ["zhenan-gongan"],
        "notify_departments": True,
    }
    r = await api.http.post("/admin/categories", json=body, headers=admin)
    assert r.status_code == 201, r.text
    await api.register(VILLAGE, category=code)
    before = footprint(api.engine)
    r = await api.http.delete(f"/admin/categories/{code}", headers=admin)
    assert "停用" in problem(r, 409)["detail"]
    assert footprint(api.engine) == before
    r = await api.http.patch(
        f"/admin/categories/{code}",
        json={"active": False, "departments": ["zhenan-gongan", "zhenan-sifa"]},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["issues"] == 1 and not r.json()["active"]
    # A retired category takes no new issue.
    headers = await api.headers(f"village-{VILLAGE}")
    r = await api.http.post(
        "/issues",
        headers=headers,
        json={"village_code": VILLAGE, "category": code, "title": "狗", "description": "狗"},
    )
    assert problem(r, 422)["field"] == "category"
    unused = f"cat_{uuid.uuid4().hex[:6]}"
    r = await api.http.post("/admin/categories", json={**body, "code": unused}, headers=admin)
    assert (await api.http.delete(f"/admin/categories/{unused}", headers=admin)).status_code == 204
    actions = [
        a["action"]
        for a in (
            await api.http.get("/admin/audit", params={"target": code}, headers=admin)
        ).json()["data"]
    ]
    assert actions == ["category.update", "category.create"]


async def test_category_and_department_refusals(api: Api) -> None:
    admin = await api.headers("county-admin")
    township = await township_admin(api, "ref-yl-admin")
    before = footprint(api.engine)
    body = {"code": "new_cat", "name": "新类别", "departments": []}
    assert problem(await api.http.post("/admin/categories", json=body, headers=township), 403)
    assert problem(
        await api.http.patch("/admin/categories/other", json={"name": "x"}, headers=township), 403
    )
    r = await api.http.post(
        "/admin/categories", headers=admin, json={**body, "departments": ["zhenan-shuili", "nope"]}
    )
    assert problem(r, 422)["field"] == "departments.1"
    r = await api.http.post("/admin/categories", headers=admin, json={**body, "code": "other"})
    assert problem(r, 409)["field"] == "code"
    r = await api.http.post("/admin/categories", headers=admin, json={**body, "code": "Bad Code"})
    assert problem(r, 422)["field"] == "code"
    dept = {
        "code": "zhenan-tongzhan",
        "name": "镇安县委统战部",
        "short_name": "统战",
        "county": "611025",
    }
    assert problem(await api.http.post("/admin/departments", json=dept, headers=township), 403)
    assert problem(
        await api.http.patch(
            "/admin/departments/zhenan-shuili", json={"name": "x"}, headers=township
        ),
        403,
    )
    r = await api.http.post(
        "/admin/departments", json={**dept, "county": TOWNSHIP[:6] + "999"}, headers=admin
    )
    assert problem(r, 422)["field"] == "county"
    for user in ("county-supervisor", "county-clerk", "dept-zhenan-shuili"):
        headers = await api.headers(user)
        assert problem(await api.http.post("/admin/categories", json=body, headers=headers), 403)
        assert problem(await api.http.post("/admin/departments", json=dept, headers=headers), 403)
        assert problem(
            await api.http.post(
                "/admin/households", headers=headers, json={"village": VILLAGE, "count": 3}
            ),
            403,
        )
    assert footprint(api.engine) == before
    r = await api.http.post("/admin/departments", json=dept, headers=admin)
    assert r.status_code == 201, r.text
    r = await api.http.patch(
        "/admin/departments/zhenan-tongzhan", json={"active": False}, headers=admin
    )
    assert r.json()["active"] is False


async def test_households_and_their_printable_sheet(api: Api) -> None:
    township = await township_admin(api, "hh-yl-admin")
    r = await api.http.post(
        "/admin/households", json={"village": VILLAGE, "count": 30}, headers=township
    )
    assert r.status_code == 201, r.text
    first = r.json()
    r = await api.http.post(
        "/admin/households", json={"village": VILLAGE, "count": 5}, headers=township
    )
    data = r.json()["data"]
    assert r.json()["count"] == first["count"] + 5
    assert [h["number"] for h in data] == list(range(1, len(data) + 1))
    assert len({h["code"] for h in data}) == len(data)
    sheet = await api.http.get(
        "/admin/households/sheet", params={"village": VILLAGE}, headers=township
    )
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/html")
    assert "新城社区居委会" in sheet.text and all(h["code"] in sheet.text for h in data)
    before = footprint(api.engine)
    r = await api.http.post(
        "/admin/households", json={"village": OTHER_VILLAGE, "count": 3}, headers=township
    )
    assert problem(r, 403)["field"] == "village"
    r = await api.http.post(
        "/admin/households", json={"village": VILLAGE, "count": 0}, headers=township
    )
    assert problem(r, 422)["field"] == "count"
    r = await api.http.get(
        "/admin/households/sheet", params={"village": OTHER_VILLAGE}, headers=township
    )
    assert problem(r, 403)
    assert footprint(api.engine) == before
