"""Footprint: memory of the worker and the Temporal server per open issue, and what it implies.

Sampled by the lag benchmark around its ballast of N open issues: the worker is restarted first
(empty workflow cache), warmed with a few issues, sampled, then sampled again once the N issues
are registered and idle.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import files_size, mem_total_bytes
from bench.context import Ctx
from bench.report import Figure

MACHINE_SHARE = 0.8  # of the RAM left for the worker; the rest for the OS and the server


@dataclass(frozen=True)
class Memory:
    worker: int
    temporal: int
    store: int  # bytes of temporal.db (+ WAL)


def sample(ctx: Ctx) -> Memory:
    stack = ctx.stack
    return Memory(stack.worker_rss(), stack.temporal_rss(), files_size(*stack.temporal_db_files))


def cache_size(ctx: Ctx) -> int:
    """The bench worker's sticky cache: an experiment's option, else the setting it runs with."""
    size = ctx.stack.worker_options.get("max_cached_workflows")
    return int(size) if size is not None else ctx.stack.settings.worker_cached_issues


def report(ctx: Ctx, n: int, warm: int, before: Memory, after: Memory) -> None:
    size = cache_size(ctx)
    cached = max(1, min(n + warm, size) - min(warm, size))
    worker_per = max(after.worker - before.worker, 0) / cached
    temporal_per = max(after.temporal - before.temporal, 0) / n
    store_per = max(after.store - before.store, 0) / n
    usable = mem_total_bytes() * MACHINE_SHARE
    implied = usable / worker_per if worker_per > 0 else float("nan")
    ctx.add(
        Figure(
            f"footprint.{n}.worker_kb_per_open_issue",
            f"Worker RSS per open issue ({n:,} open)",
            worker_per / 1024,
            "KB",
            baseline=f"worker idle {before.worker / 2**20:.0f} MB → {after.worker / 2**20:.0f} MB",
            note=f"per cached workflow: {cached:,} of {n:,} fit the sticky cache "
            f"(max_cached_workflows={size})",
        )
    )
    ctx.add(
        Figure(
            f"footprint.{n}.implied_open_issues",
            f"Open issues one machine holds in worker memory ({n:,} open)",
            implied,
            "issues",
            baseline=f"{MACHINE_SHARE:.0%} of {mem_total_bytes() / 2**30:.1f} GB RAM",
            note="if every open issue stayed cached; with the default cache the worker "
            f"plateaus near {after.worker / 2**20:.0f} MB and the limit moves to Temporal's "
            f"store: {store_per / 1024:.1f} KB disk and {temporal_per / 1024:.1f} KB server "
            "RSS per open issue here",
        )
    )
    ctx.details.setdefault("footprint", {})[str(n)] = {
        "open_issues_added": n,
        "warm_issues": warm,
        "cache_size": size,
        "cached_after": min(n + warm, size),
        "worker_rss_mb": [round(before.worker / 2**20, 1), round(after.worker / 2**20, 1)],
        "temporal_rss_mb": [round(before.temporal / 2**20, 1), round(after.temporal / 2**20, 1)],
        "temporal_store_mb": [round(before.store / 2**20, 1), round(after.store / 2**20, 1)],
        "worker_kb_per_cached_issue": round(worker_per / 1024, 1),
        "temporal_rss_kb_per_open_issue": round(temporal_per / 1024, 2),
        "temporal_store_kb_per_open_issue": round(store_per / 1024, 2),
        "implied_open_issues_in_worker_memory": round(implied) if worker_per > 0 else None,
    }
