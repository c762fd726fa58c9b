"""Liveness for orchestrators (``/healthz``) and Prometheus metrics (``/metrics``); no auth."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from api.deps import API_PREFIX, get_engine, get_temporal, in_thread
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


@router.get("/healthz", response_model=Health, responses=responses(503))
async def healthz(request: Request) -> Response:
    """健康检查：数据库和流程引擎都可达时 200，否则 503。"""
    database, temporal = await asyncio.gather(
        in_thread(_database_ok, get_engine(request)), _temporal_ok(request)
    )
    if database and temporal:
        return JSONResponse(Health().model_dump())
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
