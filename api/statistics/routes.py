"""``GET /stats`` and ``GET /stats/alerts``: the caller's scope (staff, within their subtree),
then one call each into ``report`` and ``alerts``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import API_PREFIX, STAFF_ROLES, CurrentPrincipal, SessionDep, SettingsDep
from api.inputs import Instant
from api.problems import forbidden, responses
from api.schemas import AlertsOut, StatsOut
from api.statistics import figures, trend
from api.statistics.alerts import build_alerts
from api.statistics.report import build_stats
from api.statistics.scope import StatsScope, resolve_scope

router = APIRouter(prefix=f"{API_PREFIX}/stats", tags=["stats"])


def request_scope(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    unit: Annotated[str | None, Query(description="单位代码，默认为本单位", max_length=64)] = None,
    since: Annotated[Instant | None, Query(description="登记时间下限（含）")] = None,
    until: Annotated[Instant | None, Query(description="登记时间上限（不含）")] = None,
    category: Annotated[str | None, Query(description="事项类别代码", max_length=64)] = None,
) -> StatsScope:
    """The caller's scope: staff only, and only within their own subtree."""
    if principal.role not in STAFF_ROLES:
        raise forbidden("统计只对工作人员开放")
    scope = resolve_scope(
        session, unit or principal.unit_code, since, until, category, settings.timezone
    )
    if not principal.within(scope.unit.path):
        raise forbidden(f"{scope.unit.name}不在您的辖区内", field="unit")
    return scope


ScopeDep = Annotated[StatsScope, Depends(request_scope)]


@router.get("", response_model=StatsOut, responses=responses(401, 403, 422))
def unit_stats(
    scope: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
    bucket: Annotated[
        trend.Bucket | None, Query(description="趋势粒度：day 或 week；默认三个月内按日")
    ] = None,
) -> StatsOut:
    """统计：状态分布、在办层级、流转漏斗、办结层级占比、各层级按时率、办理时长、三率、
    乡镇和村红黑榜、类别分布和趋势。"""
    return build_stats(
        session,
        scope,
        settings.timezone,
        bucket,
        weights=figures.Weights(*settings.composite_weights),
    )


@router.get("/alerts", response_model=AlertsOut, responses=responses(401, 403, 422))
def alerts(
    scope: ScopeDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200, description="每个列表最多条数")] = 50,
) -> AlertsOut:
    """预警（黄）和超期（红）的在办事项，按期限先后排列，供看板实时刷新。"""
    return build_alerts(session, scope, limit)
