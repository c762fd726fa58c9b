"""Signing in (password, JWT, API keys), the unit tree, health, metrics and the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from api.security import create_api_key
from settings import Settings
from store.tables import ApiKey, User
from tests.api.conftest import COUNTY, TOWNSHIP, VILLAGE, Api, problem


async def test_login_and_me(api: Api) -> None:
    r = await api.http.post("/auth/token", data={"username": "county-leader", "password": "demo"})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    token = r.json()["access_token"]
    me = await api.http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {
        "username": "county-leader",
        "display_name": "镇安县矛调中心负责人",
        "role": "leader",
        "role_label": "负责人",
        "unit": {"code": COUNTY, "name": "镇安县"},
        "department": None,
    }
    dept = await api.get("/auth/me", as_user="dept-zhenan-zhujian")
    assert dept.json()["department"] == {"code": "zhenan-zhujian", "name": "镇安县住房和城乡建设局"}


async def test_wrong_passwords_and_bad_tokens_are_401_problems(
    api: Api, settings: Settings
) -> None:
    for username, password in (("county-admin", "wrong"), ("nobody", "demo")):
        r = await api.http.post("/auth/token", data={"username": username, "password": password})
        assert problem(r, 401)["detail"] == "用户名或密码错误"
    problem(await api.http.post("/auth/token", data={"username": "x"}), 422)

    expired = jwt.encode(
        {"sub": "county-admin", "exp": datetime.now(UTC) - timedelta(minutes=1)},
        settings.secret_key,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": "county-admin", "exp": datetime.now(UTC) + timedelta(minutes=5)},
        "another-secret-of-sufficient-length-0123456789",
        algorithm="HS256",
    )
    for token in (expired, forged, "not-a-jwt"):
        r = await api.http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert problem(r, 401)["detail"] == "登录已失效，请重新登录"
    problem(await api.http.get("/auth/me"), 401)


async def test_a_deactivated_user_is_refused_even_with_a_valid_token(api: Api) -> None:
    username = "village-611025001005"
    headers = await api.headers(username)
    assert (await api.http.get("/auth/me", headers=headers)).status_code == 200
    with Session(api.engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        user.active = False
        session.add(user)
        session.commit()
        try:
            problem(await api.http.get("/auth/me", headers=headers), 401)
        finally:
            user.active = True
            session.add(user)
            session.commit()


async def test_a_department_machine_client_uses_an_api_key(api: Api) -> None:
    with Session(api.engine) as session:
        key = create_api_key(session, "zhenan-shuili", "水利局工单系统")
    headers = {"X-API-Key": key}
    me = await api.http.get("/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    assert (me.json()["role"], me.json()["department"]["code"]) == ("department", "zhenan-shuili")

    body = {
        "village_code": VILLAGE,
        "category": "rural_drinking_water",
        "title": "自来水管破裂",
        "description": "村口水管破裂",
    }
    r = await api.http.post("/issues", json=body, headers=headers)
    assert r.status_code == 201, r.text
    state = await api.state(r.json()["id"])
    assert state.issue.registered_by.user.startswith("api-key:")
    assert state.issue.registered_by.department_code == "zhenan-shuili"

    prefix = key.split(".")[0]
    problem(await api.http.get("/auth/me", headers={"X-API-Key": f"{prefix}.wrong"}), 401)
    with Session(api.engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).one()
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        session.commit()
    assert problem(await api.http.get("/auth/me", headers=headers), 401)["detail"] == (
        "API Key 无效或已吊销"
    )


async def test_units_are_listed_within_the_callers_subtree(api: Api) -> None:
    township = await api.get("/units", as_user=f"township-{TOWNSHIP}")
    codes = {u["code"] for u in township.json()["data"]}
    assert TOWNSHIP in codes and VILLAGE in codes and COUNTY not in codes
    assert all(code.startswith(TOWNSHIP) for code in codes)

    admin = await api.get("/units", as_user="county-admin", kind="township")
    assert admin.json()["count"] == 18
    children = await api.get("/units", as_user="county-supervisor", parent=TOWNSHIP, q="新城")
    assert [u["code"] for u in children.json()["data"]] == [VILLAGE]
    problem(await api.get("/units", as_user="county-admin", kind="planet"), 422)

    detail = await api.get(f"/units/{TOWNSHIP}", as_user=f"village-{VILLAGE}")
    problem(detail, 404)  # above the village: not in its subtree
    mine = await api.get(f"/units/{VILLAGE}", as_user=f"village-{VILLAGE}")
    assert [a["code"] for a in mine.json()["ancestors"]] == [COUNTY, TOWNSHIP]
    county = await api.get(f"/units/{COUNTY}", as_user="county-supervisor")
    assert len(county.json()["children"]) == 18


async def test_health_metrics_and_problem_404s(api: Api) -> None:
    health = await api.http.get("/healthz")
    assert health.json() == {"status": "ok", "database": "ok", "temporal": "ok"}

    metrics = await api.http.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "issues_registered_total" in metrics.text
    assert 'api_requests_total{method="GET",route="/api/v1/healthz",status="200"}' in metrics.text

    nowhere = await api.http.get("/no/such/route")
    assert problem(nowhere, 404)["instance"] == "/api/v1/no/such/route"
    problem(await api.http.delete("/issues"), 405)


async def test_an_unreachable_temporal_is_a_503_problem_not_a_500(
    api: Api, settings: Settings, engine: Engine
) -> None:
    headers = await api.headers(f"village-{VILLAGE}")
    unreachable = await Client.connect("127.0.0.1:1", lazy=True)
    app = create_app(settings, temporal=unreachable, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as http:
            health = await http.get("/healthz")
            body = {"village_code": VILLAGE, "category": "other", "title": "t", "description": "d"}
            registration = await http.post("/issues", json=body, headers=headers)
            reading = await http.get("/issues/" + "a" * 32, headers=headers)
    details = problem(health, 503)
    assert (details["database"], details["temporal"]) == ("ok", "unavailable")
    assert problem(registration, 503)["type"].endswith("temporal-unavailable")
    assert registration.headers["retry-after"]
    # Reading needs only the read model: an unknown issue is a plain 404 even now.
    problem(reading, 404)


async def test_openapi_names_the_api_and_documents_problems(
    api: Api, temporal_env: WorkflowEnvironment
) -> None:
    doc = (await api.http.get("/openapi.json")).json()
    assert doc["info"]["title"] == "Linkage 县乡村三级联动 API"
    assert {t["name"] for t in doc["tags"]} >= {"auth", "issues", "units", "inbox", "stats"}
    register = doc["paths"]["/api/v1/issues"]["post"]
    assert "application/problem+json" in register["responses"]["422"]["content"]
    schema = doc["components"]["schemas"]["IssueCreate"]
    assert schema["examples"][0]["village_code"] == VILLAGE
    for action in ("accept", "whistle", "report", "transfer", "feedback", "withdraw"):
        assert f"/api/v1/issues/{{issue_id}}/{action}" in doc["paths"]
    assert "/api/v1/issues/{issue_id}/extension/decision" in doc["paths"]
