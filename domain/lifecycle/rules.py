"""Who may do what to an issue: one list of roles and one set of refusal texts.

The workflow's validators and the API's authorisation both ask ``refusal`` the same question over
an ``IssueView``, the few facts of an issue the rules read. The workflow builds the view from its
live state, the API from the read model; neither keeps rules of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.models import Actor, Role, Status

STAFF_ROLES = frozenset({Role.CLERK, Role.LEADER, Role.SUPERVISOR, Role.ADMIN})
UNIT_ROLES = frozenset({Role.CLERK, Role.LEADER})  # act for their unit
DECIDER_ROLES = frozenset({Role.LEADER, Role.ADMIN})  # decide a child unit's extension
# Actions the unit holding the issue takes (and nobody else, admins aside).
UNIT_ACTIONS = frozenset(
    {"accept", "progress", "resolve", "escalate", "whistle", "extension", "mark_invalid"}
)
ACTIONS = UNIT_ACTIONS | {
    "report",
    "extension_decision",
    "transfer",
    "supervise",
    "feedback",
    "withdraw",
    "review_invalid",
}

# Why a caller may not take an action (the API's 403 detail, the workflow's rejection).
REFUSALS = {
    "report": "只有被吹哨且尚未报到的部门可以报到",
    "extension_decision": "延期须由上级单位负责人审批",
    "supervise": "只有督查人员或上级单位负责人可以督办",
    "feedback": "无权录入回访评价",
    "feedback_by_handler": (
        "承办过本事项的单位不能为自己录入回访评价，须由群众本人或办理链条以外的回访人员录入"
    ),
    "withdraw": "只有群众本人或当前承办单位可以撤回",
    "transfer": "只有当前承办单位或其上级负责人可以转派",
    "review_invalid": "只有督查人员或上级单位负责人可以复核无效标记",
}


def unit_refusal(unit_name: str) -> str:
    return f"事项当前在{unit_name}，只有该单位可以办理"


@dataclass(frozen=True)
class IssueView:
    """The facts about one issue that the rules read."""

    issue_id: str
    status: Status
    unit_code: str
    unit_name: str
    above: tuple[str, ...] = ()  # units above the current one on its ladder, parent first
    called: frozenset[str] = frozenset()  # departments whistled in (吹哨), ever
    open_calls: frozenset[str] = frozenset()  # whistled and not yet reported (报到)
    handled_by: frozenset[str] = frozenset()  # every unit the issue has stayed at

    @property
    def decider(self) -> str:
        """The unit that decides the current unit's extensions: its parent, or the ceiling."""
        return self.above[0] if self.above else self.unit_code

    @property
    def parent(self) -> str | None:
        return self.above[0] if self.above else None


def refusal(actor: Actor, action: str, view: IssueView) -> str | None:
    """Why ``actor`` may not take ``action`` on the issue, or None when they may.

    Jurisdiction by subtree (who may read the issue at all) is the API's: it knows the tree.
    """
    role = actor.role
    at_unit = role in UNIT_ROLES and actor.unit_code == view.unit_code
    if action == "report":
        if role in (Role.DEPARTMENT, Role.ADMIN) and actor.department_code in view.open_calls:
            return None
        return REFUSALS["report"]
    if role is Role.ADMIN:
        return None
    if action in UNIT_ACTIONS:
        return None if at_unit else unit_refusal(view.unit_name)
    if action == "transfer":
        by_parent = role is Role.LEADER and actor.unit_code == view.parent
        return None if at_unit or by_parent else REFUSALS["transfer"]
    if action == "extension_decision":
        decides = role in DECIDER_ROLES and actor.unit_code == view.decider
        return None if decides else REFUSALS["extension_decision"]
    if action in ("supervise", "review_invalid"):
        # Oversight: a supervisor, or the leader of a unit above the one holding the issue.
        if role is Role.SUPERVISOR or (role is Role.LEADER and actor.unit_code in view.above):
            return None
        return REFUSALS[action]
    if action == "feedback":
        return _feedback_refusal(actor, view)
    if action == "withdraw":
        return None if at_unit or role is Role.CITIZEN else REFUSALS["withdraw"]
    return unit_refusal(view.unit_name)


def _feedback_refusal(actor: Actor, view: IssueView) -> str | None:
    """回访 is the citizen's, or staff's outside the handling chain: never the rated unit's."""
    if actor.role is Role.CITIZEN:
        return None
    if actor.role not in STAFF_ROLES:
        return REFUSALS["feedback"]
    if actor.role in UNIT_ROLES and actor.unit_code in view.handled_by:
        return REFUSALS["feedback_by_handler"]
    return None
