"""Staff accounts through the admin API: create, edit, disable, reset, lockout, the subtree rule
and the audit record (the demo county's ``county-admin`` and a township admin it creates)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlmodel import Session, select

from store.tables import AuditRecord, User
from tests.api.admin_helpers import STRONG, bearer, footprint, token
from tests.api.conftest import OTHER_TOWNSHIP, TOWNSHIP, VILLAGE, Api, problem

OTHER_VILLAGE = "611025101001"  # a village of 回龙镇, the other township


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def create(api: Api, as_user: str, **body: Any) -> Any:
    # A JWT has dots; a demo account name has none.
    headers = bearer(as_user) if "." in as_user else await api.headers(as_user)
    return await api.http.post("/admin/users", json=body, headers=headers)


@pytest.fixture(scope="module")
async def township_admin(api: Api) -> str:
    """A token of an admin of 永乐街道, made by the county's admin."""
    username = name("yl-admin")
    r = await create(
        api,
        "county-admin",
        username=username,
        display_name="永乐街道管理员",
        role="admin",
        unit=TOWNSHIP,
        password=STRONG,
    )
    assert r.status_code == 201, r.text
    return await token(api.http, username)


async def test_county_admin_creates_a_township_leader_and_a_village_clerk(api: Api) -> None:
    leader, clerk = name("leader"), name("clerk")
    r = await create(
        api,
        "county-admin",
        username=leader,
        display_name="王书记",
        role="leader",
        unit=TOWNSHIP,
        password=STRONG,
    )
    assert r.status_code == 201, r.text
    assert r.json()["unit_name"] == "永乐街道" and r.json()["temporary_password"] is None
    r = await create(
        api, "county-admin", username=clerk, display_name="李经办", role="clerk", unit=VILLAGE
    )
    assert r.status_code == 201, r.text
    temporary = r.json()["temporary_password"]
    assert temporary and r.json()["must_change_password"]

    me = await api.http.get("/auth/me", headers=bearer(await token(api.http, leader)))
    assert me.json()["role"] == "leader" and me.json()["unit"]["code"] == TOWNSHIP
    # A temporary password opens nothing until the clerk has chosen their own.
    r = await api.http.post("/auth/token", data={"username": clerk, "password": temporary})
    assert problem(r, 403)["type"].endswith("password-change-required")
    r = await api.http.post(
        "/auth/password",
        json={"username": clerk, "current_password": temporary, "new_password": "short"},
    )
    assert problem(r, 422)["field"] == "new_password"
    r = await api.http.post(
        "/auth/password",
        json={"username": clerk, "current_password": temporary, "new_password": STRONG},
    )
    assert r.status_code == 204, r.text
    assert await token(api.http, clerk)

    with Session(api.engine) as session:
        record = session.exec(select(AuditRecord).where(AuditRecord.target == clerk)).one()
    assert record.actor == "county-admin" and record.action == "user.create"
    assert record.after is not None and record.after["unit_code"] == VILLAGE
    assert "password_hash" not in record.after


async def test_bad_fields_are_named_and_change_nothing(api: Api) -> None:
    before = footprint(api.engine)
    cases = [
        ({"role": "citizen", "unit": VILLAGE}, "role"),
        ({"role": "clerk"}, "unit"),
        ({"role": "department", "unit": VILLAGE}, "department"),
        ({"role": "clerk", "unit": "999999999999"}, "unit"),
        ({"role": "clerk", "unit": VILLAGE, "password": "abc"}, "password"),
        ({"role": "clerk", "unit": VILLAGE, "password": "onlyletterslong"}, "password"),
        ({"role": "clerk", "unit": VILLAGE, "username": "county-admin"}, "username"),
        ({"role": "clerk", "unit": VILLAGE, "username": "bad name!"}, "username"),
    ]
    for fields, field in cases:
        body = {"username": name("x"), "display_name": "某某", **fields}
        r = await create(api, "county-admin", **body)
        assert r.status_code in (409, 422), (fields, r.text)
        assert problem(r, r.status_code)["field"] == field, fields
    assert footprint(api.engine) == before


async def test_a_township_admin_acts_only_inside_its_township(
    api: Api, township_admin: str
) -> None:
    mine = name("mine")
    r = await create(
        api,
        township_admin,
        username=mine,
        display_name="本镇经办",
        role="clerk",
        unit=VILLAGE,
        password=STRONG,
    )
    assert r.status_code == 201, r.text
    before = footprint(api.engine)
    headers = bearer(township_admin)
    outside = f"village-{OTHER_VILLAGE}"
    refusals = [
        await create(
            api,
            township_admin,
            username=name("x"),
            display_name="外镇",
            role="clerk",
            unit=OTHER_VILLAGE,
            password=STRONG,
        ),
        # Nor above itself: the county is not in its subtree.
        await create(
            api,
            township_admin,
            username=name("x"),
            display_name="县",
            role="admin",
            unit="611025",
            password=STRONG,
        ),
        await api.http.patch(f"/admin/users/{outside}", json={"disabled": True}, headers=headers),
        await api.http.patch(f"/admin/users/{mine}", json={"unit": OTHER_VILLAGE}, headers=headers),
        await api.http.post(f"/admin/users/{outside}/password-reset", headers=headers),
        await api.http.get(f"/admin/users/{outside}", headers=headers),
        await api.http.get("/admin/users", params={"unit": OTHER_TOWNSHIP}, headers=headers),
        # A department belongs to the county, above the township.
        await create(
            api,
            township_admin,
            username=name("x"),
            display_name="部门",
            role="department",
            department="zhenan-shuili",
            password=STRONG,
        ),
    ]
    for r in refusals:
        assert problem(r, 403)
    assert footprint(api.engine) == before
    listed = await api.http.get("/admin/users", headers=headers)
    units = {u["unit"] for u in listed.json()["data"]}
    assert units and all(u and u.startswith(TOWNSHIP) for u in units)
    # Its audit list holds its own township's records only.
    elsewhere = name("elsewhere")
    r = await create(
        api,
        "county-admin",
        username=elsewhere,
        display_name="回龙镇经办",
        role="clerk",
        unit=OTHER_VILLAGE,
        password=STRONG,
    )
    assert r.status_code == 201
    county = (await api.get("/admin/audit", as_user="county-admin")).json()["data"]
    assert elsewhere in {a["target"] for a in county}
    audit = (await api.http.get("/admin/audit", headers=headers)).json()["data"]
    assert mine in {a["target"] for a in audit}
    assert elsewhere not in {a["target"] for a in audit}


@pytest.mark.parametrize(
    "user",
    [
        "county-supervisor",
        "county-leader",
        "county-clerk",
        f"village-{VILLAGE}",
        "dept-zhenan-shuili",
    ],
)
async def test_non_admins_are_refused_everything(api: Api, user: str) -> None:
    before = footprint(api.engine)
    headers = await api.headers(user)
    calls = [
        api.http.get("/admin/users", headers=headers),
        api.http.post(
            "/admin/users",
            json={
                "username": name("x"),
                "display_name": "x",
                "role": "clerk",
                "unit": VILLAGE,
                "password": STRONG,
            },
            headers=headers,
        ),
        api.http.patch("/admin/users/county-clerk", json={"disabled": True}, headers=headers),
        api.http.post("/admin/users/county-clerk/password-reset", headers=headers),
        api.http.get("/admin/audit", headers=headers),
    ]
    for call in calls:
        assert problem(await call, 403)
    assert problem(await api.http.get("/admin/users"), 401)
    assert footprint(api.engine) == before


async def test_disable_reset_and_lockout(api: Api) -> None:
    username = name("lock")
    r = await create(
        api,
        "county-admin",
        username=username,
        display_name="锁定测试",
        role="clerk",
        unit=VILLAGE,
        password=STRONG,
    )
    assert r.status_code == 201
    issued = await token(api.http, username)
    for _ in range(4):
        r = await api.http.post("/auth/token", data={"username": username, "password": "wrong1"})
        assert problem(r, 401)
    r = await api.http.post("/auth/token", data={"username": username, "password": "wrong1"})
    assert problem(r, 429)["type"].endswith("login-locked") and r.headers["retry-after"]
    # Locked: the right password does not open it either.
    r = await api.http.post("/auth/token", data={"username": username, "password": STRONG})
    assert problem(r, 429)
    admin = await api.headers("county-admin")
    shown = (await api.http.get(f"/admin/users/{username}", headers=admin)).json()
    assert shown["locked"]

    r = await api.http.post(f"/admin/users/{username}/password-reset", headers=admin)
    temporary = r.json()["temporary_password"]
    # The reset voids the tokens issued before it, and lifts the lock.
    assert problem(await api.http.get("/auth/me", headers=bearer(issued)), 401)
    r = await api.http.post("/auth/token", data={"username": username, "password": temporary})
    assert problem(r, 403)["field"] == "password"
    r = await api.http.post(
        "/auth/password",
        json={"username": username, "current_password": temporary, "new_password": STRONG + "x"},
    )
    assert r.status_code == 204
    issued = await token(api.http, username, STRONG + "x")

    r = await api.http.patch(f"/admin/users/{username}", json={"disabled": True}, headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert problem(await api.http.get("/auth/me", headers=bearer(issued)), 401)
    r = await api.http.post("/auth/token", data={"username": username, "password": STRONG + "x"})
    assert problem(r, 401)
    with Session(api.engine) as session:
        assert session.exec(select(User).where(User.username == username)).one().active is False
        actions = [
            a.action
            for a in session.exec(select(AuditRecord).where(AuditRecord.target == username))
        ]
        reset = session.exec(
            select(AuditRecord).where(
                AuditRecord.target == username, AuditRecord.action == "user.password_reset"
            )
        ).one()
    assert actions == ["user.create", "user.password_reset", "user.update"]
    assert reset.after == {"password": "***", "must_change_password": True}


async def test_an_admin_cannot_disable_itself(api: Api) -> None:
    r = await api.http.patch(
        "/admin/users/county-admin",
        json={"disabled": True},
        headers=await api.headers("county-admin"),
    )
    assert problem(r, 422)["field"] == "disabled"
