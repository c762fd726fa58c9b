"""Registration: the 201 answer, idempotency, and bad input that names its field and changes
nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from store.tables import Issue
from tests.api.conftest import NEIGHBOUR, OTHER_TOWNSHIP, TOWNSHIP, VILLAGE, Api, problem
from workflows.issue import workflow_id

CLERK = f"village-{VILLAGE}"


def _count(api: Api) -> int:
    with Session(api.engine) as session:
        return session.exec(select(func.count()).select_from(Issue)).one()


async def test_registration_answers_201_with_tracking_code_pin_and_first_deadline(api: Api) -> None:
    headers = await api.headers(CLERK)
    r = await api.http.post(
        "/issues",
        json={
            "village_code": VILLAGE,
            "category": "sanitation",
            "title": "村道垃圾堆放",
            "description": "路边垃圾堆放多日无人清运",
            "urgency": "urgent",
            "reporter": {"name": "张三", "phone": "13800001234"},
            "location": "新城社区东口",
            "attachments": ["https://example.org/a.jpg"],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "tracking_code", "pin", "status", "level", "unit", "deadline"}
    assert len(body["id"]) == 32 and len(body["pin"]) == 6 and body["pin"].isdigit()
    assert body["status"] == "pending_accept" and body["level"] == "village"
    assert body["unit"] == {"code": VILLAGE, "name": "新城社区居委会"}
    assert datetime.fromisoformat(body["deadline"]).tzinfo is not None
    assert r.headers["location"] == f"/api/v1/issues/{body['id']}"

    state = await api.state(body["id"])
    assert state.issue.tracking_code == body["tracking_code"]
    assert state.issue.pin_hash and body["pin"] not in state.issue.pin_hash
    assert state.issue.registered_by.user == CLERK
    assert [u.code for u in state.ladder] == [VILLAGE, TOWNSHIP, "611025"]


async def test_a_retry_with_the_same_idempotency_key_maps_to_the_same_issue_and_pin(
    api: Api,
) -> None:
    key = f"retry-{uuid.uuid4()}"
    first = await api.register(key=key, title="同一请求")
    again = await api.register(key=key, title="同一请求")  # the workflow is still running
    assert (again["id"], again["pin"], again["tracking_code"]) == (
        first["id"],
        first["pin"],
        first["tracking_code"],
    )
    await api.settled(first["id"])
    third = await api.register(key=key, title="同一请求")  # now answered from the read model
    assert (third["id"], third["pin"]) == (first["id"], first["pin"])
    assert len((await api.state(first["id"])).events) == 2  # registered + level entered, once

    # The same key from another caller is another request.
    other = await api.register(key=key, title="同一请求", as_user="county-clerk")
    assert other["id"] != first["id"]


async def test_a_retry_after_the_issue_closed_answers_from_the_workflow_and_starts_nothing(
    api: Api,
) -> None:
    key = f"closed-{uuid.uuid4()}"
    first = await api.register(key=key, title="已撤回的请求")
    pin = {"tracking_code": first["tracking_code"], "pin": first["pin"]}
    assert (await api.act(first["id"], "withdraw", pin, as_user=None)).status_code == 200
    handle = api.env.client.get_workflow_handle(workflow_id(first["id"]))
    await handle.result()
    # The read model has lost the row (restored from an older backup): only the closed run
    # remains, and the retry must not start the issue a second time.
    await api.settled(first["id"])
    before = await handle.fetch_history()
    with api.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys = OFF")  # its events stay behind
        connection.execute(delete(Issue).where(col(Issue.id) == first["id"]))
        connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys = ON")
    again = await api.register(key=key, title="已撤回的请求")
    assert (again["id"], again["pin"], again["status"]) == (first["id"], first["pin"], "withdrawn")
    # The latest run of the workflow id is still the closed one, untouched.
    after = await handle.fetch_history()
    assert len(after.events) == len(before.events), (len(after.events), len(before.events))
    assert after.events[-1].event_type == before.events[-1].event_type


async def test_an_idempotency_key_reused_for_another_request_is_refused(api: Api) -> None:
    key = f"reuse-{uuid.uuid4()}"
    first = await api.register(key=key, title="第一件")
    await api.settled(first["id"])
    headers = {**await api.headers(CLERK), "Idempotency-Key": key}
    body = {
        "village_code": VILLAGE,
        "category": "sanitation",
        "title": "另一件",
        "description": "不同的内容",
    }
    r = await api.http.post("/issues", json=body, headers=headers)
    assert problem(r, 422)["field"] == "Idempotency-Key"


def _valid(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "village_code": VILLAGE,
        "category": "sanitation",
        "title": "标题",
        "description": "描述",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        (_valid(village_code="611025999999"), "village_code", 422),
        (_valid(village_code=TOWNSHIP), "village_code", 422),  # not a village
        (_valid(urgency="very"), "urgency", 422),
        (_valid(title=None), "title", 422),
        (_valid(title="   "), "title", 422),
        (_valid(category="no_such_category"), "category", 422),
        (_valid(reporter={"phone": "call me"}), "reporter.phone", 422),
        (_valid(attachments=["not a url"]), "attachments.0", 422),
        (_valid(channel="pigeon"), "channel", 422),
        (_valid(unexpected=1), "unexpected", 422),
        (_valid(village_code=f"{OTHER_TOWNSHIP}001"), "village_code", 403),  # another township
        (_valid(village_code=NEIGHBOUR), "village_code", 403),  # the village next door
    ],
)
async def test_bad_registrations_name_the_field_and_change_nothing(
    api: Api, body: dict[str, Any], field: str, status: int
) -> None:
    before = _count(api)
    r = await api.http.post("/issues", json=body, headers=await api.headers(CLERK))
    details = problem(r, status)
    assert details["field"] == field
    if status == 422:
        assert details["errors"][0]["field"] == field and details["errors"][0]["message"]
    assert _count(api) == before


async def test_a_body_that_is_not_json_is_a_422_naming_the_body(api: Api) -> None:
    r = await api.http.post(
        "/issues",
        content=b"{not json",
        headers={**await api.headers(CLERK), "Content-Type": "application/json"},
    )
    assert problem(r, 422)["field"] == "body"


async def test_a_department_client_registers_in_its_county_but_a_citizen_cannot(api: Api) -> None:
    created = await api.register(as_user="dept-zhenan-shuili", category="rural_drinking_water")
    state = await api.state(created["id"])
    assert state.issue.channel.value == "department"
    assert state.issue.registered_by.department_code == "zhenan-shuili"

    r = await api.http.post("/issues", json=_valid())
    assert problem(r, 401)["type"].endswith("unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
