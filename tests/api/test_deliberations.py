"""/api/v1/deliberations through the real app, Temporal (time-skipping) and the read model:
opening, the contract's shapes, refusals that name the field and change nothing (quorum, votes,
四议 steps out of order, double ballots, outside one's jurisdiction), consensus to implementation,
and the public JSON of published decisions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from store.deliberation_tables import Deliberation
from store.tables import Department, Household
from tests.api.conftest import NEIGHBOUR, TOWNSHIP, VILLAGE, Api, problem

CLERK = f"village-{VILLAGE}"


async def _open(api: Api, **fields: Any) -> dict[str, Any]:
    body = {
        "unit": VILLAGE,
        "topic": "村道硬化选线",
        "kind": "representatives_meeting",
        "participants": [{"role": "villager_representative", "name": "王五", "unit": VILLAGE}],
        "departments": ["zhenan-zhujian"],
        **fields,
    }
    r = await api.http.post("/deliberations", json=body, headers=await api.headers(CLERK))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def _detail(api: Api, ident: str, user: str = CLERK) -> dict[str, Any]:
    for _ in range(200):
        r = await api.get(f"/deliberations/{ident}", as_user=user)
        if r.status_code == 200:
            body: dict[str, Any] = r.json()
            return body
        await asyncio.sleep(0.025)
    raise AssertionError(r.text)


async def _post(api: Api, ident: str, action: str, body: dict[str, Any], user: str = CLERK) -> Any:
    return await api.http.post(
        f"/deliberations/{ident}/{action}", json=body, headers=await api.headers(user)
    )


def _closing(
    outcome: str, present: int = 20, votes: dict[str, int] | None = None, **more: Any
) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "attendance": {"expected": 25, "present": present},
        "votes": votes if votes is not None else {"for": 15, "against": 3, "abstain": 1},
        "summary": "会议纪要",
        **more,
    }


DECISION = {"text": "硬化村道两公里", "responsible_unit": VILLAGE, "due": {"working_days": 20}}


async def test_open_answers_the_contract_and_the_detail_shows_the_round(api: Api) -> None:
    created = await _open(api)
    assert (created["status"], created["unit"], created["round"]) == ("open", VILLAGE, 1)
    assert created["deadline"] is not None
    detail = await _detail(api, created["id"])
    assert [r["number"] for r in detail["rounds"]] == [1]
    assert [e["type"] for e in detail["events"]] == ["opened", "round_opened"]
    listed = (await api.get("/deliberations", as_user=f"township-{TOWNSHIP}")).json()
    assert created["id"] in {d["id"] for d in listed["data"]}
    other = (await api.get("/deliberations", as_user=f"village-{NEIGHBOUR}")).json()
    assert created["id"] not in {d["id"] for d in other["data"]}


async def test_refusals_name_the_field_and_change_nothing(api: Api) -> None:
    ident = (await _open(api))["id"]
    before = await _detail(api, ident)
    below = _closing("consensus", present=16, votes={"for": 10, "against": 3, "abstain": 1})
    body = problem(await _post(api, ident, "close_round", {**below, "decision": DECISION}), 422)
    assert body["errors"][0]["field"] == "attendance"
    few = _closing("consensus", votes={"for": 9, "against": 9, "abstain": 2})
    body = problem(await _post(api, ident, "close_round", {**few, "decision": DECISION}), 422)
    assert body["errors"][0]["field"] == "votes"
    # A township leader reads the village's deliberation but does not act for the village.
    r = await _post(api, ident, "close_round", _closing("hard"), user=f"township-{TOWNSHIP}")
    assert problem(r, 403)["field"] == "unit"
    # Another village does not even see it.
    problem(
        await _post(api, ident, "close_round", _closing("hard"), user=f"village-{NEIGHBOUR}"), 404
    )
    after = await _detail(api, ident)
    assert after["events"] == before["events"] and after["rounds"] == before["rounds"]


async def test_opening_outside_ones_unit_is_refused_naming_unit(api: Api) -> None:
    r = await api.http.post(
        "/deliberations",
        json={"unit": NEIGHBOUR, "topic": "x", "kind": "hearing"},
        headers=await api.headers(CLERK),
    )
    assert problem(r, 403)["field"] == "unit"


async def test_four_deliberations_refuse_a_step_out_of_order(api: Api) -> None:
    ident = (await _open(api, kind="four_deliberations"))["id"]
    r = await _post(api, ident, "close_round", _closing("consensus", step="party_members"))
    assert problem(r, 422)["errors"][0]["field"] == "step"
    r = await _post(api, ident, "close_round", _closing("consensus", step="party_proposal"))
    assert r.status_code == 200, r.text
    detail = await _detail(api, ident)
    assert detail["status"] == "open"
    assert [s["step"] for s in detail["rounds"][0]["steps"]] == ["party_proposal"]


async def test_a_household_votes_once_whatever_the_channel(api: Api) -> None:
    code = f"H{uuid.uuid4().hex[:10].upper()}"
    with Session(api.engine) as session:
        session.add(
            Household(
                code=code,
                village_code=VILLAGE,
                number=int(uuid.uuid4().int % 10**6),
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    ident = (await _open(api, kind="poll", options=["北线", "南线"]))["id"]
    r = await _post(api, ident, "ballot", {"household": code, "option": "北线"})
    assert r.status_code == 200, r.text
    again = await _post(api, ident, "ballot", {"household": code, "option": "南线"})
    assert problem(again, 422)["errors"][0]["field"] == "household"
    unknown = await _post(api, ident, "ballot", {"household": "NOSUCHCODE", "option": "北线"})
    assert problem(unknown, 422)["errors"][0]["field"] == "household"
    detail = await _detail(api, ident)
    assert detail["ballots"] == 1 and detail["tally"] is None
    assert code not in str(detail)  # never beside the ballot, nor anywhere else


async def test_consensus_is_implemented_and_published(api: Api) -> None:
    ident = (await _open(api))["id"]
    r = await _post(api, ident, "close_round", {**_closing("consensus"), "decision": DECISION})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "implementing"
    r = await _post(api, ident, "progress", {"percent": 40, "note": "已开工"})
    assert r.status_code == 200, r.text
    for _ in range(200):
        with Session(api.engine) as session:
            row = session.get(Deliberation, ident)
            if row is not None and row.progress == 40:
                break
        await asyncio.sleep(0.025)
    detail = await _detail(api, ident)
    assert detail["decision"]["progress"] == 40 and detail["decision"]["via"] == "consensus"
    assert detail["rounds"][0]["votes"] == {"for": 15, "against": 3, "abstain": 1}
    public = (await api.http.get(f"/public/units/{VILLAGE}/deliberations")).json()["data"]
    mine = next(d for d in public if d["id"] == ident)
    assert (mine["decision"], mine["progress"], mine["decided_level"]) == (
        "硬化村道两公里",
        40,
        "village",
    )
    assert "王五" not in str(public)


async def test_statistics_count_consensus_and_decisions_by_level(api: Api) -> None:
    agreed = (await _open(api))["id"]
    await _post(api, agreed, "close_round", {**_closing("consensus"), "decision": DECISION})
    r = await _post(api, agreed, "complete", {"summary": "完工"})
    assert r.status_code == 200, r.text
    hard = (await _open(api))["id"]
    r = await _post(api, hard, "close_round", _closing("hard"))
    assert r.json()["status"] == "submitted"
    for _ in range(200):
        with Session(api.engine) as session:
            rows = [session.get(Deliberation, i) for i in (agreed, hard)]
            if (
                all(r is not None and r.consensus is not None for r in rows)
                and rows[0].completed_at
            ):
                break
        await asyncio.sleep(0.025)
    stats = (await api.get("/deliberations/stats", as_user=f"township-{TOWNSHIP}")).json()
    assert stats["by_status"].get("submitted", 0) >= 1
    assert stats["by_status"].get("awaiting_evaluation", 0) >= 1
    assert 0 < stats["consensus_share"] < 1
    village = stats["by_level"]["village"]
    assert village["completed"] >= 1 and village["on_time_rate"] is not None


async def test_a_retired_department_is_not_invited(api: Api) -> None:
    """A retired department takes no new work: inviting it is a 422 naming ``departments``, as
    whistling it is, and nothing opens."""
    code = f"zhenan-retired-{uuid.uuid4().hex[:6]}"
    with Session(api.engine) as session:
        session.add(
            Department(
                code=code,
                name="镇安县已撤销局",
                short_name="撤销",
                county_code="611025",
                active=False,
            )
        )
        session.commit()
    topic = f"邀请停用部门 {code}"
    body = {"unit": VILLAGE, "topic": topic, "kind": "hearing", "departments": [code]}
    r = await api.http.post("/deliberations", json=body, headers=await api.headers(CLERK))
    refusal = problem(r, 422)["errors"][0]
    assert refusal["field"] == "departments" and "已停用" in refusal["message"]
    gone = {
        **body,
        "departments": [],
        "participants": [{"role": "villager_representative", "unit": "611025999999"}],
    }
    r = await api.http.post("/deliberations", json=gone, headers=await api.headers(CLERK))
    assert problem(r, 422)["errors"][0]["field"] == "participants"
    with Session(api.engine) as session:
        assert not session.exec(select(Deliberation).where(Deliberation.topic == topic)).all()
