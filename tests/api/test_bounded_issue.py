"""An issue cannot be bricked by growing: the most notes of the largest size, then resolve, close.

Before the core rebuild the workflow kept every event in its state; about 170 notes of 2,000
Chinese characters (JSON escapes each to six bytes) took the state query past Temporal's 2 MB
payload limit, and from then on every read and action of the issue answered 503 for ever. The
state now keeps only what its next record writes, and the number of notes has a cap.
"""

from __future__ import annotations

import asyncio
import json

from domain.lifecycle.limits import MAX_PROGRESS_NOTES
from domain.payloads import DATA_CONVERTER
from tests.api.conftest import VILLAGE, Api, problem

CLERK = f"village-{VILLAGE}"
NOTE = "村" * 2000  # the longest note the API takes
STATE_BUDGET = 256 * 1024  # bytes: far under the 2 MB Temporal refuses


async def test_the_most_notes_of_the_largest_size_leave_the_issue_readable_and_closable(
    api: Api,
) -> None:
    created = await api.register()
    issue_id = created["id"]
    await api.ok(issue_id, "accept", as_user=CLERK)
    gate = asyncio.Semaphore(4)

    async def note(n: int) -> None:
        async with gate:
            await api.ok(issue_id, "progress", {"note": f"{n:03d}{NOTE[3:]}"}, as_user=CLERK)

    await asyncio.gather(*(note(n) for n in range(MAX_PROGRESS_NOTES)))

    one_more = await api.act(issue_id, "progress", {"note": NOTE}, as_user=CLERK)
    assert problem(one_more, 409)["field"] == "note"

    state = await api.state(issue_id)  # the live query answers, and stays small
    payload = DATA_CONVERTER.payload_converter.to_payloads([state])[0]
    state.events = []  # the trail the test helper added from the read model
    bounded = DATA_CONVERTER.payload_converter.to_payloads([state])[0]
    assert len(bounded.data) < STATE_BUDGET, len(bounded.data)
    assert len(payload.data) > len(bounded.data)

    detail = await api.get(f"/issues/{issue_id}", as_user=CLERK)
    assert detail.status_code == 200
    assert [e["type"] for e in detail.json()["events"]].count("progress") == MAX_PROGRESS_NOTES
    live = await api.get(f"/issues/{issue_id}/live", as_user="county-supervisor")
    assert live.status_code == 200, live.text[:300]
    assert len(json.dumps(live.json()["events"], ensure_ascii=False)) > 2000 * MAX_PROGRESS_NOTES

    await api.ok(issue_id, "resolve", {"summary": "已处理"}, as_user=CLERK)
    tracked = await api.http.post(
        f"/issues/{issue_id}/feedback",
        json={
            "solved": True,
            "satisfaction": "satisfied",
            "tracking_code": created["tracking_code"],
            "pin": created["pin"],
        },
    )
    assert tracked.status_code == 200, tracked.text
    assert tracked.json()["status"] == "closed"
