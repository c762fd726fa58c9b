"""Citizens: tracking code + PIN to follow, rate and withdraw their own issue; lockout on
guessing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from store.tables import Issue
from tests.api.conftest import PHONE, VILLAGE, Api, problem

CLERK = f"village-{VILLAGE}"


def _wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 1_000_000:06d}"


async def _track(api: Api, issue: dict[str, Any], pin: str | None = None) -> Any:
    return await api.http.post(
        "/issues/track",
        json={"tracking_code": issue["tracking_code"], "pin": pin or issue["pin"]},
    )


async def test_a_citizen_follows_their_issue_with_a_masked_phone(api: Api) -> None:
    created = await api.register()
    await api.settled(created["id"])
    # Tracking codes are read over the phone: case and dashes do not matter.
    typed = created["tracking_code"].lower()
    r = await api.http.post(
        "/issues/track", json={"tracking_code": f"{typed[:5]}-{typed[5:]}", "pin": created["pin"]}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == created["id"] and body["status"] == "pending_accept"
    assert body["reporter"]["phone"] == "138****1234"


async def test_five_wrong_pins_lock_the_issue_for_fifteen_minutes(api: Api) -> None:
    created = await api.register()
    await api.settled(created["id"])
    wrong = _wrong(created["pin"])
    for _ in range(4):
        problem(await _track(api, created, wrong), 401)
    locked = await _track(api, created, wrong)  # the fifth
    body = problem(locked, 429)
    assert body["type"].endswith("pin-locked")
    assert 14 * 60 <= int(locked.headers["retry-after"]) <= 15 * 60 + 1
    # While locked even the right PIN is refused, and so are actions with it.
    problem(await _track(api, created), 429)
    r = await api.act(
        created["id"],
        "withdraw",
        {"tracking_code": created["tracking_code"], "pin": created["pin"]},
        as_user=None,
    )
    problem(r, 429)
    assert (await api.state(created["id"])).status.value == "pending_accept"

    with Session(api.engine) as session:
        row = session.get(Issue, created["id"])
        assert row is not None and row.pin_failures == 5
        assert row.pin_locked_until is not None
        assert row.pin_locked_until - datetime.now(UTC) > timedelta(minutes=14)
        # Fifteen minutes later (moved by hand: the API's clock is the real one).
        row.pin_locked_until = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()

    # A lock that has run out starts a fresh count: one wrong PIN is not a new lock.
    problem(await _track(api, created, wrong), 401)
    assert (await _track(api, created)).status_code == 200
    with Session(api.engine) as session:
        row = session.get(Issue, created["id"])
        assert row is not None and (row.pin_failures, row.pin_locked_until) == (0, None)


async def test_the_pin_counters_survive_the_recorder(api: Api) -> None:
    created = await api.register()
    await api.settled(created["id"])
    problem(await _track(api, created, _wrong(created["pin"])), 401)
    await api.ok(created["id"], "accept", as_user=CLERK)  # the recorder rewrites the row
    await api.settled(created["id"])
    with Session(api.engine) as session:
        row = session.get(Issue, created["id"])
        assert row is not None and row.pin_failures == 1


async def test_an_unknown_tracking_code_looks_like_a_wrong_pin(api: Api) -> None:
    r = await api.http.post("/issues/track", json={"tracking_code": "ZZZZZZZZZZ", "pin": "123456"})
    assert problem(r, 401)["detail"] == "查询码或查询密码不正确"


async def test_half_a_credential_names_the_missing_field(api: Api) -> None:
    created = await api.register()
    r = await api.act(
        created["id"],
        "withdraw",
        {"tracking_code": created["tracking_code"]},
        as_user=None,
    )
    assert problem(r, 422)["field"] == "pin"
    r = await api.http.post("/issues/track", json={"tracking_code": "ABCDEFGHJK", "pin": "12"})
    assert problem(r, 422)["field"] == "pin"


async def test_a_pin_opens_only_its_own_issue(api: Api) -> None:
    mine = await api.register()
    other = await api.register()
    await api.settled(mine["id"])
    r = await api.act(
        other["id"],
        "withdraw",
        {"tracking_code": mine["tracking_code"], "pin": mine["pin"]},
        as_user=None,
    )
    problem(r, 404)
    assert (await api.state(other["id"])).status.value == "pending_accept"


async def test_citizen_rates_the_result_and_the_closed_issue_is_read_from_the_record(
    api: Api,
) -> None:
    created = await api.register()
    issue_id = created["id"]
    await api.ok(issue_id, "accept", as_user=CLERK)
    await api.ok(issue_id, "resolve", {"summary": "垃圾已清运"}, as_user=CLERK)
    await api.settled(issue_id)
    credentials = {"tracking_code": created["tracking_code"], "pin": created["pin"]}
    result = await api.act(
        issue_id,
        "feedback",
        {"solved": True, "satisfaction": "basically_satisfied", "comment": "还行", **credentials},
        as_user=None,
    )
    assert result.status_code == 200, result.text
    assert result.json()["status"] == "closed"
    await api.settled(issue_id)

    r = await api.get(f"/issues/{issue_id}", as_user=CLERK)
    body = r.json()
    assert body["source"] == "record" and body["status"] == "closed"
    assert (
        body["resolution"]["level"] == "village" and body["resolution"]["summary"] == "垃圾已清运"
    )
    assert body["feedback"]["satisfaction"] == "basically_satisfied"
    assert [e["type"] for e in body["events"]][-2:] == ["feedback", "closed"]
    assert body["events"][-2]["actor"]["role"] == "citizen"
    assert body["levels"][0]["outcome"] == "resolved" and body["levels"][0]["on_time"] is True
    assert body["reporter"]["phone"] == PHONE  # still the handling unit

    # A closed issue takes no more actions: 409, from the record, without Temporal.
    again = await api.act(issue_id, "withdraw", credentials, as_user=None)
    assert "已办结" in problem(again, 409)["detail"]
