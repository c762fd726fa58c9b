"""Reads: ``GET /issues/{id}``, ``GET /stats`` and a filtered list over many closed issues.

For SQLite and for PostgreSQL: a fresh read model is migrated and seeded, M synthetic closed
issues (with their levels and events, shaped like the recorder's rows) are bulk-inserted into the
tables of ``store/tables.py``, and a ``linkage api`` process serves it, with the run's Temporal
server behind it for the live path. Requests are sequential (one in flight): the figures are
latencies, not throughput. Baselines from the same run: the raw Temporal query behind the live
``GET /issues/{id}``, and one SQL ``GROUP BY`` over the same rows behind ``/stats``.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from bench.common import Dist, run_pool, say
from bench.context import Ctx
from bench.intake import token_for
from bench.report import Figure, at_most
from bench.workload import INTAKE_CATEGORY, start, wait_recorded
from domain.models import EventType, IssueState, Level, Outcome, Status, UnitKind
from store.db import make_engine, normalise_url
from store.seed import CATEGORIES
from store.tables import (
    Issue,
    IssueDepartment,
    IssueEvent,
    IssueLevel,
    Unit,
    stats_columns,
    table_of,
)
from workflows.issue import workflow_id

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GOAL_BY_ID_P99_MS = 50.0
GOAL_STATS_P99_MS = 200.0
GOAL_STATS_AT = 100_000
CHUNK = 2_000
LEVELS = (Level.VILLAGE.value, Level.TOWNSHIP.value, Level.COUNTY.value)


# ---- databases ----------------------------------------------------------------------------------


@contextmanager
def database(root: Path, backend: str) -> Iterator[str]:
    """A URL of an empty database of ``backend``, removed afterwards."""
    if backend == "sqlite":
        path = root / "reads.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    name = f"linkage_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# ---- synthetic closed issues --------------------------------------------------------------------


def _ladders(session: Session, county: str) -> list[list[Unit]]:
    units = {u.code: u for u in session.exec(select(Unit))}
    ladders = []
    for unit in units.values():
        if unit.kind != UnitKind.VILLAGE.value or not unit.path.startswith(units[county].path):
            continue
        chain = [unit]
        while chain[-1].parent_code and chain[-1].kind != UnitKind.COUNTY.value:
            chain.append(units[chain[-1].parent_code])
        ladders.append(chain)
    return ladders


def _closed_issue(rng: random.Random, ladder: list[Unit], now: datetime) -> dict[str, Any]:
    """Rows of one closed issue: the issue, its levels and its events."""
    issue_id = uuid.uuid4().hex
    registered = now - timedelta(days=rng.uniform(1, 360))
    stays = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    category = rng.choice(CATEGORIES).code
    clerk = f"village-{ladder[0].code}"
    levels, events = [], []
    seq = 0

    def event(kind: EventType, at: datetime, level: str | None, unit: str, **data: Any) -> None:
        nonlocal seq
        seq += 1
        events.append(
            {
                "issue_id": issue_id,
                "seq": seq,
                "type": kind.value,
                "at": at,
                "actor_user": "system" if kind is EventType.ESCALATED else clerk,
                "actor_role": "system" if kind is EventType.ESCALATED else "clerk",
                "actor_name": None,
                "actor_unit": None if kind is EventType.ESCALATED else unit,
                "actor_department": None,
                "level": level,
                "unit_code": unit,
                "data": data,
            }
        )

    at = registered
    event(EventType.REGISTERED, at, None, ladder[0].code, category=category)
    for idx in range(stays):
        unit, level, last = ladder[idx], LEVELS[idx], idx == stays - 1
        deadline = at + timedelta(days=(3, 5, 7)[idx])
        accepted = at + timedelta(hours=rng.uniform(0.2, 30))
        left = at + timedelta(days=rng.uniform(0.3, 6.5)) if last else deadline
        event(EventType.LEVEL_ENTERED, at, level, unit.code, deadline=deadline.isoformat())
        event(EventType.ACCEPTED, accepted, level, unit.code)
        levels.append(
            {
                "issue_id": issue_id,
                "idx": idx,
                "level": level,
                "unit_code": unit.code,
                "unit_name": unit.name,
                "entered_at": at,
                "deadline": deadline,
                "accept_deadline": at + timedelta(days=1),
                "accepted_at": accepted,
                "accepted_on_time": accepted <= at + timedelta(days=1),
                "left_at": left,
                "outcome": (Outcome.RESOLVED if last else Outcome.ESCALATED_ON_TIMEOUT).value,
                "on_time": last and left <= deadline,
                "extended": False,
                "reason": "registered" if idx == 0 else "escalated",
            }
        )
        if not last:
            event(EventType.ESCALATED, left, level, unit.code, to_unit=ladder[idx + 1].code)
        at = left
    resolver = ladder[stays - 1]
    solved = rng.random() < 0.92
    satisfaction = rng.choices(
        ("satisfied", "basically_satisfied", "unsatisfied"), weights=(85, 10, 5)
    )[0]
    feedback_at = at + timedelta(days=rng.uniform(0.1, 4))
    event(EventType.RESOLVED, at, LEVELS[stays - 1], resolver.code, summary="已办结")
    event(EventType.FEEDBACK, feedback_at, LEVELS[stays - 1], resolver.code, solved=solved)
    event(EventType.CLOSED, feedback_at, LEVELS[stays - 1], resolver.code)
    issue = {
        "id": issue_id,
        "tracking_code": "S" + issue_id[:15].upper(),
        "pin_hash": None,
        "pin_failures": 0,
        "pin_locked_until": None,
        "category": category,
        "title": "历史事项",
        "description": f"{ladder[0].name}：历史办结事项",
        "urgency": "normal",
        "channel": "walk_in",
        "reporter_name": "测试",
        "reporter_phone": "13800001234",
        "location": None,
        "attachments": [],
        "village_code": ladder[0].code,
        "township_code": ladder[1].code,
        "county_code": ladder[-1].code,
        "unit_code": resolver.code,
        "unit_path": resolver.path,
        "registered_unit_path": ladder[0].path,
        "level": LEVELS[stays - 1],
        "status": Status.CLOSED.value,
        "deadline": levels[-1]["deadline"],
        "overdue": False,
        "provisional": False,
        "registered_at": registered,
        "updated_at": feedback_at,
        "closed_at": feedback_at,
        "resolution_level": LEVELS[stays - 1],
        "resolution_unit": resolver.code,
        "resolution_unit_name": resolver.name,
        "resolution_summary": "已办结",
        "resolved_at": at,
        "feedback_solved": solved,
        "feedback_satisfaction": satisfaction,
        "feedback_comment": None,
        "feedback_at": feedback_at,
        "response_on_time": levels[0]["accepted_on_time"],
        "idempotency_key": None,
        "last_seq": seq,
        "warnings_sent": 0,
        **stats_columns(registered, at),
    }
    return {"issue": issue, "levels": levels, "events": events}


def copy_issues(source: Any, url: str, ids: list[str]) -> None:
    """Copy the read-model rows of the open issues ``ids`` into the database at ``url``: the live
    view authorises from the read model and adds the running workflow's state to it, so its
    issues must be there (the reads' databases are fresh)."""
    target = make_engine(url)
    try:
        with source.connect() as reading, target.begin() as writing:
            for model in (Issue, IssueLevel, IssueDepartment, IssueEvent):
                table = table_of(model)
                key = table.c.id if model is Issue else table.c.issue_id
                found = reading.execute(table.select().where(key.in_(ids)))
                # The child tables' surrogate ids would clash with the closed issues' rows.
                drop = () if model is Issue else ("id",)
                rows = [{k: v for k, v in r._mapping.items() if k not in drop} for r in found]
                if rows:
                    writing.execute(table.insert(), rows)
    finally:
        target.dispose()


def insert_closed(url: str, count: int, county: str) -> tuple[float, list[str], str]:
    """Bulk-insert ``count`` closed issues; (seconds, a sample of ids, a township code)."""
    engine = make_engine(url)
    rng = random.Random(20240611)
    began = time.perf_counter()
    sample: list[str] = []
    try:
        with Session(engine) as session:
            ladders = _ladders(session, county)
        now = datetime.now(UTC)
        for start in range(0, count, CHUNK):
            built = [
                _closed_issue(rng, rng.choice(ladders), now)
                for _ in range(min(CHUNK, count - start))
            ]
            sample += [b["issue"]["id"] for b in built[:20]]
            with engine.begin() as conn:
                for table, key in (
                    (Issue.__table__, "issue"),  # type: ignore[attr-defined]
                    (IssueLevel.__table__, "levels"),  # type: ignore[attr-defined]
                    (IssueEvent.__table__, "events"),  # type: ignore[attr-defined]
                ):
                    rows = (
                        [b[key] for b in built]
                        if key == "issue"
                        else [row for b in built for row in b[key]]
                    )
                    conn.execute(table.insert(), rows)
        if engine.dialect.name == "postgresql":
            # A year of closed issues has long been vacuumed by autovacuum, which an index-only
            # scan needs (the visibility map); a bulk insert a moment ago has not.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        township = ladders[0][1].code
    finally:
        engine.dispose()
    return time.perf_counter() - began, sample, township


def sql_stats_baseline(url: str, county: str, repeat: int) -> Dist:
    """What the database alone takes for the figures /stats shows: two GROUP BYs."""
    engine = make_engine(url)
    times = []
    try:
        with Session(engine) as session:
            path = session.exec(select(Unit.path).where(Unit.code == county)).one()
            for _ in range(repeat):
                began = time.perf_counter()
                session.exec(
                    select(
                        Issue.status,
                        Issue.resolution_level,
                        Issue.feedback_satisfaction,
                        func.count(),
                    )
                    .where(col(Issue.registered_unit_path).startswith(path))
                    .group_by(
                        col(Issue.status),
                        col(Issue.resolution_level),
                        col(Issue.feedback_satisfaction),
                    )
                ).all()
                session.exec(
                    select(Unit.parent_code, IssueLevel.level, IssueLevel.on_time, func.count())
                    .join(Unit, col(Unit.code) == col(IssueLevel.unit_code))
                    .where(col(Unit.path).startswith(path))
                    .group_by(col(Unit.parent_code), col(IssueLevel.level), col(IssueLevel.on_time))
                ).all()
                times.append(time.perf_counter() - began)
    finally:
        engine.dispose()
    return Dist.of(times)


# ---- requests -----------------------------------------------------------------------------------


async def timed_gets(
    http: httpx.AsyncClient, paths: list[str], count: int, budget_s: float
) -> tuple[Dist, int]:
    """Sequential GETs cycling over ``paths`` (3 warm-ups not counted); (latencies, errors)."""
    for path in paths[:3]:
        await http.get(path)
    times: list[float] = []
    errors = 0
    stop = time.monotonic() + budget_s
    for index in range(count):
        if time.monotonic() > stop and len(times) >= 5:
            break
        began = time.perf_counter()
        response = await http.get(paths[index % len(paths)])
        elapsed = time.perf_counter() - began
        if response.status_code == 200:
            times.append(elapsed)
        else:
            errors += 1
    return Dist.of(times), errors


async def raw_queries(ctx: Ctx, ids: list[str], count: int) -> Dist:
    times = []
    for index in range(count):
        handle = ctx.client.get_workflow_handle(workflow_id(ids[index % len(ids)]))
        began = time.perf_counter()
        await handle.query("state", result_type=IssueState)
        times.append(time.perf_counter() - began)
    return Dist.of(times)


async def run(ctx: Ctx) -> None:
    m = ctx.closed_size or (100_000 if ctx.full else 10_000)
    by_id, stats_n, list_n = (300, 40, 200) if ctx.full else (100, 10, 60)
    county = ctx.stack.settings.county
    if not ctx.live_ids:  # run alone: a few open issues for the live GET
        since = datetime.now(UTC)
        issues = [ctx.maker.make(INTAKE_CATEGORY) for _ in range(20)]
        await run_pool(20, 8, lambda i: start(ctx.client, ctx.stack.settings, issues[i]))
        await wait_recorded(ctx.engine, INTAKE_CATEGORY, since, 20, within_s=300)
        ctx.live_ids += [i.issue_id for i in issues]
    for backend in ("sqlite", "postgres"):
        try:
            with database(ctx.stack.root, backend) as url:
                await _backend(ctx, backend, normalise_url(url), m, county, by_id, stats_n, list_n)
        except Exception as error:
            if backend == "postgres" and "connect" in str(error).lower():
                note = f"reads on PostgreSQL skipped: {error}"[:300]
                say(note)
                ctx.diagnosis.append(note)
                continue
            raise


async def _backend(
    ctx: Ctx, backend: str, url: str, m: int, county: str, by_id: int, stats_n: int, list_n: int
) -> None:
    say(f"reads on {backend}: migrating, seeding, inserting {m:,} closed issues")
    await asyncio.to_thread(ctx.stack.prepare_read_model, url)
    insert_s, closed_ids, township = await asyncio.to_thread(insert_closed, url, m, county)
    await asyncio.to_thread(copy_issues, ctx.engine, url, ctx.live_ids[:50])
    say(f"  inserted in {insert_s:.1f} s; starting an API on it")
    child, base = await ctx.stack.start_api(url)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120.0) as http:
            token = await token_for(http, "county-supervisor")
            http.headers["Authorization"] = f"Bearer {token}"
            live_ids = ctx.live_ids[:50]
            results: dict[str, tuple[Dist, int]] = {}
            if live_ids:
                # The supervisors' live view: the running workflow's state, by a Temporal query.
                results["by_id_live"] = await timed_gets(
                    http, [f"/api/v1/issues/{i}/live" for i in live_ids], by_id, 60
                )
            results["by_id_record"] = await timed_gets(
                http, [f"/api/v1/issues/{i}" for i in closed_ids], by_id, 60
            )
            results["stats"] = await timed_gets(http, ["/api/v1/stats"], stats_n, 90)
            # A quarter (daily trend; the tallies' whole months and the rows at both ends) and
            # one township's whole history.
            quarter = (datetime.now(UTC) - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%S")
            results["stats_quarter"] = await timed_gets(
                http, [f"/api/v1/stats?since={quarter}"], stats_n, 90
            )
            results["stats_township"] = await timed_gets(
                http, [f"/api/v1/stats?unit={township}"], stats_n, 90
            )
            query = f"/api/v1/issues?status=closed&category=sanitation&unit={township}&limit=50"
            results["list"] = await timed_gets(http, [query], list_n, 60)
    finally:
        ctx.stack.stop(child)
    raw = await raw_queries(ctx, live_ids, by_id) if live_ids else Dist.of([])
    sql = await asyncio.to_thread(sql_stats_baseline, url, county, 5)

    at = f"{m:,} closed"
    scale = "" if m >= GOAL_STATS_AT else f" (goal set at {GOAL_STATS_AT:,})"
    if "by_id_live" in results:
        dist, errors = results["by_id_live"]
        ctx.add(
            Figure(
                f"reads.{backend}.by_id_live_p99",
                f"GET /issues/{{id}}/live, {backend}",
                dist.p99 * 1000,
                "ms",
                goal=f"≤ {GOAL_BY_ID_P99_MS:g} ms",
                met=at_most(dist.p99 * 1000, GOAL_BY_ID_P99_MS),
                baseline=f"raw Temporal query p99 {raw.p99 * 1000:.1f} ms",
                note=f"{dist.brief('ms', 1000)}; {errors} errors",
            )
        )
    dist, errors = results["by_id_record"]
    ctx.add(
        Figure(
            f"reads.{backend}.by_id_record_p99",
            f"GET /issues/{{id}} closed (read model), {backend}",
            dist.p99 * 1000,
            "ms",
            goal=f"≤ {GOAL_BY_ID_P99_MS:g} ms",
            met=at_most(dist.p99 * 1000, GOAL_BY_ID_P99_MS),
            note=f"{dist.brief('ms', 1000)}; {at}; {errors} errors",
        )
    )
    stats_p99 = 0.0
    for name, label in (
        ("stats", "county"),
        ("stats_quarter", "the last 90 days"),
        ("stats_township", "one township"),
    ):
        dist, errors = results[name]
        ctx.add(
            Figure(
                f"reads.{backend}.{name}_p99",
                f"GET /stats ({label}), {backend}, {at}",
                dist.p99 * 1000,
                "ms",
                goal=f"≤ {GOAL_STATS_P99_MS:g} ms at {GOAL_STATS_AT:,}",
                met=at_most(dist.p99 * 1000, GOAL_STATS_P99_MS),
                baseline=f"SQL GROUP BY p50 {sql.p50 * 1000:.0f} ms" if name == "stats" else None,
                note=f"{dist.brief('ms', 1000)}; {errors} errors{scale}",
            )
        )
        stats_p99 = max(stats_p99, dist.p99)
    live = results.get("by_id_live")
    if live is not None and not live[0].p99 * 1000 <= GOAL_BY_ID_P99_MS:
        ctx.diagnosis.append(
            f"GET /issues/{{id}} live on {backend}: p99 {live[0].p99 * 1000:.0f} ms (p50 "
            f"{live[0].p50 * 1000:.0f} ms); the raw Temporal query of the same issues from the "
            f"bench took p50 {raw.p50 * 1000:.0f} ms, p99 {raw.p99 * 1000:.0f} ms, so the tail "
            "is the query itself: it goes through the server to the worker, which answers from "
            "its sticky cache or, for an evicted issue, replays the history first. Helps: a "
            "sticky cache as large as the open count (max_cached_workflows), a worker not busy "
            "with a backlog when queried; or serve the live view from the read model and query "
            "Temporal only when the row is older than the last event."
        )
    dist, errors = results["list"]
    ctx.add(
        Figure(
            f"reads.{backend}.list_p99",
            f"GET /issues?status&category&unit (filtered list), {backend}",
            dist.p99 * 1000,
            "ms",
            note=f"{dist.brief('ms', 1000)}; {at}; {errors} errors",
        )
    )
    ctx.details.setdefault("reads", {})[backend] = {
        "closed_issues": m,
        "insert_s": round(insert_s, 1),
        **{name: d.as_dict(1000, 2) | {"errors": e} for name, (d, e) in results.items()},
        "raw_temporal_query_ms": raw.as_dict(1000, 2),
        "sql_group_by_ms": sql.as_dict(1000, 2),
        "list_query": "status=closed&category=sanitation&unit=<township>&limit=50",
    }
    if not stats_p99 * 1000 <= GOAL_STATS_P99_MS:
        ctx.diagnosis.append(
            f"/stats on {backend} at {at}: p99 {stats_p99 * 1000:.0f} ms against "
            f"{sql.p50 * 1000:.0f} ms for two bare SQL GROUP BYs over the issues. /stats reads "
            "whole UTC months from tallies kept by triggers (unit_tally, issue_tally, "
            "stay_tally), counts per whole UTC hour from covering indexes for the trend, and "
            "reads the median and p90 by rank off an index; the trend's two hourly passes over "
            "the period's issues are what remains proportional to the issues."
        )
