"""Liveness for orchestrators (``/healthz``) and Prometheus metrics (``/metrics``); no auth."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.service import RPCError, RPCStatusCode

from api.deps import API_PREFIX, get_engine, get_settings, get_temporal, in_thread
from api.metrics import exposition, read_model_registry
from api.problems import problem_response, responses
from api.schemas import Health

log = logging.getLogger("linkage.api")
router = APIRouter(prefix=API_PREFIX, tags=["health"])

PROBE_TIMEOUT = timedelta(seconds=3)


def _database_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("health: database unreachable: %r", exc)
        return False
    return True


async def _temporal_ok(request: Request) -> bool:
    try:
        client = get_temporal(request)
        return await asyncio.wait_for(
            client.service_client.check_health(timeout=PROBE_TIMEOUT),
            PROBE_TIMEOUT.total_seconds() + 1,
        )
    except Exception as exc:  # unreachable, timed out, or never connected
        log.warning("health: temporal unreachable: %r", exc)
        return False


_POLLED = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)


async def _worker_seen(request: Request) -> str | None:
    """``ok`` when a worker polled the task queue recently, for workflow and for activity tasks;
    ``absent`` when not; None when the server cannot tell (the time-skipping test server does not
    describe task queues) or did not answer (the Temporal probe reports that)."""
    settings = get_settings(request)
    client = get_temporal(request)
    seen_since = datetime.now(UTC) - timedelta(seconds=settings.worker_absent_after_seconds)

    async def recently_polled(kind: TaskQueueType.ValueType) -> bool:
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=settings.task_queue),
                task_queue_type=kind,
            ),
            timeout=PROBE_TIMEOUT,
        )
        # A poller's last access is the start of its latest long poll (a minute at most on an
        # idle queue): ``worker_absent_after_seconds`` is longer than that.
        return any(p.last_access_time.ToDatetime(UTC) >= seen_since for p in described.pollers)

    try:
        polled = await asyncio.wait_for(
            asyncio.gather(*(recently_polled(kind) for kind in _POLLED)),
            PROBE_TIMEOUT.total_seconds() + 1,
        )
    except RPCError as exc:
        if exc.status is not RPCStatusCode.UNIMPLEMENTED:
            log.warning("health: task queue not described: %s %s", exc.status, exc.message)
        return None
    except Exception as exc:  # unreachable or timed out: the Temporal probe says so
        log.warning("health: task queue not described: %r", exc)
        return None
    return "ok" if all(polled) else "absent"


@router.get("/healthz", response_model=Health, responses=responses(503))
async def healthz(request: Request) -> Response:
    """健康检查：数据库和流程引擎都可达时 200（无 worker 轮询任务队列时为 degraded），否则 503。

    A missing worker is ``degraded``, still 200: the API itself works (reads, and registrations
    answered from Temporal), and an orchestrator must not restart it for a worker's absence.
    """
    database, temporal, worker = await asyncio.gather(
        in_thread(_database_ok, get_engine(request)), _temporal_ok(request), _worker_seen(request)
    )
    if database and temporal:
        status = "degraded" if worker == "absent" else "ok"
        return JSONResponse(Health(status=status, worker=worker).model_dump(exclude_none=True))
    checks = {"database": database, "temporal": temporal}
    down = [name for name, ok in checks.items() if not ok]
    return problem_response(
        request,
        503,
        f"不可用：{', '.join(down)}",
        slug="unhealthy",
        headers={"Retry-After": "5"},
        extra={name: "ok" if ok else "unavailable" for name, ok in checks.items()},
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus 文本格式"}},
)
def metrics(request: Request) -> Response:
    """Prometheus 指标：本进程的请求计数，以及读模型中的登记、上报、办结、通知和上报延迟。"""
    # A plain def: the read-model counts run in the thread pool, not on the event loop.
    body, content_type = exposition(read_model_registry(get_engine(request)))
    return Response(body, media_type=content_type)
