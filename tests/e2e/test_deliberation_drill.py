"""Deliberation end to end on ``linkage up --policy drill`` over HTTP: a village's hard outcome
reaches the township by itself when the village's leadership does not decide (10 s), the
township reaches consensus and implements, and the decision shows on the village's 公示栏 (the
page and its JSON)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import login, running_stack

VILLAGE = "611025001001"
TOWNSHIP = "611025001"
DECISION_TERM = 10.0  # the drill policy's leadership decision
LATE = 30.0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_hard_village_matter_reaches_the_township_which_decides_and_implements(
    tmp_path: Path, http: httpx.Client
) -> None:
    with running_stack(tmp_path / "linkage-data", policy="drill") as stack:
        api = f"{stack.base}/api/v1"
        village = login(http, stack.base, f"village-{VILLAGE}")
        township = login(http, stack.base, f"township-{TOWNSHIP}")

        def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
            r = http.post(f"{api}{path}", json=body, headers=headers)
            assert r.status_code in (200, 201), r.text
            answer: dict[str, Any] = r.json()
            return answer

        opened = post(
            "/deliberations",
            {"unit": VILLAGE, "topic": "演练：村道选线", "kind": "consultation"},
            village,
        )
        ident = opened["id"]
        attendance = {"expected": 10, "present": 8}
        hard = {"outcome": "hard", "attendance": attendance, "summary": "分歧较大"}
        assert post(f"/deliberations/{ident}/close_round", hard, village)["status"] == "submitted"
        submitted = time.monotonic()
        while True:
            detail = http.get(f"{api}/deliberations/{ident}", headers=township).json()
            if detail["unit"] == TOWNSHIP and detail["status"] == "open":
                break
            assert time.monotonic() < submitted + DECISION_TERM + LATE, (detail, stack.output)
            time.sleep(0.25)
        assert time.monotonic() >= submitted + DECISION_TERM - 2  # never before its term
        consensus = {
            "outcome": "consensus",
            "attendance": attendance,
            "summary": "镇统一规划",
            "decision": {"text": "镇统一规划村道", "responsible_unit": TOWNSHIP},
        }
        post(f"/deliberations/{ident}/close_round", consensus, township)
        post(f"/deliberations/{ident}/progress", {"percent": 60, "note": "施工中"}, township)
        post(f"/deliberations/{ident}/complete", {"summary": "已完工"}, township)
        until = time.monotonic() + LATE
        while True:
            public = http.get(f"{api}/public/units/{VILLAGE}/deliberations").json()["data"]
            mine = [d for d in public if d["id"] == ident]
            if mine and mine[0]["completed_at"]:
                break
            assert time.monotonic() < until, public
            time.sleep(0.25)
        assert (mine[0]["decided_level"], mine[0]["decision"]) == ("township", "镇统一规划村道")
        # And on the village's 公示栏, the page villagers open (no login), with its progress.
        board = http.get(f"{stack.base}/public/{VILLAGE}")
        assert board.status_code == 200 and "镇统一规划村道" in board.text, board.text
        notices = http.get(f"{api}/public/units/{VILLAGE}/disclosures").json()
        assert "镇统一规划村道" in str(notices), notices
        stack.stop_and_assert_stopped()
