"""The drill policy end to end: ``linkage up --policy drill`` as real processes, used over HTTP.

Two issues registered by village clerks at the same moment:

- one is left alone: it escalates on timeout to the township after the village's term, and to
  the county after the township's (10 s each in ``policies/drill.toml``);
- the other also reaches the township on timeout, where the township accepts and resolves it; the
  citizen confirms with the tracking code and PIN (no account), it closes as resolved at the
  township, and the county's statistics count it in the township's resolution share.

Ctrl-C then stops the stack, and nothing of it may be left running.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.models import Urgency
from domain.policy import load_policy
from tests.e2e.stack import Stack, login, running_stack

TOWNSHIP = "611025001"  # 永乐街道
LEFT_ALONE = "611025001001"  # 新城社区居委会
HANDLED = "611025001002"  # 镇城社区居委会: same township
CATEGORY = "sanitation"
POLL = 0.25  # seconds between two looks at the issues
SLACK = 2.0  # a timer never fires early; the clocks of test and server may differ a little
LATE = 20.0  # two loaded cores: how late an escalation may be seen and still count as on time


def _terms() -> tuple[float, float]:
    """The village's and the township's resolve terms of the drill policy, in seconds."""
    resolve = load_policy("drill").terms_for(CATEGORY, Urgency.NORMAL).resolve
    village, township = resolve["village"].seconds, resolve["township"].seconds
    assert village and township, "the drill policy counts natural seconds"
    return float(village), float(township)


class Desk:
    """The calls people make on the running stack: staff with their demo accounts, and the
    citizen with nothing but a tracking code and PIN."""

    def __init__(self, stack: Stack, http: httpx.Client) -> None:
        self.base = stack.base
        self.api = f"{stack.base}/api/v1"
        self.http = http
        self.headers: dict[str, dict[str, str]] = {}

    def _auth(self, user: str) -> dict[str, str]:
        if user not in self.headers:
            self.headers[user] = login(self.http, self.base, user)
        return self.headers[user]

    def register(self, village: str, title: str) -> dict[str, Any]:
        r = self.http.post(
            f"{self.api}/issues",
            headers=self._auth(f"village-{village}"),
            json={
                "village_code": village,
                "category": CATEGORY,
                "title": title,
                "description": f"演练：{title}",
                "reporter": {"name": "李四", "phone": "13900002222"},
            },
        )
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        assert (created["level"], created["unit"]["code"]) == ("village", village)
        return created

    def issue(self, issue_id: str, user: str) -> dict[str, Any]:
        r = self.http.get(f"{self.api}/issues/{issue_id}", headers=self._auth(user))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def act(self, issue_id: str, action: str, body: dict[str, Any], user: str | None) -> None:
        headers = self._auth(user) if user else {}
        r = self.http.post(f"{self.api}/issues/{issue_id}/{action}", headers=headers, json=body)
        assert r.status_code == 200, f"{action}: {r.text}"

    def stats(self, user: str) -> dict[str, Any]:
        r = self.http.get(f"{self.api}/stats", headers=self._auth(user))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def _handle(desk: Desk, issue: dict[str, Any], created: dict[str, Any]) -> None:
    """The next thing the township or the citizen does with the handled issue, if any."""
    township = f"township-{TOWNSHIP}"
    match issue["level"], issue["status"]:
        case "township", "pending_accept":
            desk.act(issue["id"], "accept", {"note": "乡镇已签收"}, township)
        case "township", "in_progress":
            desk.act(issue["id"], "resolve", {"summary": "乡镇协调清运，已处理完毕"}, township)
        case _, "awaiting_feedback":
            citizen = {"tracking_code": created["tracking_code"], "pin": created["pin"]}
            body = {**citizen, "solved": True, "satisfaction": "satisfied", "comment": "满意"}
            desk.act(issue["id"], "feedback", body, None)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_drill_escalates_on_time_and_a_township_resolution_is_counted(
    tmp_path: Path, http: httpx.Client
) -> None:
    village_term, township_term = _terms()
    with running_stack(tmp_path / "linkage-data", policy="drill") as stack:
        desk = Desk(stack, http)
        alone = desk.register(LEFT_ALONE, "演练：无人处理的事项")
        registered = time.monotonic()
        handled = desk.register(HANDLED, "演练：乡镇办结的事项")

        # When the left-alone issue is first seen at each level, from its registration.
        seen: dict[str, float] = {}
        closed: dict[str, Any] | None = None
        deadline = registered + village_term + township_term + 3 * LATE
        while "county" not in seen or closed is None:
            assert time.monotonic() < deadline, f"seen {seen}, handled {closed}\n{stack.output}"
            state = desk.issue(alone["id"], f"village-{LEFT_ALONE}")
            seen.setdefault(state["level"], time.monotonic() - registered)
            if closed is None:
                other = desk.issue(handled["id"], f"village-{HANDLED}")
                if other["status"] == "closed":
                    closed = other
                else:
                    _handle(desk, other, handled)
            time.sleep(POLL)

        # (a) Left alone, it climbed the ladder on the policy's clock.
        assert village_term - SLACK <= seen["township"] <= village_term + LATE, seen
        both = village_term + township_term
        assert both - SLACK <= seen["county"] <= both + LATE + 5, seen
        levels = desk.issue(alone["id"], "county-supervisor")["levels"]
        assert [lv["level"] for lv in levels] == ["village", "township", "county"]
        assert [lv["outcome"] for lv in levels[:2]] == ["escalated_on_timeout"] * 2
        assert levels[2]["unit"] == "611025"

        # (b) Resolved at the township, confirmed by the citizen, closed.
        assert [lv["level"] for lv in closed["levels"]] == ["village", "township"]
        assert closed["levels"][0]["outcome"] == "escalated_on_timeout"
        assert closed["levels"][1]["outcome"] == "resolved"
        assert closed["resolution"]["level"] == "township"
        assert closed["resolution"]["unit"] == TOWNSHIP
        assert closed["feedback"]["solved"] is True
        assert closed["feedback"]["satisfaction"] == "satisfied"

        # The county's statistics count it where it was resolved, once the read model has it.
        stats: dict[str, Any] = {}
        for _ in range(int(LATE / POLL)):
            stats = desk.stats("county-supervisor")
            if stats["resolved"] >= 1 and stats["by_status"].get("closed"):
                break
            time.sleep(POLL)
        assert stats["unit"]["code"] == "611025"
        assert stats["total"] == 2 and stats["resolved"] == 1, stats
        assert stats["resolution_share"] == {"village": 0.0, "township": 1.0, "county": 0.0}

        stack.stop_and_assert_stopped()
