"""The inbox (what each caller is told) and ``GET /stats`` over hand-made read-model rows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from store.tables import Issue, IssueLevel, Notification
from tests.api.conftest import COUNTY, NEIGHBOUR, TOWNSHIP, Api, problem

INBOX_VILLAGE = "611025001004"  # 青河社区: only the inbox test registers here
INBOX_CLERK = f"village-{INBOX_VILLAGE}"

STATS_TOWNSHIP = "611025102"  # 铁厂镇: only the stats test writes here
VILLAGE_A = "611025102002"  # 铁厂社区
VILLAGE_B = "611025102201"  # 西沟口村委会
T0 = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)


async def _inbox(api: Api, user: str, **params: Any) -> dict[str, Any]:
    r = await api.get("/inbox", as_user=user, **params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_unit_hears_of_its_new_issue_and_marks_it_read(api: Api) -> None:
    created = await api.register(INBOX_VILLAGE, title="收件箱测试")
    for _ in range(200):  # notices go out in the background, after the registration answers
        unread = await _inbox(api, INBOX_CLERK, unread=True)
        if unread["data"]:
            break
        await asyncio.sleep(0.05)
    notice = next(n for n in unread["data"] if n["issue_id"] == created["id"])
    assert notice["target_kind"] == "unit" and notice["target_code"] == INBOX_VILLAGE
    assert "收件箱测试" in notice["title"] and notice["read_at"] is None
    before = unread["unread"]

    # Another village neither sees nor touches it.
    others = await _inbox(api, f"village-{NEIGHBOUR}", limit=500)
    assert notice["id"] not in {n["id"] for n in others["data"]}
    problem(
        await api.http.post(
            f"/inbox/{notice['id']}/read", headers=await api.headers(f"village-{NEIGHBOUR}")
        ),
        404,
    )

    r = await api.http.post(f"/inbox/{notice['id']}/read", headers=await api.headers(INBOX_CLERK))
    assert r.status_code == 200 and r.json()["read_at"] is not None
    again = await api.http.post(
        f"/inbox/{notice['id']}/read", headers=await api.headers(INBOX_CLERK)
    )
    assert again.json()["read_at"] == r.json()["read_at"]  # the first reading stands
    after = await _inbox(api, INBOX_CLERK, unread=True)
    assert after["unread"] == before - 1
    assert notice["id"] not in {n["id"] for n in after["data"]}
    assert notice["id"] in {n["id"] for n in (await _inbox(api, INBOX_CLERK, unread=False))["data"]}


async def test_supervisors_hear_of_their_subtree_and_admins_of_admin_notices(api: Api) -> None:
    now = datetime.now(UTC)
    rows = {
        kind: Notification(
            kind="overdue",
            channel="inbox",
            target_kind=kind,
            target_code=code,
            title=f"测试 {kind}",
            body="",
            status="sent",
            idempotency_key=f"test-{uuid.uuid4()}",
            created_at=now,
        )
        for kind, code in (("supervisors", TOWNSHIP), ("admins", COUNTY))
    }
    with Session(api.engine, expire_on_commit=False) as session:
        session.add_all(rows.values())
        session.commit()
    ids = {kind: row.id for kind, row in rows.items()}

    async def seen(user: str) -> set[int]:
        return {n["id"] for n in (await _inbox(api, user, limit=500))["data"]}

    assert ids["supervisors"] in await seen("county-supervisor")
    assert ids["admins"] not in await seen("county-supervisor")
    assert ids["admins"] in await seen("county-admin")
    township = await seen(f"township-{TOWNSHIP}")
    assert ids["supervisors"] not in township and ids["admins"] not in township


def _issue(code: str, status: str, **fields: Any) -> Issue:
    township_path = f"/{COUNTY}/{STATS_TOWNSHIP}/"
    issue_id = uuid.uuid4().hex
    values: dict[str, Any] = {
        "id": issue_id,
        "tracking_code": issue_id[:10].upper(),
        "category": "sanitation",
        "title": "统计",
        "description": "统计用",
        "urgency": "normal",
        "channel": "walk_in",
        "village_code": code,
        "unit_code": code,
        "unit_path": f"{township_path}{code}/",
        "registered_unit_path": f"{township_path}{code}/",
        "level": "village",
        "status": status,
        "registered_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return Issue(**values)


def _level(
    issue: Issue, idx: int, unit: str, accepted: bool, outcome: str | None, on_time: bool | None
) -> IssueLevel:
    return IssueLevel(
        issue_id=issue.id,
        idx=idx,
        level="township" if unit == STATS_TOWNSHIP else "village",
        unit_code=unit,
        unit_name=unit,
        entered_at=T0,
        deadline=T0 + timedelta(days=3),
        accept_deadline=T0 + timedelta(days=1),
        accepted_on_time=accepted,
        outcome=outcome,
        on_time=on_time,
    )


@pytest.fixture(scope="module")
def stats_rows(api: Api) -> None:
    """Four issues in 铁厂镇, worked by hand in ``test_stats_of_a_township``."""

    def hours(h: int) -> datetime:
        return T0 + timedelta(hours=h)

    a1 = _issue(
        VILLAGE_A,
        "closed",
        resolution_level="village",
        resolved_at=hours(2),
        feedback_solved=True,
        feedback_satisfaction="satisfied",
    )
    a2 = _issue(
        VILLAGE_A,
        "closed",
        resolution_level="township",
        resolved_at=hours(10),
        feedback_solved=True,
        feedback_satisfaction="basically_satisfied",
        unit_code=STATS_TOWNSHIP,
        unit_path=f"/{COUNTY}/{STATS_TOWNSHIP}/",
        level="township",
    )
    a3 = _issue(VILLAGE_A, "in_progress", warnings_sent=1)
    b1 = _issue(
        VILLAGE_B,
        "closed",
        resolution_level="village",
        resolved_at=hours(4),
        feedback_solved=False,
        feedback_satisfaction="unsatisfied",
    )
    levels = [
        _level(a1, 0, VILLAGE_A, True, "resolved", True),
        _level(a2, 0, VILLAGE_A, False, "escalated_on_timeout", False),
        _level(a2, 1, STATS_TOWNSHIP, True, "resolved", True),
        _level(a3, 0, VILLAGE_A, True, None, None),
        _level(b1, 0, VILLAGE_B, True, "resolved", True),
    ]
    with Session(api.engine) as session:
        session.add_all([a1, a2, a3, b1])
        session.flush()
        session.add_all(levels)
        session.commit()


async def test_stats_of_a_township(api: Api, stats_rows: None) -> None:
    r = await api.get("/stats", as_user="county-supervisor", unit=STATS_TOWNSHIP)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["unit"] == {"code": STATS_TOWNSHIP, "name": "铁厂镇"}
    assert s["total"] == 4
    assert s["by_status"]["closed"] == 3 and s["by_status"]["in_progress"] == 1
    assert (s["open"], s["warning"], s["overdue"], s["resolved"]) == (1, 1, 0, 3)
    assert s["resolution_share"] == pytest.approx(
        {"village": 2 / 3, "township": 1 / 3, "county": 0}
    )
    assert s["on_time"]["village"] == pytest.approx(2 / 3)
    assert s["on_time"]["township"] == 1.0 and s["on_time"]["county"] is None
    # Resolved after 2 h, 10 h, 4 h: median 4 h; p90 at rank 1.8 → 4 + 0.8 × 6 = 8.8 h.
    assert s["time_to_resolve"] == {
        "count": 3,
        "median_seconds": 4 * 3600,
        "p90_seconds": pytest.approx(8.8 * 3600),
    }
    rates = s["rates"]
    assert rates["response"] == pytest.approx(4 / 5)
    assert rates["resolution"] == pytest.approx(2 / 3)
    assert rates["satisfaction"] == pytest.approx(1.9 / 3)
    assert rates["composite"] == pytest.approx(0.1 * 0.8 + 0.5 * 2 / 3 + 0.4 * 1.9 / 3)

    top = s["rankings"][:3]
    assert [(x["unit"]["code"], x["rank"]) for x in top[:2]] == [(VILLAGE_A, 1), (VILLAGE_B, 2)]
    # 铁厂社区: response 2/3, resolution 2/2, satisfaction 1.9/2.
    assert top[0]["rates"]["composite"] == pytest.approx(0.1 * 2 / 3 + 0.5 + 0.4 * 0.95)
    assert top[1]["rates"]["composite"] == pytest.approx(0.1)
    assert top[2]["rates"]["composite"] is None and top[2]["total"] == 0


async def test_stats_period_and_permissions(api: Api, stats_rows: None) -> None:
    later = await api.get(
        "/stats", as_user="county-supervisor", unit=STATS_TOWNSHIP, since="2025-02-01"
    )
    assert later.json()["total"] == 0 and later.json()["rates"]["composite"] is None
    window = await api.get(
        "/stats",
        as_user="county-admin",
        unit=STATS_TOWNSHIP,
        since="2025-01-01",
        until="2025-01-07",
    )
    assert window.json()["total"] == 4
    own = await api.get("/stats", as_user=f"township-{STATS_TOWNSHIP}")
    assert own.json()["unit"]["code"] == STATS_TOWNSHIP and own.json()["total"] == 4

    outside = await api.get("/stats", as_user=f"township-{TOWNSHIP}", unit=STATS_TOWNSHIP)
    assert problem(outside, 403)["field"] == "unit"
    assert problem(await api.get("/stats", as_user="county-admin", unit="nope"), 422)["field"] == (
        "unit"
    )
    problem(await api.get("/stats", as_user="dept-zhenan-zhujian"), 403)
