"""Reading issues (live and recorded), phone masking, lists with filters and cursors, and the
422s of action bodies."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import PHONE, TOWNSHIP, VILLAGE, Api, instants, problem

CLERK = f"village-{VILLAGE}"
LEADER = f"township-{TOWNSHIP}"
LIST_VILLAGE = "611025001003"  # 青槐社区: only the list test registers here
LIST_CLERK = f"village-{LIST_VILLAGE}"


async def _detail(api: Api, issue_id: str, user: str) -> dict[str, Any]:
    r = await api.get(f"/issues/{issue_id}", as_user=user)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_an_open_issue_reads_its_own_writes_from_the_read_model(api: Api) -> None:
    # An action answers after its record: the read that follows sees it, with no live query.
    created = await api.register(location="新城社区东口", attachments=["https://example.org/1.jpg"])
    await api.ok(created["id"], "accept", {"note": "已签收"}, as_user=CLERK)
    body = await _detail(api, created["id"], CLERK)
    assert body["source"] == "record"
    assert (body["status"], body["status_label"], body["level"]) == (
        "in_progress",
        "办理中",
        "village",
    )
    assert body["unit"] == {"code": VILLAGE, "name": "新城社区居委会"}
    assert body["category_name"] == "环境卫生"
    assert body["location"] == "新城社区东口"
    assert body["attachments"] == ["https://example.org/1.jpg"]
    assert [e["type"] for e in body["events"]] == ["registered", "level_entered", "accepted"]
    assert body["events"][2]["label"] == "签收"
    assert body["events"][2]["actor"]["user"] == CLERK
    assert body["levels"][0]["accepted_at"] is not None
    assert instants(body["deadline"]) == instants(created["deadline"])


async def test_the_supervisors_live_view_has_the_read_models_shape(api: Api) -> None:
    created = await api.register()
    await api.ok(created["id"], "accept", as_user=CLERK)
    await api.ok(created["id"], "progress", {"note": "已到现场"}, as_user=CLERK)
    recorded = await _detail(api, created["id"], CLERK)
    r = await api.get(f"/issues/{created['id']}/live", as_user="county-supervisor")
    assert r.status_code == 200, r.text
    live = r.json()
    assert live["source"] == "live" and recorded["source"] == "record"
    masked = {**recorded, "reporter": live["reporter"], "source": "live"}
    assert instants(live) == instants(masked)
    problem(await api.get(f"/issues/{created['id']}/live", as_user=CLERK), 403)


async def test_read_model_and_live_answers_have_the_same_shape(api: Api) -> None:
    created = await api.register()
    await api.ok(created["id"], "accept", as_user=CLERK)
    await api.ok(created["id"], "withdraw", {"reason": "群众电话撤回"}, as_user=CLERK)
    await api.settled(created["id"])
    recorded = await _detail(api, created["id"], CLERK)
    assert recorded["source"] == "record" and recorded["status"] == "withdrawn"
    live_view = await api.state(created["id"])
    assert [e["seq"] for e in recorded["events"]] == [e.seq for e in live_view.events]
    assert recorded["levels"][0]["outcome"] == "withdrawn"
    assert recorded["closed_at"] is not None and recorded["deadline"] is None


async def test_phones_are_masked_for_all_but_the_handling_unit_and_admins(api: Api) -> None:
    created = await api.register()
    issue_id = created["id"]

    async def phone(user: str) -> str:
        return str((await _detail(api, issue_id, user))["reporter"]["phone"])

    assert await phone(CLERK) == PHONE
    assert await phone("county-admin") == PHONE
    assert await phone(LEADER) == "138****1234"
    assert await phone("county-supervisor") == "138****1234"
    await api.ok(issue_id, "accept", as_user=CLERK)
    whistle = {"departments": ["zhenan-zhujian"], "reason": "需住建部门"}
    await api.ok(issue_id, "whistle", whistle, as_user=CLERK)
    assert await phone("dept-zhenan-zhujian") == "138****1234"

    await api.ok(issue_id, "escalate", {"reason": "超出村级权限"}, as_user=CLERK)
    # The township handles it now: the village sees the mask.
    assert await phone(LEADER) == PHONE
    assert await phone(CLERK) == "138****1234"


async def test_action_retries_with_the_same_idempotency_key_apply_once(api: Api) -> None:
    created = await api.register()
    key = f"accept-{uuid.uuid4()}"
    first = await api.act(created["id"], "accept", as_user=CLERK, key=key)
    again = await api.act(created["id"], "accept", as_user=CLERK, key=key)
    assert first.status_code == again.status_code == 200, again.text
    assert first.json()["duplicate"] is False
    assert again.json()["seq"] == first.json()["seq"]
    state = await api.state(created["id"])
    assert [e.type.value for e in state.events].count("accepted") == 1


async def test_action_bodies_name_their_bad_fields_and_change_nothing(api: Api) -> None:
    created = await api.register()
    issue_id = created["id"]
    await api.ok(issue_id, "accept", as_user=CLERK)
    before = (await api.state(issue_id)).next_seq
    cases: list[tuple[str, dict[str, Any], str, int]] = [
        ("progress", {}, "note", 422),
        ("progress", {"note": "  "}, "note", 422),
        ("escalate", {"reason": ""}, "reason", 422),
        ("whistle", {"departments": ["zhenan-nosuch"], "reason": "x"}, "departments", 422),
        ("whistle", {"departments": [], "reason": "x"}, "departments", 422),
        ("transfer", {"unit": "611025999999", "reason": "x"}, "unit", 422),
        ("extension", {"reason": "x"}, "working_days", 422),
        ("extension", {"duration": "4 hours", "reason": "x"}, "duration", 422),
        ("extension", {"working_days": 1, "duration": "PT4H", "reason": "x"}, "duration", 422),
        ("extension", {"working_days": 0, "reason": "x"}, "working_days", 422),
        ("feedback", {"solved": "maybe", "satisfaction": "satisfied"}, "solved", 422),
        ("feedback", {"solved": True, "satisfaction": "ok"}, "satisfaction", 422),
        # Valid shape, refused by the workflow: longer than the level's 3 working days.
        ("extension", {"working_days": 10, "reason": "x"}, "working_days", 409),
        # The same in the other unit: natural time against a working-day level.
        ("extension", {"duration": "PT4H", "reason": "x"}, "duration", 409),
        ("transfer", {"unit": TOWNSHIP, "reason": "x"}, "unit", 409),  # not the same kind
    ]
    for action, body, field, status in cases:
        r = await api.act(issue_id, action, body, as_user=CLERK)
        assert problem(r, status).get("field") == field, (action, body, r.text)
    assert (await api.state(issue_id)).next_seq == before


async def test_unknown_and_malformed_issue_ids_are_404(api: Api) -> None:
    problem(await api.get("/issues/" + "f" * 32, as_user=CLERK), 404)
    problem(await api.get("/issues/not-an-id", as_user=CLERK), 404)
    problem(await api.act("f" * 32, "accept", as_user=CLERK), 404)


async def test_lists_filter_and_page_with_an_opaque_cursor(api: Api) -> None:
    ids = []
    for i, (urgency, category) in enumerate(
        [("normal", "sanitation"), ("urgent", "sanitation"), ("normal", "public_order")]
    ):
        created = await api.register(
            LIST_VILLAGE, urgency=urgency, category=category, title=f"列表{i}"
        )
        ids.append(created["id"])
    await api.ok(ids[0], "accept", as_user=LIST_CLERK)
    for issue_id in ids:
        await api.settled(issue_id)

    async def listing(user: str = LIST_CLERK, **params: Any) -> dict[str, Any]:
        r = await api.get("/issues", as_user=user, unit=LIST_VILLAGE, **params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    everything = await listing()
    assert everything["count"] == 3 and everything["next_cursor"] is None
    assert [i["id"] for i in everything["data"]] == ids[::-1]  # newest first

    first = await listing(limit=2)
    assert first["count"] == 3 and len(first["data"]) == 2 and first["next_cursor"]
    second = await listing(limit=2, cursor=first["next_cursor"])
    assert second["next_cursor"] is None
    assert [i["id"] for i in first["data"] + second["data"]] == ids[::-1]

    assert [i["id"] for i in (await listing(urgency="urgent"))["data"]] == [ids[1]]
    assert [i["id"] for i in (await listing(category="public_order"))["data"]] == [ids[2]]
    assert [i["id"] for i in (await listing(status="in_progress"))["data"]] == [ids[0]]
    assert (await listing(level="township"))["count"] == 0
    assert (await listing(overdue=True))["count"] == 0
    assert (await listing(since="2000-01-01T00:00:00Z", until="2000-01-02"))["count"] == 0
    summary = everything["data"][0]
    assert summary["unit"] == {"code": LIST_VILLAGE, "name": "青槐社区居委会"}
    assert summary["status_label"] == "待签收"

    # The township sees its villages' issues; a neighbour village sees none of these.
    assert (await listing(user=LEADER))["count"] == 3
    r = await api.get("/issues", as_user=CLERK, unit=LIST_VILLAGE)
    assert problem(r, 403)["field"] == "unit"
    mine = await api.get("/issues", as_user=CLERK, limit=200)
    assert not {i["id"] for i in mine.json()["data"]} & set(ids)


async def test_list_parameters_name_their_field(api: Api) -> None:
    for params, field in [
        ({"cursor": "!!!"}, "cursor"),
        ({"unit": "611025999999"}, "unit"),
        ({"status": "sleeping"}, "status"),
        ({"limit": 0}, "limit"),
        ({"since": "yesterday"}, "since"),
    ]:
        r = await api.get("/issues", as_user=LEADER, **params)
        assert problem(r, 422)["field"] == field, params


async def test_a_department_lists_only_issues_it_is_named_or_called_in(api: Api) -> None:
    created = await api.register(category="rural_drinking_water")  # 水利, 卫健
    await api.settled(created["id"])
    named = await api.get("/issues", as_user="dept-zhenan-shuili", category="rural_drinking_water")
    assert created["id"] in {i["id"] for i in named.json()["data"]}
    other = await api.get("/issues", as_user="dept-zhenan-gongan", limit=200)
    assert created["id"] not in {i["id"] for i in other.json()["data"]}
    # Called in by 吹哨, a department sees the issue too.
    await api.ok(created["id"], "accept", as_user=CLERK)
    await api.ok(
        created["id"], "whistle", {"departments": ["zhenan-gongan"], "reason": "x"}, as_user=CLERK
    )
    await api.settled(created["id"])
    called = await api.get("/issues", as_user="dept-zhenan-gongan", limit=200)
    assert created["id"] in {i["id"] for i in called.json()["data"]}
    reported = await api.ok(
        created["id"], "report", {"contribution": "已到场"}, as_user="dept-zhenan-gongan"
    )
    assert reported["status"] == "in_progress"
    detail = await _detail(api, created["id"], "dept-zhenan-gongan")
    assert detail["departments"][0]["name"] == "镇安县公安局"
    assert detail["departments"][0]["contribution"] == "已到场"
