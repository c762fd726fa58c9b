"""What the issue routes do to an issue once it exists: act on it through its workflow.

Registration is ``api.registration``, lists ``api.issue_list``.

Synchronous helpers take a ``Session`` and run in a worker thread (``in_thread``): SQL and argon2
block. The async functions talk to Temporal. Routes stay thin and only wire the two together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api import answers, metrics
from api.deps import Principal
from api.problems import ProblemError, invalid
from api.schemas import (
    ActionOut,
)
from api.updates import admitted
from domain import labels
from domain.models import (
    Action,
    ActionResult,
    UnitRef,
)
from store.tables import Department
from store.units_import import UnitNotFound, ladder
from workflows.issue import workflow_id

# Namespaces of the uuid5 ids: a retried request (same caller, same key) maps to the same id.
_ACTION_NS = uuid.UUID("a6f0c2d4-1e3b-4c5a-8d7e-9f0a1b2c3d4e")
# How long a request waits on Temporal before answering 503: a worker that is down must not hang
# the caller, who retries with the same Idempotency-Key.
RPC_TIMEOUT = timedelta(seconds=30)


def handle_of(temporal: Client, issue_id: str) -> WorkflowHandle[Any, Any]:
    # By id only: the handle follows the latest run across continue-as-new.
    return temporal.get_workflow_handle(workflow_id(issue_id))


# ---- actions ------------------------------------------------------------------------------------


def request_id(
    principal: Principal, issue_id: str, action: str, idempotency_key: str | None
) -> str:
    """The update id: a retried request (same caller, issue, action and key) applies once."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    name = f"{principal.username}\n{issue_id}\n{action}\n{idempotency_key}"
    return uuid.uuid5(_ACTION_NS, name).hex


async def execute(
    temporal: Client,
    issue_id: str,
    update: str,
    action: Action,
    *,
    answer_within: float = answers.DEFAULT_ANSWER_SECONDS,
) -> ActionOut:
    """Send the action to the issue's workflow; its validators are the last word (409).

    A worker that does not answer within ``answer_within`` seconds is a 503 with Retry-After:
    the action may still apply when a worker comes back, and the retry with the same
    Idempotency-Key is the same update id, applied at most once.
    """
    try:
        result: ActionResult = await answers.within(
            answer_within,
            admitted(
                lambda: handle_of(temporal, issue_id).execute_update(
                    update,
                    action,
                    id=action.request_id,
                    result_type=ActionResult,
                    rpc_timeout=RPC_TIMEOUT,
                )
            ),
        )
    except TimeoutError:
        metrics.ISSUE_ACTIONS.labels(update, "unanswered").inc()
        raise answers.workers_unavailable(
            "办理系统暂未响应，本次操作尚未确认生效；请稍后用同一 Idempotency-Key 重试"
        ) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            # Closed since we looked, and gone from Temporal.
            raise ProblemError(409, "事项已结束", slug="rejected") from exc
        raise
    except Exception:
        metrics.ISSUE_ACTIONS.labels(update, "rejected").inc()
        raise
    metrics.ISSUE_ACTIONS.labels(update, "duplicate" if result.duplicate else "applied").inc()
    return ActionOut(
        issue_id=result.issue_id,
        seq=result.seq,
        status=result.status,
        status_label=labels.STATUS[result.status.value],
        level=result.level,
        unit=result.unit,
        deadline=result.deadline,
        duplicate=result.duplicate,
    )


def department_names(
    session: Session, codes: Sequence[str], doing: str = "不能吹哨"
) -> dict[str, str]:
    """Names of the departments called in (whistled, invited to a deliberation); an unknown or
    retired one is a 422 naming ``departments`` (a retired department takes no new work)."""
    rows = session.exec(select(Department).where(col(Department.code).in_(codes))).all()
    names = {d.code: d.name for d in rows}
    unknown = [c for c in codes if c not in names]
    if unknown:
        raise invalid("departments", f"未知的部门代码：{', '.join(unknown)}")
    retired = [d.name for d in rows if not d.active]
    if retired:
        raise invalid("departments", f"部门已停用，{doing}：{', '.join(retired)}")
    return names


def transfer_ladder(session: Session, code: str) -> list[UnitRef]:
    try:
        return ladder(session, code)
    except UnitNotFound:
        raise invalid("unit", "未知的单位代码") from None
    except ValueError:
        raise invalid("unit", "该单位之上没有县级单位") from None
