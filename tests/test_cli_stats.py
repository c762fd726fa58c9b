"""``linkage stats`` over a constructed read model: the tables carry the numbers worked out here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from linkage_cli import app
from settings import Environment, Settings, get_settings
from store.db import make_engine, migrate
from store.duty_tables import DutyRun
from store.seed import seed
from store.tables import Issue, IssueEvent, IssueLevel

COUNTY = "611025"
TOWNSHIP = "611025101"  # 回龙镇
VILLAGE_A = "611025101001"
VILLAGE_B = "611025101202"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


def _path(code: str) -> str:
    parts = [COUNTY] + ([TOWNSHIP] if code != COUNTY else []) + ([code] if len(code) == 12 else [])
    return "/" + "/".join(parts) + "/"


def _issue(village: str, status: str, **fields: Any) -> Issue:
    issue_id = uuid.uuid4().hex
    unit = fields.pop("unit", village)
    values: dict[str, Any] = {
        "id": issue_id,
        "tracking_code": issue_id[:12].upper(),
        "category": "sanitation",
        "title": "命令行统计",
        "description": "统计用",
        "urgency": "normal",
        "channel": "walk_in",
        "village_code": village,
        "township_code": TOWNSHIP,
        "county_code": COUNTY,
        "unit_code": unit,
        "unit_path": _path(unit),
        "registered_unit_path": _path(village),
        "level": "village",
        "status": status,
        "registered_at": at(3, 9),
        "updated_at": at(3, 9),
    }
    return Issue(**(values | fields))


def _stay(issue: Issue, idx: int, unit: str, accepted: bool | None, **fields: Any) -> IssueLevel:
    return IssueLevel(
        issue_id=issue.id,
        idx=idx,
        level={COUNTY: "county", TOWNSHIP: "township"}.get(unit, "village"),
        unit_code=unit,
        unit_name=unit,
        entered_at=at(3, 9 + idx),
        deadline=at(6, 18),
        accept_deadline=at(4, 18),
        accepted_on_time=accepted,
        **fields,
    )


@pytest.fixture
def database(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A seeded read model (no demo accounts; SQLite or PostgreSQL) with three issues in 回龙镇,
    3 March 2025:

    a  village A  resolved at the village after 2 h, solved, satisfied, rated by the citizen
    b  village A  escalated on request, at the township, warned once, not yet accepted there
    c  village B  up to the county on timeout, overdue on the 5th, still open
    """
    url = db_url
    migrate(url)
    engine = make_engine(url)
    seed(engine, Settings(environment=Environment.TEST, demo_accounts=False, data_dir=tmp_path))
    a = _issue(
        VILLAGE_A,
        "closed",
        resolution_level="village",
        resolved_at=at(3, 11),
        feedback_solved=True,
        feedback_satisfaction="satisfied",
        feedback_by_role="citizen",
    )
    b = _issue(VILLAGE_A, "in_progress", unit=TOWNSHIP, level="township", warnings_sent=1)
    c = _issue(VILLAGE_B, "in_progress", unit=COUNTY, level="county", overdue=True)
    with Session(engine) as session:
        session.add_all([a, b, c])
        session.flush()
        session.add_all(
            [
                _stay(a, 0, VILLAGE_A, True, outcome="resolved", on_time=True),
                _stay(b, 0, VILLAGE_A, True, outcome="escalated_on_request", on_time=True),
                _stay(b, 1, TOWNSHIP, None),
                _stay(c, 0, VILLAGE_B, False, outcome="escalated_on_timeout", on_time=False),
                _stay(c, 1, TOWNSHIP, True, outcome="escalated_on_timeout", on_time=False),
                _stay(c, 2, COUNTY, True),
                IssueEvent(
                    issue_id=c.id,
                    seq=5,
                    type="overdue",
                    at=at(5, 12),
                    actor_user="system",
                    actor_role="system",
                ),
            ]
        )
        session.commit()
    engine.dispose()
    monkeypatch.setenv("LINKAGE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _run(*args: str) -> Any:
    # A wide terminal, so that no table cell wraps.
    return CliRunner().invoke(app, ["stats", *args], env={"COLUMNS": "220"})


def test_stats_prints_every_table_with_numbers_worked_by_hand(database: str) -> None:
    result = _run("--unit", TOWNSHIP, "--since", "2025-03-01", "--until", "2025-03-08")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "回龙镇（611025101）统计 · 2025-03-01 至 2025-03-08（不含）" in out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 3}
    # Summary: 3 registered, 2 open, 1 warned, 1 overdue now and ever, 1 resolved in 2 h.
    for name, value in (
        ("登记总数", "3"),
        ("在办", "2"),
        ("预警", "1"),
        ("超期（在办）", "1"),
        ("累计超期", "1"),
        ("已办结", "1"),
        ("办理时长中位数", "2小时0分"),
    ):
        assert lines[name].split("│")[2].strip() == value, (name, lines[name])
    # Levels: open at the township 1 and county 1; funnel 3 / 2 / 1; all resolved at the village;
    # on time: village 2 of 3, township 0 of 1, nothing left at the county within 回龙镇.
    assert _cells(lines["村级"]) == ["村级", "0", "3", "100.0%", "66.7%"]
    assert _cells(lines["乡镇级"]) == ["乡镇级", "1", "2", "0.0%", "0.0%"]
    assert _cells(lines["县级"]) == ["县级", "1", "1", "0.0%", "—"]
    # 三率: 4 settled stays, 3 on time; one feedback, solved and satisfied.
    # composite 0.1 × 0.75 + 0.5 × 1 + 0.4 × 1 = 0.975
    rates = next(line for line in out.splitlines() if "75.0%" in line and "97.5" in line)
    assert _cells(rates) == ["75.0%", "100.0%", "100.0%", "97.5", "4", "3", "1", "1", "0"]
    # Villages: red list A first (composite 100), black list B first (1 overdue now, 1 ever).
    red = out.split("村（社区）红榜（综合得分）")[1].split("村（社区）黑榜")[0]
    assert _cells(_row(red, "1"))[:3] == ["1", "回龙社区", "100.0"]
    black = out.split("村（社区）黑榜（超期）")[1].split("类别")[0]
    assert _cells(_row(black, "1"))[1:3] == ["枣园村委会", "—"]
    assert _cells(_row(black, "1"))[-2:] == ["1/1", "0/0"]
    # Trend: seven days, the 3rd with 3 registered and 1 resolved, the 5th with 1 overdue.
    trend = out.split("趋势")[1]
    assert _cells(_row(trend, "2025-03-03")) == ["2025-03-03", "3", "1", "0"]
    assert _cells(_row(trend, "2025-03-05")) == ["2025-03-05", "0", "0", "1"]
    assert sum(1 for line in trend.splitlines() if "2025-03-0" in line) == 7


def test_stats_tell_the_citizens_own_feedback_from_staffs_callbacks(database: str) -> None:
    # d: village B, resolved at the village, rated solved and basically satisfied on a phone
    # 回访 that a supervisor recorded.
    d = _issue(
        VILLAGE_B,
        "closed",
        resolution_level="village",
        resolved_at=at(3, 12),
        feedback_solved=True,
        feedback_satisfaction="basically_satisfied",
        feedback_by_role="supervisor",
    )
    engine = make_engine(database)
    with Session(engine) as session:
        session.add(d)
        session.commit()
    engine.dispose()

    result = _run("--unit", TOWNSHIP, "--since", "2025-03-01", "--until", "2025-03-08")
    assert result.exit_code == 0, result.output
    out = result.output
    # 三率: two feedbacks, both solved; satisfaction (1 + 0.9) / 2 = 95%; composite
    # 0.1 × 0.75 + 0.5 × 1 + 0.4 × 0.95 = 0.955. One the citizen's own, one a supervisor's 回访.
    header = next(line for line in out.splitlines() if "回访数" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]][-2:] == ["群众自评", "回访录入"]
    rates = next(line for line in out.splitlines() if "75.0%" in line and "95.5" in line)
    assert _cells(rates) == [
        "75.0%",
        "100.0%",
        "95.0%",
        "95.5",
        "4",
        "3",
        "2",
        "1",
        "1（督查 1）",
    ]
    # Per village: A rated by its citizen, B only through the supervisor's 回访.
    red = out.split("村（社区）红榜（综合得分）")[1].split("村（社区）黑榜")[0]
    assert "评价（群众自评/回访录入）" in red
    assert _cells(_row(red, "1"))[1] == "回龙社区" and _cells(_row(red, "1"))[-1] == "1/0"
    village_b = next(line for line in red.splitlines() if "枣园村委会" in line)
    assert _cells(village_b)[-1] == "0/1"


def test_stats_of_an_empty_period_and_bad_options(database: str) -> None:
    empty = _run("--unit", TOWNSHIP, "--since", "2024-01-01", "--until", "2024-01-03")
    assert empty.exit_code == 0, empty.output
    assert "登记总数" in empty.output and "—" in empty.output
    assert "2024-01-02" in empty.output  # two days of zeros

    unknown = _run("--unit", "611025999")
    assert unknown.exit_code == 2 and "未知的单位代码" in unknown.output
    assert _run("--since", "yesterday").exit_code == 2
    assert _run("--bucket", "month").exit_code == 2


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("│")[1:-1]]


def _row(block: str, first: str) -> str:
    return next(line for line in block.splitlines() if _cells(line)[:1] == [first])


def test_composite_weights_come_from_settings(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The 30/35/35 weighting some places use: 0.3 × 0.75 + 0.35 × 1 + 0.35 × 1 = 0.925.
    monkeypatch.setenv("LINKAGE_COMPOSITE_WEIGHTS", "[0.3, 0.35, 0.35]")
    get_settings.cache_clear()
    result = _run("--unit", TOWNSHIP, "--since", "2025-03-01", "--until", "2025-03-08")
    assert result.exit_code == 0, result.output
    rates = next(line for line in result.output.splitlines() if "75.0%" in line and "92.5" in line)
    assert _cells(rates)[:4] == ["75.0%", "100.0%", "100.0%", "92.5"]


def test_composite_weights_must_be_shares() -> None:
    with pytest.raises(ValueError, match="LINKAGE_COMPOSITE_WEIGHTS"):
        Settings(composite_weights=(0.5, 0.5, 0.5))


def _duty(kind: str, unit: str, day: int, status: str, on_time: bool | None) -> DutyRun:
    return DutyRun(
        id=f"duty-{kind}-{unit}-{day}",
        kind=kind,
        unit_code=unit,
        unit_path=_path(unit),
        due_at=at(day, 10),
        status=status,
        on_time=on_time,
        updated_at=at(day, 10),
    )


def test_stats_print_the_duties_on_time_shares(database: str) -> None:
    # In the week: A's council held; A's monthly disclosure late, B's on time, B's quarterly one
    # still overdue and reminded; a council of the 10th falls outside the period.
    engine = make_engine(database)
    with Session(engine) as session:
        session.add_all(
            [
                _duty("village_council", VILLAGE_A, 3, "done", True),
                _duty("disclosure_monthly", VILLAGE_A, 4, "done", False),
                _duty("disclosure_monthly", VILLAGE_B, 4, "done", True),
                _duty("disclosure_quarterly", VILLAGE_B, 5, "overdue", None),
                _duty("village_council", VILLAGE_B, 10, "done", False),
            ]
        )
        session.commit()
    engine.dispose()
    result = _run("--unit", TOWNSHIP, "--since", "2025-03-01", "--until", "2025-03-08")
    assert result.exit_code == 0, result.output
    duties = result.output.split("值班职责按时率（按到期时间）")[1]
    assert _cells(_row(duties, "村民议事会")) == ["村民议事会", "1", "1", "0", "0", "100.0%"]
    assert _cells(_row(duties, "村务公开（月度）")) == [
        "村务公开（月度）",
        "2",
        "1",
        "1",
        "0",
        "50.0%",
    ]
    assert _cells(_row(duties, "村务公开（季度）")) == [
        "村务公开（季度）",
        "1",
        "0",
        "0",
        "1",
        "0.0%",
    ]
    empty = _run("--unit", TOWNSHIP, "--since", "2024-01-01", "--until", "2024-01-03")
    assert "值班职责：该时段没有到期的职责" in empty.output
