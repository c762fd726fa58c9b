"""GET /api/v1/deliberations and /deliberations/stats in SQL, on SQLite and PostgreSQL.

More deliberations than the old 500-row cap are written straight into the read model (the
recorder's table; nothing about listing needs a workflow behind a row) in the villages of one
township, with statuses, invitations and outcomes spread over them. Every page walked with the
cursor, every count and every statistic is then checked against an oracle: the Python reading
rule (``api.deliberations.can_read``) over every row of the table, uncapped.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, delete, select

from api.deliberations import can_read
from api.deps import principal_for_user
from store.deliberation_tables import Deliberation
from store.tables import Unit, User
from tests.api.conftest import OTHER_TOWNSHIP, TOWNSHIP, VILLAGE, Api, problem
from tests.api.read_models import any_read_model

__all__ = ["any_read_model"]  # the fixture, imported for pytest

ROWS = 540  # beyond the 500 rows the lists were once cut at
STATUSES = ("open", "submitted", "implementing", "awaiting_evaluation", "closed", "withdrawn")
DEPARTMENT = "zhenan-shuili"
READERS = (
    "county-supervisor",
    f"township-{OTHER_TOWNSHIP}",
    f"township-{TOWNSHIP}",
    f"village-{VILLAGE}",
    f"dept-{DEPARTMENT}",
)


def _row(i: int, village: Unit, township: Unit, start: datetime) -> Deliberation:
    status = STATUSES[i % len(STATUSES)]
    decided = status in ("implementing", "awaiting_evaluation", "closed")
    completed = status in ("awaiting_evaluation", "closed")
    referred = i % 11 == 0  # referred up: it now sits at the township
    here = township if referred else village
    return Deliberation(
        id=uuid.uuid4().hex,
        topic=f"议题 {i}",
        kind="village_council",
        status=status,
        unit_code=here.code,
        unit_path=here.path,
        opened_unit_code=village.code,
        opened_unit_path=village.path,
        county_code="611025",
        level="township" if referred else "village",
        round=1,
        deadline=start + timedelta(days=3),
        overdue=i % 7 == 0,
        # Every third pair shares an instant: the cursor's tie on id is exercised.
        opened_at=start - timedelta(minutes=i // 2 if i % 3 == 0 else i),
        updated_at=start,
        opened_by="village-clerk",
        departments=[DEPARTMENT] if i % 5 == 0 else [],
        # Some invite a village of another township, whose clerk then reads them.
        participant_units=[VILLAGE] if i % 13 == 0 else [],
        consensus=None if status == "open" else i % 4 != 0,
        decision_text="决定" if decided else None,
        decision_level=("township" if referred else "village") if decided else None,
        responsible_unit=village.code if decided else None,
        completed_at=start if completed else None,
        on_time=(i % 3 != 0) if completed else None,
    )


@pytest.fixture(scope="module")
def many(any_read_model: Api) -> Iterator[list[str]]:
    with Session(any_read_model.engine) as session:
        township = session.get(Unit, OTHER_TOWNSHIP)
        assert township is not None
        villages = session.exec(
            select(Unit).where(Unit.parent_code == OTHER_TOWNSHIP).order_by(col(Unit.code))
        ).all()
        start = datetime.now(UTC).replace(microsecond=0)
        rows = [_row(i, villages[i % len(villages)], township, start) for i in range(ROWS)]
        session.add_all(rows)
        session.commit()
        ids = [r.id for r in rows]
    yield ids
    with Session(any_read_model.engine) as session:
        session.exec(delete(Deliberation).where(col(Deliberation.id).in_(ids)))
        session.commit()


def _oracle(api: Api, username: str, unit: str | None = None) -> list[Deliberation]:
    """What the user may read, by the Python rule over the whole table, newest first."""
    with Session(api.engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        principal = principal_for_user(session, user)
        scope = session.get(Unit, unit) if unit else None
        rows = session.exec(select(Deliberation)).all()
        readable = [r for r in rows if can_read(principal, r)]
    if scope is not None:
        readable = [
            r
            for r in readable
            if r.unit_path.startswith(scope.path) or r.opened_unit_path.startswith(scope.path)
        ]
    return sorted(readable, key=lambda r: (r.opened_at, r.id), reverse=True)


async def _walk(api: Api, user: str, **params: Any) -> tuple[list[str], set[int]]:
    """Every page of the list: the ids in order and the counts the pages reported."""
    ids: list[str] = []
    counts: set[int] = set()
    cursor: str | None = None
    while True:
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        r = await api.get("/deliberations", as_user=user, **query)
        assert r.status_code == 200, r.text
        page = r.json()
        ids += [d["id"] for d in page["data"]]
        counts.add(page["count"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, counts


@pytest.mark.parametrize("user", READERS)
async def test_every_readable_deliberation_is_listed_once_in_order(
    any_read_model: Api, many: list[str], user: str
) -> None:
    expected = [r.id for r in _oracle(any_read_model, user)]
    listed, counts = await _walk(any_read_model, user)
    assert listed == expected
    assert counts == {len(expected)}
    if user in ("county-supervisor", f"township-{OTHER_TOWNSHIP}"):
        assert set(many) <= set(listed) and len(listed) > 500


async def test_invitations_are_read_beyond_ones_subtree(
    any_read_model: Api, many: list[str]
) -> None:
    invited = {r.id for r in _oracle(any_read_model, f"village-{VILLAGE}")} & set(many)
    assert len(invited) == len(range(0, ROWS, 13))  # a participant unit reads its invitations
    called = {r.id for r in _oracle(any_read_model, f"dept-{DEPARTMENT}")} & set(many)
    assert len(called) == len(range(0, ROWS, 5))
    listed, _ = await _walk(any_read_model, f"dept-{DEPARTMENT}")
    assert called <= set(listed)


async def test_filters_by_unit_and_status_are_counted_in_full(
    any_read_model: Api, many: list[str]
) -> None:
    user = "county-supervisor"
    for status in ("submitted", "implementing"):
        expected = [
            r.id for r in _oracle(any_read_model, user, OTHER_TOWNSHIP) if r.status == status
        ]
        listed, counts = await _walk(any_read_model, user, unit=OTHER_TOWNSHIP, status=status)
        assert listed == expected and counts == {len(expected)} and len(expected) >= ROWS // 6
    r = await any_read_model.get("/deliberations", as_user=user, unit="999999", limit=5)
    assert problem(r, 422)["errors"][0]["field"] == "unit"


def _statistics(rows: list[Deliberation]) -> dict[str, Any]:
    settled = [r for r in rows if r.consensus is not None]
    by_level: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.decision_level is None:
            continue
        level = by_level.setdefault(
            r.decision_level, {"decisions": 0, "completed": 0, "on_time": 0}
        )
        level["decisions"] += 1
        level["completed"] += r.completed_at is not None
        level["on_time"] += r.completed_at is not None and bool(r.on_time)
    for level in by_level.values():
        done = level["completed"]
        level["on_time_rate"] = level["on_time"] / done if done else None
    return {
        "total": len(rows),
        "by_status": dict(Counter(r.status for r in rows)),
        "overdue": sum(r.overdue for r in rows),
        "consensus_share": sum(bool(r.consensus) for r in settled) / len(settled)
        if settled
        else None,
        "by_level": by_level,
    }


@pytest.mark.parametrize(
    ("user", "unit"),
    [
        ("county-supervisor", None),
        ("county-supervisor", OTHER_TOWNSHIP),
        (f"township-{OTHER_TOWNSHIP}", None),
        (f"dept-{DEPARTMENT}", None),
    ],
)
async def test_statistics_count_every_row_in_sql(
    any_read_model: Api, many: list[str], user: str, unit: str | None
) -> None:
    r = await any_read_model.get(
        "/deliberations/stats", as_user=user, **({"unit": unit} if unit else {})
    )
    assert r.status_code == 200, r.text
    stats = r.json()
    expected = _statistics(_oracle(any_read_model, user, unit))
    assert stats["consensus_share"] == pytest.approx(expected.pop("consensus_share"))
    for level in stats["by_level"].values():
        level["on_time_rate"] = pytest.approx(level["on_time_rate"])
    assert {k: v for k, v in stats.items() if k != "consensus_share"} == expected
    if user != f"dept-{DEPARTMENT}":
        assert stats["total"] > 500


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJ4IiwgInkiXQ"}, "cursor"),  # ["x", "y"]: the shape, not a time and id
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
    ],
)
async def test_a_bad_cursor_or_limit_is_a_422_naming_it(
    any_read_model: Api, params: dict[str, Any], field: str
) -> None:
    r = await any_read_model.get("/deliberations", as_user="county-supervisor", **params)
    body = problem(r, 422)
    assert field in str(body["errors"][0]["field"])
