"""Open reporting without an account, its throttle, invalid marks and proposed topics, over the
real app, a time-skipping Temporal server, a worker and the read model.

Each test builds its own app on the round's engine and Temporal (so its throttle counts start at
zero, with limits small enough to reach) and uses phone numbers of its own. Every test runs on
SQLite, then on PostgreSQL (its own seeded database and worker).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from settings import Settings
from store.tables import Issue
from tests.api.conftest import VILLAGE, Api, problem
from tests.api.read_models import postgres_stack

CLERK = f"village-{VILLAGE}"


@dataclass(frozen=True)
class Stack:
    """The app's read model and the settings its worker runs with."""

    api: Api
    settings: Settings


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def stack(
    request: pytest.FixtureRequest,
    api: Api,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
) -> AsyncIterator[Stack]:
    """The session's SQLite stack, then the same over PostgreSQL (``postgres_stack``)."""
    if request.param == "sqlite":
        yield Stack(api, settings)
        return
    async with postgres_stack(settings, temporal_env) as (on_postgres, its_settings):
        yield Stack(on_postgres, its_settings)


@pytest.fixture
def staff(stack: Stack) -> Api:
    """The staff's calls, on the read model of this round."""
    return stack.api


@pytest.fixture
async def public(
    stack: Stack, temporal_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    limits = {"public_limit_per_address": "6/minute", "public_limit_per_phone": "2/minute"}
    app = create_app(
        stack.settings.model_copy(update=limits),
        temporal=temporal_env.client,
        engine=stack.api.engine,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as h:
            yield h


def _phone() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


def _report(phone: str, **more: Any) -> dict[str, Any]:
    return {
        "village_code": VILLAGE,
        "category": "sanitation",
        "description": "村口路灯坏了一个多月",
        "location": "村口",
        "attachments": ["https://example.org/p/1.jpg"],
        "phone": phone,
        **more,
    }


def _issues_with(engine: Engine, phone: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(col(Issue.reporter_phone) == phone)
        return session.exec(query).one()


async def test_a_citizen_reports_without_an_account_and_the_phone_stays_masked(
    public: httpx.AsyncClient, staff: Api
) -> None:
    phone = _phone()
    r = await public.post("/public/issues", json=_report(phone), headers={"Idempotency-Key": "k1"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "pending_accept" and len(created["pin"]) == 6
    again = await public.post(
        "/public/issues", json=_report(phone), headers={"Idempotency-Key": "k1"}
    )
    assert again.status_code == 201 and again.json()["id"] == created["id"]
    assert _issues_with(staff.engine, phone) == 1
    creds = {"tracking_code": created["tracking_code"], "pin": created["pin"]}
    tracked = (await public.post("/issues/track", json=creds)).json()
    assert (
        tracked["channel"] == "app"
        and tracked["reporter"]["phone"] == f"{phone[:3]}****{phone[-4:]}"
    )
    assert tracked["title"] == "村口路灯坏了一个多月"
    handling = (await staff.get(f"/issues/{created['id']}", as_user=CLERK)).json()
    assert handling["reporter"]["phone"] == phone


async def test_the_phones_limit_refuses_the_next_report_with_retry_after(
    public: httpx.AsyncClient, staff: Api
) -> None:
    phone = _phone()
    for _ in range(2):
        assert (await public.post("/public/issues", json=_report(phone))).status_code == 201
    r = await public.post("/public/issues", json=_report(phone))
    body = problem(r, 429)
    assert body["field"] == "phone" and body["type"] == "urn:linkage:problem:rate-limited"
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert _issues_with(staff.engine, phone) == 2  # nothing registered by the refused one


async def test_the_addresss_limit_refuses_whatever_the_phone(
    public: httpx.AsyncClient, staff: Api
) -> None:
    phones = [_phone() for _ in range(7)]
    answers = [(await public.post("/public/issues", json=_report(p))).status_code for p in phones]
    assert answers == [201] * 6 + [429]
    assert _issues_with(staff.engine, phones[-1]) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "not-a-phone"}, "phone"),
        ({"description": "坏"}, "description"),
        ({"village_code": "999999999999"}, "village_code"),
        ({"category": "no_such_category"}, "category"),
        ({"attachments": ["not a url"]}, "attachments.0"),
    ],
)
async def test_a_bad_field_is_a_problem_naming_it_and_registers_nothing(
    public: httpx.AsyncClient, staff: Api, change: dict[str, Any], field: str
) -> None:
    body = {**_report(_phone()), **change}
    r = await public.post("/public/issues", json=body)
    assert problem(r, 422)["field"] == field
    assert _issues_with(staff.engine, body["phone"]) == 0


async def test_a_duplicate_is_marked_invalid_the_citizen_is_told_and_a_supervisor_overturns(
    public: httpx.AsyncClient, staff: Api
) -> None:
    first = (await public.post("/public/issues", json=_report(_phone()))).json()
    second = (await public.post("/public/issues", json=_report(_phone()))).json()
    mark = {"kind": "duplicate", "reason": "同一路灯", "duplicate_of": first["tracking_code"]}
    r = await staff.act(second["id"], "invalid", mark, as_user=CLERK)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "invalid"
    creds = {"tracking_code": second["tracking_code"], "pin": second["pin"]}
    tracked = (await public.post("/issues/track", json=creds)).json()
    assert tracked["invalid"]["duplicate_code"] == first["tracking_code"]
    assert tracked["invalid"]["kind_label"] == "重复提交"
    listed = await staff.get("/issues", as_user="county-supervisor", status="invalid")
    assert second["id"] in [i["id"] for i in listed.json()["data"]]
    # Only oversight reviews; the village cannot clear its own mark.
    review = {"overturn": True, "note": "不是同一处"}
    refused = await staff.act(second["id"], "invalid/review", review, as_user=CLERK)
    assert refused.status_code == 403
    r = await staff.act(second["id"], "invalid/review", review, as_user="county-supervisor")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending_accept"
    row = await staff.settled(second["id"])
    assert row.invalid_kind is None and row.status == "pending_accept"


async def test_an_invalid_issue_leaves_the_units_figures(
    public: httpx.AsyncClient, staff: Api
) -> None:
    async def total() -> int:
        r = await staff.get("/stats", as_user=CLERK, unit=VILLAGE)
        assert r.status_code == 200, r.text
        return int(sum(r.json()["by_status"].values()))

    created = (await public.post("/public/issues", json=_report(_phone()))).json()
    await staff.settled(created["id"])
    before = await total()
    mark = {"kind": "spam", "reason": "广告"}
    assert (await staff.act(created["id"], "invalid", mark, as_user=CLERK)).status_code == 200
    await staff.settled(created["id"])
    assert await total() == before - 1


async def test_a_villager_proposes_a_topic_the_village_sees_the_phone_the_township_not(
    public: httpx.AsyncClient, staff: Api
) -> None:
    phone = _phone()
    body = {"village_code": VILLAGE, "title": "修一条通组路", "phone": phone}
    r = await public.post("/public/topics", json=body, headers={"Idempotency-Key": "t1"})
    assert r.status_code == 201, r.text
    assert r.json()["phone"] != phone
    again = await public.post("/public/topics", json=body, headers={"Idempotency-Key": "t1"})
    assert again.json()["id"] == r.json()["id"]
    own = (await staff.get("/topics", as_user=CLERK, village=VILLAGE)).json()
    assert [t["phone"] for t in own if t["id"] == r.json()["id"]] == [phone]
    above = (await staff.get("/topics", as_user="township-611025001", village=VILLAGE)).json()
    assert [t["phone"] for t in above if t["id"] == r.json()["id"]] == [
        f"{phone[:3]}****{phone[-4:]}"
    ]
