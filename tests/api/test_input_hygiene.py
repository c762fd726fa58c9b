"""Input hygiene: a NUL, another control character or a lone surrogate anywhere the API takes text
is a 422 naming the field, before anything is written, on SQLite and PostgreSQL alike.

On PostgreSQL a NUL accepted in a title made the ``record`` activity fail for ever: the issue
lived in Temporal and never reached lists, statistics or citizen tracking.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Principal
from api.registration import registration_id
from api.security import API_KEY_HEADER
from domain.models import Role
from store.tables import Issue
from tests.api.conftest import VILLAGE, Api, problem
from tests.api.read_models import any_read_model
from workflows.issue import workflow_id

__all__ = ["any_read_model"]  # the fixture, imported for pytest

CLERK = f"village-{VILLAGE}"


def _body(**changes: Any) -> dict[str, Any]:
    return {
        "village_code": VILLAGE,
        "category": "sanitation",
        "title": "村道垃圾堆放",
        "description": "路边垃圾堆放多日无人清运",
        **changes,
    }


def _issues(api: Api) -> int:
    with Session(api.engine) as session:
        return session.exec(select(func.count()).select_from(Issue)).one()


async def _no_workflow(api: Api, issue_id: str) -> None:
    handle = api.env.client.get_workflow_handle(workflow_id(issue_id))
    with pytest.raises(RPCError) as described:
        await handle.describe()
    assert described.value.status is RPCStatusCode.NOT_FOUND


async def test_a_nul_in_the_title_is_refused_naming_it_and_nothing_starts(
    any_read_model: Api,
) -> None:
    api = any_read_model
    key = f"nul-{uuid.uuid4()}"
    before = _issues(api)
    headers = {**await api.headers(CLERK), "Idempotency-Key": key}
    r = await api.http.post("/issues", json=_body(title="a\u0000b"), headers=headers)
    details = problem(r, 422)
    assert details["field"] == "title" and details["errors"][0]["field"] == "title"
    assert "U+0000" in details["detail"]
    # The registration this key would have started: no workflow, no row.
    await _no_workflow(api, registration_id(Principal(CLERK, Role.CLERK), key))
    assert _issues(api) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"description": "第一行\x1f"}, "description"),  # C0
        ({"location": "村口\x85"}, "location"),  # C1 (NEL)
        ({"reporter": {"name": "张\x07三"}}, "reporter.name"),
        (
            {"attachments": ["https://example.org/a.jpg", "https://example.org/\x00"]},
            "attachments.1",
        ),
        ({"channel": "walk_in\x00"}, "channel"),  # an enum: refused as text first
    ],
)
async def test_control_characters_in_any_field_are_refused_naming_it(
    any_read_model: Api, changes: dict[str, Any], field: str
) -> None:
    api = any_read_model
    before = _issues(api)
    r = await api.http.post("/issues", json=_body(**changes), headers=await api.headers(CLERK))
    assert problem(r, 422)["field"] == field
    assert _issues(api) == before


async def test_a_lone_surrogate_is_refused_naming_the_field(any_read_model: Api) -> None:
    api = any_read_model
    before = _issues(api)
    # JSON may escape a lone surrogate; no UTF-8 encoder would write one, so the bytes are sent.
    raw = json.dumps(_body(description="x")).replace('"x"', '"\\ud800"').encode()
    headers = {**await api.headers(CLERK), "Content-Type": "application/json"}
    r = await api.http.post("/issues", content=raw, headers=headers)
    assert problem(r, 422)["field"] == "description"
    assert _issues(api) == before


async def test_tabs_and_line_breaks_are_text_and_reach_the_read_model(any_read_model: Api) -> None:
    api = any_read_model
    description = "第一行\n第二行\r\n\t缩进"
    created = await api.register(description=description, title="制表符\t标题")
    row = await api.settled(created["id"])
    assert (row.title, row.description) == ("制表符\t标题", description)


async def test_an_action_with_a_control_character_is_refused_and_applies_nothing(
    any_read_model: Api,
) -> None:
    api = any_read_model
    created = await api.register(title="进展含控制字符")
    before = len((await api.state(created["id"])).events)
    r = await api.act(created["id"], "progress", {"note": "已联系\x00环卫"}, as_user=CLERK)
    assert problem(r, 422)["field"] == "note"
    r = await api.act(
        created["id"], "whistle", {"departments": ["\x01"], "reason": "需要"}, as_user=CLERK
    )
    assert problem(r, 422)["field"] == "departments.0"
    assert len((await api.state(created["id"])).events) == before


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/issues", {"category": "a\x00b"}, "category"),
        ("/issues", {"unit": "611025\x00"}, "unit"),
        ("/units", {"q": "新城\x00"}, "q"),
        ("/stats", {"unit": "\x9f"}, "unit"),
    ],
)
async def test_query_parameters_with_control_characters_are_refused_naming_them(
    any_read_model: Api, path: str, params: dict[str, str], field: str
) -> None:
    r = await any_read_model.get(path, as_user="county-admin", **params)
    assert problem(r, 422)["field"] == field


async def test_path_parameters_with_control_characters_are_refused_naming_them(
    any_read_model: Api,
) -> None:
    r = await any_read_model.get("/issues/abc%00def", as_user="county-admin")
    assert problem(r, 422)["field"] == "issue_id"


async def test_credentials_with_control_characters_are_refused_before_any_lookup(
    any_read_model: Api,
) -> None:
    api = any_read_model
    r = await api.http.get("/auth/me", headers={API_KEY_HEADER: "abc\x00.secret"})
    assert problem(r, 422)["field"] == API_KEY_HEADER
    r = await api.http.post("/auth/token", data={"username": "county\x00admin", "password": "x"})
    assert problem(r, 422)["field"] == "username"


async def test_the_openapi_tells_clients_which_characters_no_string_may_hold(api: Api) -> None:
    doc = (await api.http.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert schemas["ReporterIn"]["properties"]["name"]["anyOf"][0]["pattern"].startswith("^[^\\x00")
    assert "\\x00" in schemas["IssueCreate"]["properties"]["title"]["pattern"]
    listing = doc["paths"]["/api/v1/issues"]["get"]["parameters"]
    category = next(p for p in listing if p["name"] == "category")
    assert "\\x00" in category["schema"]["anyOf"][0]["pattern"]
