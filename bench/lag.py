"""Escalation lag: deadline → recorded escalation, steady and in a burst, beside a SQL poller and
beside the bare SDK.

One scenario per size N, on a freshly started worker:

1. **Ballast**: N issues (category ``bench_burst``) registered through raw ``start_workflow`` and
   left open; ``bench.worker`` pins their village deadline to one instant T, planned from the
   registration rate measured just before. Worker memory is sampled before and after (the
   footprint benchmark).
2. **Burst**: at T all N deadlines fall at once; the time until the bench has seen every
   escalation in the read model, and the CPU each cost the server and the worker. They stay open
   (at the township, with days to go).
3. **Bare SDK burst** (``bench.burst.bare_burst``): N ``bench.bare`` workflows (a timer, then one
   activity writing one row) due at one new instant, on the same worker and database, measured
   the same way: the cost an escalation is compared with.
4. **Steady**: with the N open, probe issues (``bench_probe``) are registered at a steady rate
   over a window; the bench policy gives each a village deadline D seconds after registration
   (and the default policy's warnings at 50% and 75%). Lag = when the bench first *sees* the
   escalation in the read model (polled every 0.25 s) − the village ``deadline``. The rows' own
   lag (the township's ``entered_at`` − the deadline) is kept in the details: the workflow enters
   the next level at the timer's instant, so it is zero by construction.

The poller (``bench.poller``) gets the same scenario in its own table on the same database: N rows
due at T and one row per probe due at the probe's planned deadline, running from the start of the
ballast. The probe window is a multiple of its 60 s period, so its lag spans a whole period. Its
figures are collected at the end of the run (its last minute may come during the reads).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench import footprint
from bench.burst import Burst, Watcher, bare_burst, measure, shape
from bench.common import Dist, PoolResult, cpu_share, run_pool, say
from bench.context import Ctx
from bench.lag_figures import diagnose, figures
from bench.poller import Poller
from bench.stack import BURST_CATEGORY, PROBE_CATEGORY
from bench.workload import (
    count_due_at,
    count_open,
    escalated_ids,
    escalations,
    start,
    wait_recorded,
)
from workflows.issue import workflow_id

PROBE_RATE = 2.0
"""Probe issues per second in the steady window: 170,000 a day, far above a county's intake
(Beijing's 12345 takes about 62,000 a day), yet leaving the worker room, so the figure is the lag
of an unsaturated system with N open rather than a throughput test."""
WARM = 20
RATE_BATCH = 60
REGISTER_CONCURRENCY = 64


@dataclass
class Measured:
    """What the scenario measured; the poller's figures join it at the end of the run."""

    n: int
    open_count: int
    steady: Dist  # until seen in the read model
    burst: Burst
    bare: Burst

    def projected_burst_s(self, n: int, cpus: int, workers: int) -> float:
        """Seconds N escalations take on this machine when idle, from the CPU each one cost:
        each worker process runs Python on one core at most (the GIL); all share the cores."""
        worker = self.burst.cpu_ms("worker") / 1000
        server = self.burst.cpu_ms("temporal") / 1000
        return max(n * worker / workers, n * (worker + server) / cpus)


async def _sleep_until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


def _lags(rows: dict[str, tuple[datetime, datetime]]) -> list[float]:
    return [(entered - deadline).total_seconds() for deadline, entered in rows.values()]


async def run(ctx: Ctx) -> None:
    sizes = ctx.open_sizes or ((1_000, 10_000) if ctx.full else (1_000,))
    window = ctx.probe_window_s or (120 if ctx.full else 60)
    # One poller for the run, as one cron job would serve every scenario; its rows are tagged
    # with the scenario, and it stops after the last scenario's figures are collected.
    poller = Poller(ctx.stack.engine())
    await asyncio.to_thread(poller.reset)
    poller.start()
    for n in sizes:
        await scenario(ctx, n, window=window, poller=poller)

    async def stop_poller() -> None:
        poller.stop()
        ctx.details.setdefault("lag", {})["poller_runs"] = {
            "ticks": [
                {"at": t.at.isoformat(), "escalated": t.escalated, "seconds": round(t.seconds, 3)}
                for t in poller.ticks
            ],
            "errors": poller.errors,
        }
        await asyncio.to_thread(poller.drop)
        poller.engine.dispose()

    ctx.finishers.append(stop_poller)


async def scenario(ctx: Ctx, n: int, *, window: int, poller: Poller) -> None:
    stack = ctx.stack
    details: dict[str, object] = {"n": n, "probe_rate_per_s": ctx.probe_rate or PROBE_RATE}
    ctx.details.setdefault("lag", {})[str(n)] = details
    say(f"lag ({n:,} open): restarting the worker for a clean cache and memory baseline")
    await stack.restart_workers()
    # Warm-up: the sandbox's imports and the first workflow runs cost memory once per process;
    # then a timed batch tells how fast the worker registers right now, under today's load.
    await _register(ctx, "warm", WARM, 8)
    rate = RATE_BATCH / await _register(ctx, "warm", RATE_BATCH, REGISTER_CONCURRENCY)
    await asyncio.sleep(2)
    before = footprint.sample(ctx)

    # The burst's instant: after the ballast, planned at 60% of the slower of the rate just
    # measured and the one intake measured. Registering 10,000 runs ever slower as they pile up
    # (on 2026-11-23, 13/s over the first 6,750 against 18.8/s for a short batch): an instant
    # that comes before the last registration mixes the burst with registrations, and the
    # figures say so. A thousand barely slow down, and intake's rate (through the API, a
    # slower path) underestimates theirs: on 2026-12-03, 1,000 took 71 s and then waited 80 s
    # for an instant planned from intake's 10.7/s. For the quick size, the batch's rate at 80%.
    large = n > 2_000
    if ctx.registered_rate and large:
        rate = min(rate, ctx.registered_rate)
    budget = n / ((0.6 if large else 0.8) * rate) + 10
    burst_at = (datetime.now(UTC) + timedelta(seconds=budget)).replace(microsecond=0)
    stack.pin_file.write_text(burst_at.isoformat())
    details |= {"registration_rate_measured_per_s": round(rate, 1), "burst_at": burst_at}
    await asyncio.to_thread(poller.add, f"burst-{n}", [burst_at] * n, datetime.now(UTC))

    ballast, ballast_since = await _ballast(ctx, n, burst_at, details)
    footprint.report(ctx, n, WARM + RATE_BATCH, before, footprint.sample(ctx))
    burst = await _burst(ctx, ballast, ballast_since, burst_at, details)
    await asyncio.sleep(2)  # the burst's notices settle
    # The baseline after ours, on the same worker with the same N issues open in the server.
    bare = await bare_burst(ctx, n, ballast.rate)
    details["bare_burst"] = bare.as_dict()
    open_count = await asyncio.to_thread(count_open, ctx.engine)
    details["open_during_probes"] = open_count
    steady, due = await _steady(ctx, n, window, poller, details)
    measured = Measured(n, open_count, steady, burst, bare)

    async def finish() -> None:
        await _collect_poller(ctx, poller, max([burst_at, *due]), measured, details)

    ctx.finishers.append(finish)


async def _register(ctx: Ctx, category: str, count: int, concurrency: int) -> float:
    """Register ``count`` issues and wait until all are recorded; the seconds it took."""
    since = datetime.now(UTC)
    began = time.monotonic()
    await run_pool(
        count,
        concurrency,
        lambda _: start(ctx.client, ctx.stack.settings, ctx.maker.make(category)),
    )
    await wait_recorded(ctx.engine, category, since, count, within_s=300)
    return time.monotonic() - began


async def _ballast(
    ctx: Ctx, n: int, burst_at: datetime, details: dict[str, object]
) -> tuple[PoolResult, datetime]:
    """N open issues whose village deadlines are pinned to ``burst_at``."""
    say(f"  registering {n:,} open issues (deadlines pinned to {burst_at:%H:%M:%S} UTC)")
    since = datetime.now(UTC)
    cpu = ctx.stack.cpu()
    began = time.monotonic()
    ballast = await run_pool(
        n,
        REGISTER_CONCURRENCY,
        lambda _: start(ctx.client, ctx.stack.settings, ctx.maker.make(BURST_CATEGORY)),
    )
    await wait_recorded(ctx.engine, BURST_CATEGORY, since, ballast.ok, within_s=max(600.0, n / 2))
    elapsed = time.monotonic() - began
    details["ballast"] = {
        "started": ballast.ok,
        "errors": len(ballast.errors),
        "start_rate_per_s": round(ballast.rate, 1),
        "all_recorded_after_s": round(elapsed, 1),
        "registered_rate_per_s": round(ballast.ok / elapsed, 1),
        "cpu": cpu_share(cpu, ctx.stack.cpu(), elapsed),
    }
    say(f"  {ballast.ok:,} registered and recorded in {elapsed:.1f} s")
    await asyncio.sleep(2)  # their notifications settle before memory is sampled
    return ballast, since


async def _steady(
    ctx: Ctx, n: int, window: int, poller: Poller, details: dict[str, object]
) -> tuple[Dist, list[datetime]]:
    """Probes at a steady rate, each due ``probe_deadline_s`` after registration; their lag until
    seen in the read model, and their deadlines."""
    deadline_s = ctx.stack.probe_deadline_s
    probe_rate = ctx.probe_rate or PROBE_RATE
    probes = int(probe_rate * window)
    since = datetime.now(UTC)
    first = since + timedelta(seconds=1)
    planned = [first + timedelta(seconds=i / probe_rate) for i in range(probes)]
    due = [p + timedelta(seconds=deadline_s) for p in planned]
    await asyncio.to_thread(poller.add, f"probe-{n}", due, since)
    say(f"  {probes} probes at {probe_rate:g}/s over {window} s, each due {deadline_s} s later")

    cpu = ctx.stack.cpu()
    began = time.monotonic()
    with Watcher(lambda: escalated_ids(ctx.engine, PROBE_CATEGORY, since)) as watcher:
        starts: list[asyncio.Task[None]] = []
        for at in planned:
            await _sleep_until(at)
            issue = ctx.maker.make(PROBE_CATEGORY)
            starts.append(asyncio.create_task(start(ctx.client, ctx.stack.settings, issue)))
        results = await asyncio.gather(*starts, return_exceptions=True)
        failed = sum(isinstance(r, BaseException) for r in results)
        everyone = await watcher.wait_for(probes - failed, within_s=deadline_s + 90)
        rows = await asyncio.to_thread(escalations, ctx.engine, PROBE_CATEGORY, since)
        seen = [
            (watcher.seen[i] - d).total_seconds() for i, (d, _) in rows.items() if i in watcher.seen
        ]
    entered, recorded = Dist.of(_lags(rows)), Dist.of(seen)
    details["steady"] = {
        "probes": probes,
        "start_errors": failed,
        "escalated": len(rows),
        "all_escalated": everyone,
        "window_s": window,
        "deadline_after_registration_s": deadline_s,
        "recorded_lag_s": recorded.as_dict(),
        # The township's entered_at is the timer's instant: zero by construction.
        "entered_after_deadline_s": entered.as_dict(),
        "cpu": cpu_share(cpu, ctx.stack.cpu(), time.monotonic() - began),
    }
    ctx.live_ids.extend(list(rows)[:100])
    say(f"  steady lag until seen in the read model: {recorded.brief()}")
    return recorded, due


async def _burst(
    ctx: Ctx,
    ballast: PoolResult,
    since: datetime,
    burst_at: datetime,
    details: dict[str, object],
) -> Burst:
    """Wait for the instant, then until the bench has seen every pinned escalation recorded."""
    overlap = ""
    if datetime.now(UTC) > burst_at:
        # The deadlines fell while issues were still being registered: the watcher begins late
        # and the CPU was shared with registration.
        overlap = (
            f"the instant came before the last of the {ballast.ok:,} registrations: escalated "
            "while registering went on"
        )
    pinned_count = await asyncio.to_thread(
        count_due_at, ctx.engine, BURST_CATEGORY, since, burst_at
    )
    if pinned_count < ballast.ok:
        note = (
            f"only {pinned_count:,} of {ballast.ok:,} deadlines fell at the instant: the "
            "registrations ran past it (the machine was slower than just measured)"
        )
        say("  " + note)
        details["note"] = note
    say(f"  waiting for the burst at {burst_at:%H:%M:%S} UTC")
    burst = await measure(
        ctx,
        burst_at,
        pinned_count,
        lambda: escalated_ids(ctx.engine, BURST_CATEGORY, since),
        overlap,
    )
    rows = await asyncio.to_thread(escalations, ctx.engine, BURST_CATEGORY, since)
    pinned = {i: v for i, v in rows.items() if abs((v[0] - burst_at).total_seconds()) < 1}
    burst.shape = await shape(ctx.client, [workflow_id(i) for i in sorted(pinned)])
    burst.extra = {
        "deadlines": ballast.ok,
        "escalated": len(rows),
        "entered_after_deadline_s": Dist.of(_lags(pinned)).as_dict(),  # zero by construction
    }
    details["burst"] = burst.as_dict()
    say(f"  burst: all {burst.due:,} escalations recorded {burst.seconds:.1f} s after the deadline")
    return burst


async def _collect_poller(
    ctx: Ctx, poller: Poller, last_due: datetime, ours: Measured, details: dict[str, object]
) -> None:
    """Wait for the poller's run after the last deadline; then the figures, ours beside it."""
    kinds = (f"probe-{ours.n}", f"burst-{ours.n}")
    give_up = time.monotonic() + 2 * poller.period_s + 15
    while time.monotonic() < give_up:
        pending = sum([await asyncio.to_thread(poller.pending, k, last_due) for k in kinds])
        if pending == 0:
            break
        await asyncio.sleep(1)
    steady, burst = [
        Dist.of([(at - d).total_seconds() for d, at in await asyncio.to_thread(poller.lags, k)])
        for k in kinds
    ]
    details["poller"] = {
        "period_s": poller.period_s,
        "steady_lag_s": steady.as_dict(),
        "burst_lag_s": burst.as_dict(),
    }
    figures(ctx, ours, steady, burst)
    diagnose(ctx, ours, details)
