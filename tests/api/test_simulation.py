"""``linkage simulate``: the plan is exact and repeatable, and playing it on the real stack creates
issues that are resolved at every level, as the read model then records."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console
from sqlmodel import Session, col, select

from simulation.workload import (
    Village,
    WorkloadConfig,
    allocate,
    plan_workload,
    report_table,
    run_workload,
)
from store.tables import Issue, IssueDepartment
from tests.api.conftest import Api

SIM_TOWNSHIP = "611025103"  # 大坪镇: only this test registers here
VILLAGES = [Village(f"611025103{n:03d}", f"村{n}", SIM_TOWNSHIP) for n in range(1, 6)]


def test_shares_are_allocated_exactly() -> None:
    assert allocate(14, (0.5, 0.3, 0.2)) == [7, 4, 3]  # 7, 4.2, 2.8
    assert allocate(14, (0.6, 0.3, 0.1)) == [9, 4, 1]  # 8.4, 4.2, 1.4: a tie goes to the first
    # 14 × (.58, .22, .08, .10, .02) = 8.12, 3.08, 1.12, 1.4, 0.28 → the one left goes to 1.4.
    assert allocate(14, (0.58, 0.22, 0.08, 0.10, 0.02)) == [8, 3, 1, 2, 0]
    assert allocate(0, (1, 1)) == [0, 0]
    assert sum(allocate(1001, (0.58, 0.22, 0.08, 0.10, 0.02))) == 1001


def test_the_same_seed_plans_the_same_workload() -> None:
    config = WorkloadConfig(count=50, seed=11, rate=4)
    first, again = plan_workload(config, VILLAGES), plan_workload(config, VILLAGES)
    assert first == again
    assert plan_workload(WorkloadConfig(count=50, seed=12), VILLAGES) != first
    fates = Counter(p.fate for p in first)
    assert fates == {"village": 29, "township": 11, "county": 4, "open": 5, "withdrawn": 1}
    assert all(p.feedback is None for p in first if p.fate in ("open", "withdrawn"))
    assert all(not p.whistle for p in first if p.fate not in ("township", "county"))
    assert {p.village.code for p in first} <= {v.code for v in VILLAGES}
    # Poisson arrivals at 4 a second: the mean gap is near 0.25 s.
    gaps = [p.delay for p in first[1:]]
    assert 0.1 < sum(gaps) / len(gaps) < 0.5


async def test_a_small_workload_on_the_real_stack(api: Api) -> None:
    config = WorkloadConfig(
        count=14, rate=500, seed=3, unit=SIM_TOWNSHIP, concurrency=6, whistle_share=1.0
    )
    out = io.StringIO()
    report = await run_workload(api.http, config, Console(file=out, width=120))

    assert report.errors == [] and report.failed == 0
    assert report.registered == len(report.issue_ids) == 14
    # village 8, township 3, county 1, open 2 (see test_shares_are_allocated_exactly)
    assert report.resolved == {"village": 8, "township": 3, "county": 1}
    assert report.left_open == 2 and report.withdrawn == 0
    assert report.whistles >= 1 and report.reports >= report.whistles
    assert "登记" in out.getvalue() and "14/14" in out.getvalue()
    Console(file=out).print(report_table(report))
    assert "县级办结" in out.getvalue()

    for issue_id in report.issue_ids:
        await api.settled(issue_id)
    with Session(api.engine) as session:
        rows = session.exec(select(Issue).where(col(Issue.id).in_(report.issue_ids))).all()
        called = session.exec(
            select(IssueDepartment).where(col(IssueDepartment.issue_id).in_(report.issue_ids))
        ).all()
    assert len(rows) == 14
    assert all(r.township_code == SIM_TOWNSHIP for r in rows)
    levels = Counter(r.resolution_level for r in rows if r.resolution_level)
    assert levels == {"village": 8, "township": 3, "county": 1}
    open_rows = [r for r in rows if r.status in ("pending_accept", "in_progress")]
    assert len(open_rows) == 2
    rated = [r for r in rows if r.feedback_satisfaction is not None]
    assert len(rated) == report.feedback - report.reopened
    assert all(r.status == "closed" for r in rated)
    assert len(called) >= report.whistles and all(c.reported_at is not None for c in called)
