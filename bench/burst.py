"""A burst of N deadlines at one instant, measured one way for ours and for the bare SDK baseline.

``measure`` samples every process's CPU at the instant and again when the bench has seen all N
done in the database (polled every ``POLL_S``), so both bursts are timed and charged alike: ours
is done when the escalation is in the read model, the bare workflow when its activity's row is.
``bare_burst`` starts N ``bench.bare`` workflows sleeping until one instant, on the same worker
and task queue as the issues. ``shape`` reads a few histories to count what one firing cost: the
workflow tasks after the timer fired, the activity round trips, the local activities.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench import bare_activity
from bench.bare import ID_PREFIX, WORKFLOW_NAME, BareStart
from bench.common import Dist, cpu_share, run_pool, say
from bench.context import Ctx

POLL_S = 0.25
WARM = 20
START_CONCURRENCY = 64  # as the ballast of issues is started
SHAPE_SAMPLES = 10
ROLES = ("temporal", "worker")  # the processes an escalation costs; the bench only watches


class Watcher:
    """When the bench first sees each id that ``done`` returns (polled every ``POLL_S``)."""

    def __init__(self, done: Callable[[], Sequence[str]]) -> None:
        self.done = done
        self.seen: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            ids = await asyncio.to_thread(self.done)
            now = datetime.now(UTC)
            for item in ids:
                self.seen.setdefault(item, now)
            await asyncio.sleep(POLL_S)

    def __enter__(self) -> Watcher:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()

    async def wait_for(self, count: int, within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while len(self.seen) < count:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True


@dataclass(frozen=True)
class Shape:
    """What one firing cost in history events, from the timer's firing to the history's end
    (means over ``samples`` workflows)."""

    workflow_tasks: float  # started: each attempt the worker ran
    activity_round_trips: float
    local_activities: float
    samples: int
    # Workflow tasks the server timed out (a sticky task not taken within its schedule-to-start
    # timeout goes back to the normal queue: the worker then gets the whole history again).
    timed_out: float = 0.0

    def brief(self) -> str:
        timeouts = f", {self.timed_out:g} timed out" if self.timed_out else ""
        return (
            f"{self.workflow_tasks:g} workflow task(s){timeouts}, {self.activity_round_trips:g} "
            f"activity round trip(s), {self.local_activities:g} local activities"
        )


@dataclass
class Burst:
    """One burst as measured. CPU figures are missing (NaN) when the instant came before the
    last start: the window then also holds the starts' work."""

    due: int  # deadlines that fell at the instant
    all_done: bool
    seen_after: Dist  # seconds from the instant until the bench saw each one done
    cpu: dict[str, dict[str, float]]  # Stack.cpu shares over the burst's window
    # Cores the rest of the machine (not the stack, not the bench) kept busy over the window.
    others: float = math.nan
    overlap: str = ""
    shape: Shape | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def cores(self) -> float:
        """Cores the server and the worker kept busy over the window."""
        return sum(self.cpu.get(r, {}).get("cores", 0.0) for r in ROLES)

    @property
    def seconds(self) -> float:
        """From the instant until the last one was seen done."""
        return self.seen_after.max if self.all_done and not self.overlap else math.nan

    @property
    def rate(self) -> float:
        return self.due / self.seconds if self.seconds > 0 else math.nan

    def cpu_ms(self, role: str | None = None) -> float:
        """CPU milliseconds one firing cost ``role`` (None: the server and the worker)."""
        if self.overlap or not self.due:
            return math.nan
        roles = ROLES if role is None else (role,)
        return sum(self.cpu.get(r, {}).get("cpu_s", 0.0) for r in roles) * 1000 / self.due

    def as_dict(self) -> dict[str, object]:
        return {
            "due_at_instant": self.due,
            "all_done": self.all_done,
            "seen_done_after_s": self.seen_after.as_dict(),
            "all_done_after_s": round(self.seconds, 2),
            "per_s": round(self.rate, 1),
            "cpu": self.cpu,
            "cpu_ms_per_firing": {r: round(self.cpu_ms(r), 1) for r in ROLES},
            "other_processes_cores": round(self.others, 2),
            "shape": asdict(self.shape) if self.shape else None,
            **({"overlapped_starts": self.overlap} if self.overlap else {}),
            **self.extra,
        }


async def _sleep_until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


async def measure(
    ctx: Ctx, at: datetime, due: int, done: Callable[[], Sequence[str]], overlap: str = ""
) -> Burst:
    """Wait for ``at``, then until ``done`` lists ``due`` ids; the CPU each process used."""
    with Watcher(done) as watcher:
        await _sleep_until(at)
        cpu, machine = ctx.stack.cpu(), machine_busy_s()
        began = time.monotonic()
        everyone = await watcher.wait_for(due, within_s=max(300.0, due / 5))
        elapsed = time.monotonic() - began
        used = cpu_share(cpu, ctx.stack.cpu(), elapsed)
        ours = sum(share["cpu_s"] for share in used.values())
        others = max(0.0, machine_busy_s() - machine - ours) / elapsed if elapsed else math.nan
        seen = [(t - at).total_seconds() for t in watcher.seen.values()]
    return Burst(
        due=due,
        all_done=everyone,
        seen_after=Dist.of(seen),
        cpu=used,
        others=others,
        overlap=overlap,
    )


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent not idle since boot (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


_IN_FLIGHT = {
    EventType.EVENT_TYPE_TIMER_FIRED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
}
"""Last events of a history whose workflow still has a task to come."""


async def _settled(
    client: Client, workflow_id: str, within_s: float = 30.0
) -> list[EventType.ValueType]:
    """The event types of a history once no task is in flight: the bench sees a row written
    before the workflow task (or the activity's result task) that wrote it has completed."""
    give_up = time.monotonic() + within_s
    while True:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        types = [e.event_type for e in history.events]
        if (types and types[-1] not in _IN_FLIGHT) or time.monotonic() > give_up:
            return types
        await asyncio.sleep(POLL_S)


async def shape(client: Client, workflow_ids: Sequence[str]) -> Shape | None:
    """Workflow tasks, activity round trips and local activities after the last timer fired,
    from ``SHAPE_SAMPLES`` histories spread evenly over ``workflow_ids`` (first to last fired)."""
    step = max(1, len(workflow_ids) // SHAPE_SAMPLES)
    counted: list[tuple[int, int, int, int]] = []
    for workflow_id in workflow_ids[::step][:SHAPE_SAMPLES]:
        types = await _settled(client, workflow_id)
        fired = [i for i, t in enumerate(types) if t == EventType.EVENT_TYPE_TIMER_FIRED]
        if not fired:
            continue
        after = types[fired[-1] :]
        counted.append(
            (
                after.count(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
                after.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
                after.count(EventType.EVENT_TYPE_MARKER_RECORDED),
                after.count(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT),
            )
        )
    if not counted:
        return None
    tasks, activities, markers, timed_out = (
        sum(c[i] for c in counted) / len(counted) for i in range(4)
    )
    return Shape(tasks, activities, markers, len(counted), timed_out)


async def _start_bare(ctx: Ctx, key: str, due: datetime) -> None:
    await ctx.client.start_workflow(
        WORKFLOW_NAME,
        BareStart(key=key, due=due.timestamp()),
        id=key,
        task_queue=ctx.stack.settings.task_queue,
    )


async def _wait_written(ctx: Ctx, prefix: str, count: int, within_s: float) -> None:
    give_up = time.monotonic() + within_s
    while len(await asyncio.to_thread(bare_activity.written_keys, ctx.engine, prefix)) < count:
        if time.monotonic() > give_up:
            raise TimeoutError(f"bare baseline: fewer than {count} rows after {within_s} s")
        await asyncio.sleep(POLL_S)


async def bare_burst(ctx: Ctx, n: int, start_rate: float) -> Burst:
    """N bare workflows due at one instant, planned from ``start_rate`` (starts per second)."""
    run = uuid.uuid4().hex[:6]
    warm, prefix = f"{ID_PREFIX}{run}-warm-", f"{ID_PREFIX}{run}-{n}-"
    await asyncio.to_thread(bare_activity.reset, ctx.engine)
    # The sandbox's first import of bench.bare and the table's first writes, outside the window.
    now = datetime.now(UTC)
    await run_pool(WARM, 8, lambda i: _start_bare(ctx, f"{warm}{i}", now))
    await _wait_written(ctx, warm, WARM, within_s=60)

    at = (datetime.now(UTC) + timedelta(seconds=n / (0.8 * start_rate) + 10)).replace(microsecond=0)
    say(f"  bare SDK baseline: starting {n:,} timer + activity workflows due {at:%H:%M:%S} UTC")
    keys = [f"{prefix}{i:06d}" for i in range(n)]
    started = await run_pool(n, START_CONCURRENCY, lambda i: _start_bare(ctx, keys[i], at))
    overlap = ""
    if datetime.now(UTC) > at:
        overlap = f"the instant came before the last of the {started.ok:,} starts"
    burst = await measure(
        ctx,
        at,
        started.ok,
        lambda: bare_activity.written_keys(ctx.engine, prefix),
        overlap,
    )
    rows = await asyncio.to_thread(bare_activity.instants, ctx.engine, prefix)
    burst.shape = await shape(ctx.client, keys)
    burst.extra = {
        "instant": at,
        "start_errors": len(started.errors),
        "start_rate_per_s": round(started.rate, 1),
        # Exact, from the rows: when the timer's task ran and when the row was committed.
        "timer_task_after_s": Dist.of(
            [(f - d).total_seconds() for d, f, _ in rows.values()]
        ).as_dict(),
        "written_after_s": Dist.of(
            [(w - d).total_seconds() for d, _, w in rows.values()]
        ).as_dict(),
    }
    say(f"  bare SDK baseline: all {len(rows):,} written {burst.seconds:.1f} s after the instant")
    await asyncio.to_thread(bare_activity.drop, ctx.engine)
    return burst
