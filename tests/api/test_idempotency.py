"""An ``Idempotency-Key`` names one request: the same key with any other body is a 422 naming the
key, whichever field changed; the same body (however it is written) is the first issue again.

Before, only village, category, title and description were compared: a retry that changed the
urgency or the reporter got the first issue with a 201 and its change was silently dropped.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from store.tables import Issue
from tests.api.conftest import VILLAGE, Api, problem
from tests.api.read_models import any_read_model

__all__ = ["any_read_model"]  # the fixture, imported for pytest

CLERK = f"village-{VILLAGE}"
FIRST: dict[str, Any] = {
    "village_code": VILLAGE,
    "category": "sanitation",
    "title": "同一键的登记",
    "description": "路边垃圾堆放多日无人清运",
    "urgency": "normal",
    "reporter": {"name": "张三", "phone": "13800001234"},
    "location": "新城社区东口",
    "attachments": ["https://example.org/a.jpg"],
    "channel": "walk_in",
}
CHANGES = {
    "urgency": {"urgency": "urgent"},
    "reporter.name": {"reporter": {"name": "李四", "phone": "13800001234"}},
    "reporter.phone": {"reporter": {"name": "张三", "phone": "13900001234"}},
    "reporter dropped": {"reporter": None},
    "location": {"location": "新城社区西口"},
    "attachments": {"attachments": ["https://example.org/b.jpg"]},
    "channel": {"channel": "phone"},
    "category": {"category": "rural_drinking_water"},
    "title": {"title": "另一件"},
}


async def _post(api: Api, key: str, body: dict[str, Any]) -> Any:
    headers = {**await api.headers(CLERK), "Idempotency-Key": key}
    return await api.http.post("/issues", json=body, headers=headers)


def _issues(api: Api) -> int:
    with Session(api.engine) as session:
        return session.exec(select(func.count()).select_from(Issue)).one()


@pytest.fixture(scope="module")
async def first(any_read_model: Api) -> tuple[str, dict[str, Any]]:
    """One issue registered under a key, settled in the read model."""
    key = f"fingerprint-{uuid.uuid4()}"
    r = await _post(any_read_model, key, FIRST)
    assert r.status_code == 201, r.text
    await any_read_model.settled(r.json()["id"])
    return key, r.json()


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
async def test_the_same_key_with_another_body_is_refused_naming_the_key(
    any_read_model: Api, first: tuple[str, dict[str, Any]], change: dict[str, Any]
) -> None:
    api = any_read_model
    key, created = first
    before = _issues(api)
    r = await _post(api, key, {**FIRST, **change})
    assert problem(r, 422)["field"] == "Idempotency-Key"
    assert _issues(api) == before
    with Session(api.engine) as session:
        row = session.get(Issue, created["id"])
        assert row is not None
        assert (row.urgency, row.reporter_name, row.location) == ("normal", "张三", "新城社区东口")


async def test_the_same_body_however_written_is_the_first_issue(
    any_read_model: Api, first: tuple[str, dict[str, Any]]
) -> None:
    api = any_read_model
    key, created = first
    # Keys in another order, whitespace the API strips: the same validated request.
    again = {k: FIRST[k] for k in reversed(FIRST)} | {"title": f"  {FIRST['title']} "}
    r = await _post(api, key, again)
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ("id", "tracking_code", "pin")} == {
        k: created[k] for k in ("id", "tracking_code", "pin")
    }


async def test_defaults_written_out_are_the_same_request(any_read_model: Api) -> None:
    api = any_read_model
    key = f"defaults-{uuid.uuid4()}"
    bare = {k: FIRST[k] for k in ("village_code", "category", "title", "description")}
    r = await _post(api, key, bare)
    assert r.status_code == 201, r.text
    spelled = {**bare, "urgency": "normal", "attachments": [], "reporter": None, "location": None}
    again = await _post(api, key, spelled)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == r.json()["id"]
    changed = await _post(api, key, {**bare, "urgency": "urgent"})
    assert problem(changed, 422)["field"] == "Idempotency-Key"


async def test_the_row_keeps_the_fingerprint_beside_the_key(
    any_read_model: Api, first: tuple[str, dict[str, Any]]
) -> None:
    with Session(any_read_model.engine) as session:
        row = session.get(Issue, first[1]["id"])
    assert row is not None and row.idempotency_key == f"{CLERK}:{first[0]}"
    fingerprint = row.request_fingerprint
    assert fingerprint is not None and len(fingerprint) == len(hashlib.sha256().hexdigest())
