"""The usual design, as a peer: a cron-like SQL poller that escalates overdue rows once a minute.

This is how escalation deadlines are mostly built without a workflow engine: each open item is a
row with its deadline; a job wakes at the start of every minute (``* * * * *``), selects the rows
whose deadline has passed, and escalates them — one ``UPDATE`` per batch moving them to the next
level with a new deadline, and one multi-row ``INSERT`` of their escalation events, in the same
transaction. Built honestly: an index on (level, deadline) so the select is a range scan, batches
of 1,000, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so two pollers could share the work. It lives
in its own tables on the same database as the read model and runs in a thread of the bench
process, beside the workflows, on the same scenario.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Engine, Index, Integer, MetaData, String, Table, func, select

from store.tables import UTCDateTime

PERIOD_S = 60.0
BATCH = 1000
NEXT_TERM = timedelta(days=5)  # the next level's allowance, as in the bench policy
LADDER = {"village": "township", "township": "county"}

metadata = MetaData()
items = Table(
    "bench_poll_item",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # probe-N | burst-N: the scenario it mirrors
    Column("level", String(16), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    Index("ix_bench_poll_item_due", "level", "deadline"),
)
events = Table(
    "bench_poll_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, nullable=False, index=True),
    Column("type", String(32), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("from_level", String(16), nullable=False),
    Column("to_level", String(16), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),  # the deadline that fell due
)


@dataclass
class Tick:
    at: datetime
    escalated: int
    seconds: float


@dataclass
class Poller:
    engine: Engine
    period_s: float = PERIOD_S
    ticks: list[Tick] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._postgres = self.engine.dialect.name == "postgresql"

    # ---- table and rows -----------------------------------------------------------------------

    def reset(self) -> None:
        metadata.drop_all(self.engine)
        metadata.create_all(self.engine)

    def add(self, kind: str, deadlines: list[datetime], entered_at: datetime) -> None:
        rows = [
            {"kind": kind, "level": "village", "deadline": d, "entered_at": entered_at}
            for d in deadlines
        ]
        with self.engine.begin() as conn:
            for start in range(0, len(rows), 5000):
                conn.execute(items.insert(), rows[start : start + 5000])

    # ---- the job ------------------------------------------------------------------------------

    def tick(self) -> int:
        """Escalate every overdue row, a batch per transaction; how many were escalated."""
        escalated = 0
        for level, upper in LADDER.items():
            while True:
                with self.engine.begin() as conn:
                    due = (
                        select(items.c.id, items.c.deadline)
                        .where(items.c.level == level, items.c.deadline <= datetime.now(UTC))
                        .order_by(items.c.deadline)
                        .limit(BATCH)
                    )
                    if self._postgres:
                        due = due.with_for_update(skip_locked=True)
                    rows = conn.execute(due).all()
                    if not rows:
                        break
                    at = datetime.now(UTC)
                    conn.execute(
                        items.update()
                        .where(items.c.id.in_([row.id for row in rows]))
                        .values(level=upper, entered_at=at, deadline=at + NEXT_TERM)
                    )
                    conn.execute(
                        events.insert(),
                        [
                            {
                                "item_id": row.id,
                                "type": "escalated_on_timeout",
                                "at": at,
                                "from_level": level,
                                "to_level": upper,
                                "deadline": row.deadline,
                            }
                            for row in rows
                        ],
                    )
                escalated += len(rows)
                if len(rows) < BATCH:
                    break
        return escalated

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Cron: at the start of every wall-clock minute (period), whenever we were started.
            now = time.time()
            wake = (now // self.period_s + 1) * self.period_s
            if self._stop.wait(wake - now):
                return
            began = time.perf_counter()
            try:
                count = self.tick()
            except Exception as error:  # a failed run is retried at the next minute, as cron
                self.errors.append(f"{type(error).__name__}: {error}"[:300])
                continue
            self.ticks.append(Tick(datetime.now(UTC), count, time.perf_counter() - began))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bench-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)

    # ---- what it did --------------------------------------------------------------------------

    def pending(self, kind: str, due_by: datetime) -> int:
        """Rows of ``kind`` whose village deadline fell by ``due_by`` and are not escalated yet."""
        with self.engine.connect() as conn:
            count: int = conn.execute(
                select(func.count())
                .select_from(items)
                .where(
                    items.c.kind == kind,
                    items.c.level == "village",
                    items.c.deadline <= due_by,
                )
            ).scalar_one()
            return count

    def lags(self, kind: str) -> list[tuple[datetime, datetime]]:
        """(deadline, escalated at) of every village escalation of ``kind``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events.c.deadline, events.c.at)
                .join(items, items.c.id == events.c.item_id)
                .where(items.c.kind == kind, events.c.from_level == "village")
            ).all()
            return [(row.deadline, row.at) for row in rows]

    def drop(self) -> None:
        metadata.drop_all(self.engine)
