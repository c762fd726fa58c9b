"""Who may read and do what: roles × actions × inside/outside jurisdiction.

Allowed actions run on a fresh issue each (they change it); refusals share one issue per stage
and must leave it exactly as it was. 404 means "outside what you may even see", 403 "you see it
but may not act", 401 "who are you?".
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import NEIGHBOUR, OTHER_TOWNSHIP, TOWNSHIP, VILLAGE, Api, problem

CLERK_IN = f"village-{VILLAGE}"
CLERK_OUT = f"village-{NEIGHBOUR}"  # the village next door
LEADER_IN = f"township-{TOWNSHIP}"  # the parent township
LEADER_OUT = f"township-{OTHER_TOWNSHIP}"
SUPERVISOR = "county-supervisor"
ADMIN = "county-admin"
DEPT_IN = "dept-zhenan-zhujian"  # named by the sanitation category, which calls in on whistle only
DEPT_OUT = "dept-zhenan-gongan"  # neither named nor called
DEPT_CALLED = "dept-zhenan-shuili"  # whistled in at stage "whistled"
CITIZEN = "citizen"
WRONG_PIN = "citizen-with-wrong-pin"
ANONYMOUS = None

BODIES: dict[str, dict[str, Any]] = {
    "read": {},
    "accept": {},
    "progress": {"note": "已联系环卫"},
    "resolve": {"summary": "已清运"},
    "escalate": {"reason": "超出村级权限"},
    "whistle": {"departments": ["zhenan-shuili"], "reason": "需水利部门"},
    "report": {"contribution": "已到场"},
    "extension": {"working_days": 1, "reason": "等待鉴定"},
    "extension/decision": {"approve": True},
    "transfer": {"unit": NEIGHBOUR, "reason": "事发地属邻村"},
    "supervise": {"note": "请抓紧办理"},
    "feedback": {"solved": True, "satisfaction": "satisfied"},
    "withdraw": {"reason": "已自行解决"},
}

# (action, stage the issue is in, caller, expected status)
MATRIX: list[tuple[str, str, str | None, int]] = [
    # reading
    ("read", "registered", CLERK_IN, 200),
    ("read", "registered", CLERK_OUT, 404),
    ("read", "registered", LEADER_IN, 200),
    ("read", "registered", LEADER_OUT, 404),
    ("read", "registered", SUPERVISOR, 200),
    ("read", "registered", ADMIN, 200),
    ("read", "registered", DEPT_IN, 404),  # named by the category, not called in
    ("read", "registered", DEPT_OUT, 404),
    ("read", "registered", CITIZEN, 200),
    ("read", "registered", WRONG_PIN, 401),
    ("read", "registered", ANONYMOUS, 401),
    ("read", "whistled", DEPT_CALLED, 200),
    # the unit at the current level acts; the others may look
    ("accept", "registered", CLERK_IN, 200),
    ("accept", "registered", ADMIN, 200),
    ("accept", "registered", CLERK_OUT, 404),
    ("accept", "registered", LEADER_IN, 403),
    ("accept", "registered", LEADER_OUT, 404),
    ("accept", "registered", SUPERVISOR, 403),
    ("accept", "registered", DEPT_IN, 404),
    ("accept", "registered", DEPT_OUT, 404),
    ("accept", "registered", ANONYMOUS, 401),
    ("progress", "accepted", CLERK_IN, 200),
    ("progress", "accepted", LEADER_IN, 403),
    ("progress", "accepted", SUPERVISOR, 403),
    ("resolve", "accepted", CLERK_IN, 200),
    ("resolve", "accepted", CLERK_OUT, 404),
    ("resolve", "accepted", LEADER_IN, 403),
    ("escalate", "accepted", CLERK_IN, 200),
    ("escalate", "accepted", SUPERVISOR, 403),
    ("whistle", "accepted", CLERK_IN, 200),
    ("whistle", "accepted", DEPT_IN, 404),
    ("extension", "accepted", CLERK_IN, 200),
    ("extension", "accepted", LEADER_IN, 403),
    # 吹哨报到: only a department that was called and has not reported yet
    ("report", "whistled", DEPT_CALLED, 200),
    ("report", "whistled", DEPT_IN, 404),
    ("report", "whistled", CLERK_IN, 403),
    ("report", "whistled", DEPT_OUT, 404),
    # the parent unit decides extensions
    ("extension/decision", "extension", LEADER_IN, 200),
    ("extension/decision", "extension", ADMIN, 200),
    ("extension/decision", "extension", CLERK_IN, 403),
    ("extension/decision", "extension", SUPERVISOR, 403),
    ("extension/decision", "extension", LEADER_OUT, 404),
    ("transfer", "accepted", CLERK_IN, 200),
    ("transfer", "accepted", LEADER_IN, 200),
    ("transfer", "accepted", SUPERVISOR, 403),
    ("transfer", "accepted", LEADER_OUT, 404),
    # 督办: supervisors and the leaders above
    ("supervise", "registered", SUPERVISOR, 200),
    ("supervise", "registered", LEADER_IN, 200),
    ("supervise", "registered", ADMIN, 200),
    ("supervise", "registered", CLERK_IN, 403),
    ("supervise", "registered", DEPT_IN, 404),
    ("supervise", "registered", LEADER_OUT, 404),
    # 回访评价: the citizen, or staff recording a phone callback
    ("feedback", "resolved", CITIZEN, 200),
    # 回访 never by the unit that handled the issue (it would rate itself); by a unit outside
    # the handling chain, the supervisors or the citizen.
    ("feedback", "resolved", CLERK_IN, 403),
    ("feedback", "resolved", LEADER_IN, 200),
    ("feedback", "resolved", SUPERVISOR, 200),
    ("feedback", "resolved", WRONG_PIN, 401),
    ("feedback", "resolved", DEPT_IN, 404),
    ("feedback", "resolved", CLERK_OUT, 404),
    ("feedback", "resolved", ANONYMOUS, 401),
    ("withdraw", "registered", CITIZEN, 200),
    ("withdraw", "registered", CLERK_IN, 200),
    ("withdraw", "registered", WRONG_PIN, 401),
    ("withdraw", "registered", LEADER_IN, 403),
    ("withdraw", "registered", SUPERVISOR, 403),
    ("withdraw", "registered", DEPT_IN, 404),
    ("withdraw", "registered", ANONYMOUS, 401),
]


async def _stage(api: Api, stage: str) -> dict[str, Any]:
    """A new issue at ``VILLAGE`` brought to ``stage``."""
    created = await api.register()
    issue_id = created["id"]
    if stage != "registered":
        await api.ok(issue_id, "accept", as_user=CLERK_IN)
    if stage == "whistled":
        await api.ok(issue_id, "whistle", BODIES["whistle"], as_user=CLERK_IN)
    elif stage == "extension":
        await api.ok(issue_id, "extension", BODIES["extension"], as_user=CLERK_IN)
    elif stage == "resolved":
        await api.ok(issue_id, "resolve", BODIES["resolve"], as_user=CLERK_IN)
    return created


@pytest.fixture(scope="module")
def shared() -> dict[str, dict[str, Any]]:
    return {}


async def _call(api: Api, issue: dict[str, Any], action: str, caller: str | None) -> httpx.Response:
    body = dict(BODIES[action])
    if caller in (CITIZEN, WRONG_PIN):
        pin = issue["pin"] if caller == CITIZEN else f"{(int(issue['pin']) + 1) % 1_000_000:06d}"
        credentials = {"tracking_code": issue["tracking_code"], "pin": pin}
        if action == "read":
            return await api.http.post("/issues/track", json=credentials)
        return await api.act(issue["id"], action, {**body, **credentials}, as_user=None)
    if action == "read":
        return await api.get(f"/issues/{issue['id']}", as_user=caller)
    return await api.act(issue["id"], action, body, as_user=caller)


@pytest.mark.parametrize(
    ("action", "stage", "caller", "status"),
    MATRIX,
    ids=[f"{a}-{s}-{c or 'anonymous'}-{st}" for a, s, c, st in MATRIX],
)
async def test_authorization_matrix(
    api: Api,
    shared: dict[str, dict[str, Any]],
    action: str,
    stage: str,
    caller: str | None,
    status: int,
) -> None:
    changes = status == 200 and action != "read"
    if changes:
        issue = await _stage(api, stage)
    else:
        if stage not in shared:
            shared[stage] = await _stage(api, stage)
        issue = shared[stage]
    before = await api.state(issue["id"])

    r = await _call(api, issue, action, caller)

    after = await api.state(issue["id"])
    if status == 200:
        assert r.status_code == 200, r.text
        if action == "read":
            assert r.json()["id"] == issue["id"]
        else:
            assert after.next_seq > before.next_seq
            assert r.json()["seq"] == after.next_seq - 1
            new_events = after.events[before.next_seq - 1 :]
            if caller == CITIZEN:
                assert any(e.actor.role.value == "citizen" for e in new_events)
            else:
                assert any(e.actor.user == caller for e in new_events)
    else:
        problem(r, status)
        assert after.next_seq == before.next_seq  # a refusal changes nothing


async def test_a_clerk_of_another_village_cannot_tell_an_issue_exists(api: Api) -> None:
    created = await api.register()
    missing = await api.get("/issues/" + "0" * 32, as_user=CLERK_OUT)
    hidden = await api.get(f"/issues/{created['id']}", as_user=CLERK_OUT)
    assert problem(missing, 404)["detail"] == problem(hidden, 404)["detail"]
    acting = await api.act(created["id"], "accept", as_user=CLERK_OUT)
    assert problem(acting, 404)["detail"] == problem(hidden, 404)["detail"]


async def test_once_escalated_the_township_acts_and_the_village_only_reads(api: Api) -> None:
    created = await api.register()
    issue_id = created["id"]
    await api.ok(issue_id, "accept", as_user=CLERK_IN)
    escalated = await api.ok(issue_id, "escalate", {"reason": "超出村级权限"}, as_user=CLERK_IN)
    assert (escalated["level"], escalated["unit"]) == ("township", TOWNSHIP)

    assert (await api.get(f"/issues/{issue_id}", as_user=CLERK_IN)).status_code == 200
    problem(await api.act(issue_id, "accept", as_user=CLERK_IN), 403)
    accepted = await api.ok(issue_id, "accept", as_user=LEADER_IN)
    assert accepted["status"] == "in_progress"
    # The county's supervisor still sees it; the other township does not.
    assert (await api.get(f"/issues/{issue_id}", as_user=SUPERVISOR)).status_code == 200
    problem(await api.get(f"/issues/{issue_id}", as_user=LEADER_OUT), 404)


async def test_the_workflow_stays_the_last_word_with_a_409(api: Api) -> None:
    created = await api.register()
    # Allowed by jurisdiction, refused by the lifecycle: progress before accepting.
    r = await api.act(created["id"], "progress", {"note": "进展"}, as_user=CLERK_IN)
    body = problem(r, 409)
    assert body["type"].endswith("rejected") and "签收" in body["detail"]


async def test_a_department_reads_only_what_it_was_called_into_or_hears_at_once(api: Api) -> None:
    # Sanitation names 住建 but calls it in only by a whistle; drinking water names 水利 and
    # sends it every arrival at once (notify_departments in the category's policy).
    sanitation = await api.register()
    water = await api.register(category="rural_drinking_water")
    problem(await api.get(f"/issues/{sanitation['id']}", as_user=DEPT_IN), 404)
    assert (await api.get(f"/issues/{water['id']}", as_user=DEPT_CALLED)).status_code == 200
    listed = await api.get("/issues", as_user=DEPT_IN, limit=200)
    assert sanitation["id"] not in {i["id"] for i in listed.json()["data"]}
    await api.ok(sanitation["id"], "accept", as_user=CLERK_IN)
    whistle = {"departments": ["zhenan-zhujian"], "reason": "需住建部门"}
    await api.ok(sanitation["id"], "whistle", whistle, as_user=CLERK_IN)
    assert (await api.get(f"/issues/{sanitation['id']}", as_user=DEPT_IN)).status_code == 200
    listed = await api.get("/issues", as_user=DEPT_IN, limit=200)
    assert sanitation["id"] in {i["id"] for i in listed.json()["data"]}


def test_the_callback_roles_setting_names_who_may_record_a_callback() -> None:
    from datetime import UTC, datetime

    from api.deps import IssueScope, Principal
    from api.issue_detail import Loaded, authorise
    from api.problems import ProblemError
    from domain.lifecycle.rules import IssueView
    from domain.models import IssueState, NewIssue, Role, Status, Urgency

    view = IssueView(
        issue_id="x" * 32,
        status=Status.AWAITING_FEEDBACK,
        unit_code=VILLAGE,
        unit_name="村",
        above=(TOWNSHIP,),
        handled_by=frozenset({VILLAGE}),
    )
    scope = IssueScope(view=view, registered_unit_path=f"/{VILLAGE}", unit_path=f"/{VILLAGE}")
    issue = NewIssue("x" * 32, "T", "c", "t", "d", Urgency.NORMAL, [], None, datetime.now(UTC))  # type: ignore[arg-type]
    loaded = Loaded(scope=scope, state=IssueState(issue=issue), events=[])
    leader = Principal(username=LEADER_IN, role=Role.LEADER, unit_code=TOWNSHIP, unit_path="/")
    authorise(leader, "feedback", loaded, ("supervisor", "leader"))
    with pytest.raises(ProblemError) as refused:
        authorise(leader, "feedback", loaded, ("supervisor", "admin"))
    assert refused.value.status == 403
