"""The 公示栏 through the real app, Temporal (time-skipping) and the read model, on SQLite and
PostgreSQL: closed issues of a unit's subtree for a period with an approved title or the
category's neutral wording, published decisions, the figures of ``GET /stats``; the page, the
JSON and the printed notice carry no name, no phone and no word the citizen wrote; the handling
unit's approval of a title (audited, refused to others, refused when it names the reporter)."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest
from sqlmodel import Session

from store.deliberation_tables import Deliberation
from tests.api.conftest import Api, problem
from tests.api.read_models import any_read_model

__all__ = ["any_read_model"]  # the fixture, imported for pytest

TOWNSHIP = "611025107"  # 高峰镇: no other test registers issues there
VILLAGE = "611025107204"  # 渔坪村委会
OTHER_VILLAGE = "611025107208"  # 升坪村委会, same township
CLERK = f"village-{VILLAGE}"
ZONE = ZoneInfo("Asia/Shanghai")
# What the citizen said and who they are: none of it may reach the public.
NAME, PHONE = "王秀英", "13912345678"
PRIVATE_TITLE = "王秀英家门口的垃圾"
PRIVATE_TEXT = "我是王秀英，电话13912345678，门口垃圾三天没人管"
COMMENT = "处理得很快谢谢王书记"
PRIVATE = (NAME, PHONE, PRIVATE_TITLE, PRIVATE_TEXT, COMMENT)
APPROVED = "渔坪村村道垃圾清运"
CHECKED = "渔坪村河道清理"
SITE = "http://testserver"


async def _closed(api: Api, village: str = VILLAGE) -> dict[str, Any]:
    """An issue registered with private words, resolved at the village and rated: closed."""
    created = await api.register(
        village,
        title=PRIVATE_TITLE,
        description=PRIVATE_TEXT,
        reporter={"name": NAME, "phone": PHONE},
    )
    clerk = f"village-{village}"
    await api.ok(created["id"], "accept", as_user=clerk)
    await api.ok(created["id"], "resolve", {"summary": "已清运"}, as_user=clerk)
    await api.settled(created["id"])
    credentials = {"tracking_code": created["tracking_code"], "pin": created["pin"]}
    rating = {"solved": True, "satisfaction": "satisfied", "comment": COMMENT, **credentials}
    r = await api.act(created["id"], "feedback", rating, as_user=None)
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    row = await api.settled(created["id"])
    assert row.closed_at is not None
    return {**created, "closed_at": row.closed_at}


async def _publish(api: Api, issue_id: str, title: str | None, user: str = CLERK) -> Any:
    return await api.http.post(
        f"/issues/{issue_id}/publication", json={"title": title}, headers=await api.headers(user)
    )


def _month(moment: datetime) -> str:
    return f"{moment.astimezone(ZONE):%Y-%m}"


def _pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "".join(page.extract_text() for page in reader.pages)


async def _decision(api: Api) -> str:
    """A village council's consensus with a decision, recorded by its workflow."""
    r = await api.http.post(
        "/deliberations",
        json={
            "unit": VILLAGE,
            "topic": "渔坪村垃圾收集点选址",
            "kind": "representatives_meeting",
            "participants": [{"role": "villager_representative", "name": "赵六", "unit": VILLAGE}],
        },
        headers=await api.headers(CLERK),
    )
    assert r.status_code == 201, r.text
    ident: str = r.json()["id"]
    closing = {
        "outcome": "consensus",
        "attendance": {"expected": 25, "present": 20},
        "votes": {"for": 15, "against": 3, "abstain": 1},
        "summary": "会议纪要",
        "decision": {"text": "在村委会东侧设收集点", "responsible_unit": VILLAGE, "due": "P10D"},
    }
    r = await api.http.post(
        f"/deliberations/{ident}/close_round", json=closing, headers=await api.headers(CLERK)
    )
    assert r.status_code == 200, r.text
    for _ in range(400):
        with Session(api.engine) as session:
            row = session.get(Deliberation, ident)
            if row is not None and row.decision_text is not None:
                return ident
        await asyncio.sleep(0.025)
    raise AssertionError("the decision never reached the read model")


async def test_the_board_publishes_closed_issues_decisions_and_figures_without_names(
    any_read_model: Api,
) -> None:
    api = any_read_model
    approved, _neutral = await _closed(api), await _closed(api)
    open_issue = await api.register(VILLAGE, title=PRIVATE_TITLE, reporter={"phone": PHONE})
    r = await _publish(api, approved["id"], APPROVED)
    assert r.status_code == 200 and r.json()["public_title"] == APPROVED, r.text
    await _decision(api)
    month = _month(approved["closed_at"])

    r = await api.http.get(f"/public/units/{TOWNSHIP}/disclosures", params={"month": month})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unit"] == {"code": TOWNSHIP, "name": "高峰镇"}
    assert body["ancestors"] == [{"code": "611025", "name": "镇安县"}]
    mine = [i for i in body["issues"] if i["village"]["code"] == VILLAGE]
    assert len(mine) == 2 and body["issues_count"] >= 2  # the open issue is not on the board
    titles = {i["title"]: i for i in mine}
    assert set(titles) == {APPROVED, "环境卫生方面的诉求"}
    assert titles[APPROVED]["title_approved"] and not titles["环境卫生方面的诉求"]["title_approved"]
    for issue in mine:
        assert (issue["resolved_level"], issue["resolved_level_name"]) == ("village", "村级")
        assert issue["resolved_unit"] == "渔坪村委会" and issue["on_time"] is True
        assert (issue["satisfaction"], issue["satisfaction_name"]) == ("satisfied", "满意")
    decision = next(d for d in body["decisions"] if d["topic"] == "渔坪村垃圾收集点选址")
    assert decision["decision"] == "在村委会东侧设收集点" and decision["status"] == "implementing"
    assert decision["responsible_unit"] == {"code": VILLAGE, "name": "渔坪村委会"}

    # The figures are /stats's for the same unit and period, and the quarter holds the month.
    figures, quarter = body["figures"], body["quarter"]
    stats = await api.get(
        "/stats",
        as_user="county-admin",
        unit=TOWNSHIP,
        since=figures["period"]["since"],
        until=figures["period"]["until"],
    )
    assert stats.status_code == 200, stats.text
    expected = stats.json()
    assert figures["registered"] == expected["total"] >= 3
    assert figures["resolution_share"] == expected["resolution_share"]
    for rate in ("response", "resolution", "satisfaction", "composite", "feedback"):
        assert figures["rates"][rate] == expected["rates"][rate], rate
    assert quarter["period"]["since"] <= figures["period"]["since"]
    assert quarter["registered"] >= figures["registered"]

    # Nothing private anywhere: the JSON, the village's page, the printed notice.
    page = await api.http.get(f"{SITE}/public/{VILLAGE}", params={"month": month})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert APPROVED in page.text and "在村委会东侧设收集点" in page.text
    pdf = await api.http.get(f"{SITE}/public/{VILLAGE}/notice.pdf", params={"month": month})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    year, number = month.split("-")
    assert f"{year}年{int(number)}月" in text and "渔坪村委会 公示栏" in text
    assert APPROVED in text and "环境卫生方面的诉求" in text and "在村委会东侧设收集点" in text
    for published in (r.text, page.text, text):
        for private in (*PRIVATE, "赵六", open_issue["tracking_code"]):
            assert private not in published


async def test_the_period_chooses_what_is_shown(any_read_model: Api) -> None:
    api = any_read_model
    closed = await _closed(api, OTHER_VILLAGE)
    at = closed["closed_at"]
    path = f"/public/units/{OTHER_VILLAGE}/disclosures"
    around = {"since": (at.replace(microsecond=0)).isoformat(), "until": "2099-01-01T00:00:00Z"}
    r = await api.http.get(path, params=around)
    assert r.status_code == 200 and r.json()["issues_count"] >= 1, r.text
    r = await api.http.get(path, params={"month": "2001-01"})
    body = r.json()
    assert body["issues"] == [] and body["issues_count"] == 0
    assert body["period"]["label"] == "2001年1月" and body["quarter"]["period"]["label"] == (
        "2001年第1季度"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"month": "2026-13"}, "month"),
        ({"month": "26-01"}, "month"),
        ({"month": "1999-12"}, "month"),
        ({"month": "2026-01", "since": "2026-01-01T00:00:00Z"}, "month"),
        ({"since": "2026-01-01T00:00:00Z"}, "until"),
        ({"until": "2026-01-01T00:00:00Z"}, "since"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"since": "9999-12-31T23:59:59-23:59", "until": "2026-01-01T00:00:00Z"}, "since"),
    ],
)
async def test_a_bad_period_is_a_problem_naming_the_parameter(
    any_read_model: Api, params: dict[str, str], field: str
) -> None:
    r = await any_read_model.http.get(f"/public/units/{VILLAGE}/disclosures", params=params)
    assert problem(r, 422)["field"] == field


async def test_an_unknown_unit_has_no_board(any_read_model: Api) -> None:
    problem(await any_read_model.http.get("/public/units/999999/disclosures"), 404)
    r = await any_read_model.http.get(f"{SITE}/public/999999")
    assert r.status_code == 404


async def test_only_the_handling_unit_approves_a_title_and_it_is_audited(api: Api) -> None:
    closed = await _closed(api)
    ident = closed["id"]
    problem(await _publish(api, ident, CHECKED, user="village-611025001001"), 404)  # elsewhere
    body = problem(await _publish(api, ident, CHECKED, user=f"township-{TOWNSHIP}"), 403)
    assert body["field"] == "title"
    for private in (f"{NAME}反映的垃圾", f"垃圾 {PHONE}"):
        assert problem(await _publish(api, ident, private), 422)["field"] == "title"
    assert problem(await _publish(api, ident, " "), 422)["field"] == "title"
    r = await api.http.post(f"/issues/{ident}/publication", json={"title": CHECKED})
    assert r.status_code == 401

    assert (await _publish(api, ident, CHECKED)).status_code == 200
    r = await _publish(api, ident, None)  # withdrawn: the neutral wording again
    assert r.status_code == 200 and r.json()["public_title"] is None
    audit = await api.get(
        "/admin/audit", as_user="county-admin", action="issue.publication", target=ident
    )
    records = audit.json()["data"]
    assert [(a["before"], a["after"]) for a in reversed(records)] == [
        ({"public_title": None}, {"public_title": CHECKED}),
        ({"public_title": CHECKED}, {"public_title": None}),
    ]
    assert records[0]["actor"] == CLERK
    month = _month(closed["closed_at"])
    board = await api.http.get(f"/public/units/{VILLAGE}/disclosures", params={"month": month})
    assert CHECKED not in board.text
