"""Departments' API keys through the admin API: shown once, listed without the secret, revoked
at once; refused to township admins (a department is the county's) and to non-admins."""

from __future__ import annotations

import pytest

from tests.api.admin_helpers import STRONG, bearer, footprint, token
from tests.api.conftest import TOWNSHIP, Api, problem


async def test_create_use_list_and_revoke_a_key(api: Api) -> None:
    admin = await api.headers("county-admin")
    r = await api.http.post(
        "/admin/api-keys",
        json={"department": "zhenan-shuili", "name": "水利局工单系统"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    key, prefix = created["key"], created["prefix"]
    assert key.startswith(prefix + ".") and created["last_used_at"] is None

    used = await api.http.get("/auth/me", headers={"X-API-Key": key})
    assert used.status_code == 200 and used.json()["role"] == "department"

    listed = (await api.http.get("/admin/api-keys", headers=admin)).json()["data"]
    mine = next(k for k in listed if k["prefix"] == prefix)
    assert mine["name"] == "水利局工单系统" and mine["last_used_at"] is not None
    assert "key" not in mine and all(key not in str(k) for k in listed)

    r = await api.http.delete(f"/admin/api-keys/{prefix}", headers=admin)
    assert r.status_code == 204
    # At once, although the key passed argon2 a moment ago and sits in the verified cache.
    assert problem(await api.http.get("/auth/me", headers={"X-API-Key": key}), 401)
    audit = (await api.http.get("/admin/audit", params={"target": prefix}, headers=admin)).json()
    assert [a["action"] for a in audit["data"]] == ["api_key.revoke", "api_key.create"]


async def test_refusals_change_nothing(api: Api) -> None:
    admin = await api.headers("county-admin")
    r = await api.http.post(
        "/admin/api-keys", json={"department": "zhenan-gongan", "name": "公安"}, headers=admin
    )
    prefix = r.json()["prefix"]
    r = await api.http.post(
        "/admin/users",
        headers=admin,
        json={
            "username": "keys-yl-admin",
            "display_name": "永乐管理员",
            "role": "admin",
            "unit": TOWNSHIP,
            "password": STRONG,
        },
    )
    assert r.status_code == 201, r.text
    township = bearer(await token(api.http, "keys-yl-admin"))
    before = footprint(api.engine)
    body = {"department": "zhenan-gongan", "name": "x"}
    assert problem(await api.http.post("/admin/api-keys", json=body, headers=township), 403)
    assert problem(await api.http.delete(f"/admin/api-keys/{prefix}", headers=township), 403)
    assert (await api.http.get("/admin/api-keys", headers=township)).json()["count"] == 0
    r = await api.http.post(
        "/admin/api-keys", json={"department": "nope", "name": "x"}, headers=admin
    )
    assert problem(r, 422)["field"] == "department"
    r = await api.http.post("/admin/api-keys", json={"department": "zhenan-gongan"}, headers=admin)
    assert problem(r, 422)["field"] == "name"
    assert problem(await api.http.delete("/admin/api-keys/unknown", headers=admin), 404)
    assert footprint(api.engine) == before


@pytest.mark.parametrize("user", ["county-supervisor", "county-clerk", "dept-zhenan-shuili"])
async def test_non_admins_cannot_touch_keys(api: Api, user: str) -> None:
    before = footprint(api.engine)
    headers = await api.headers(user)
    body = {"department": "zhenan-shuili", "name": "x"}
    assert problem(await api.http.post("/admin/api-keys", json=body, headers=headers), 403)
    assert problem(await api.http.get("/admin/api-keys", headers=headers), 403)
    assert problem(await api.http.delete("/admin/api-keys/abc", headers=headers), 403)
    assert footprint(api.engine) == before
