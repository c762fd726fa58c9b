"""Small pieces every benchmark uses: distributions, a bounded pool, ports, memory, progress."""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def say(message: str) -> None:
    """Progress on stderr, flushed at once, so the figures on stdout stay a clean report."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Dist:
    """A latency (or lag) distribution in seconds: nearest-rank percentiles."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float
    min: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Dist:
        if not values:
            nan = math.nan
            return cls(0, nan, nan, nan, nan, nan, nan)
        ordered = sorted(values)
        return cls(
            n=len(ordered),
            mean=sum(ordered) / len(ordered),
            p50=percentile(ordered, 50),
            p90=percentile(ordered, 90),
            p99=percentile(ordered, 99),
            max=ordered[-1],
            min=ordered[0],
        )

    def as_dict(self, scale: float = 1.0, digits: int = 4) -> dict[str, Any]:
        """The fields (times multiplied by ``scale``, e.g. 1000 for milliseconds)."""
        return {k: (v if k == "n" else round(v * scale, digits)) for k, v in asdict(self).items()}

    def brief(self, unit: str = "s", scale: float = 1.0) -> str:
        return (
            f"p50 {number(self.p50 * scale)} {unit}, p99 {number(self.p99 * scale)} {unit}, "
            f"max {number(self.max * scale)} {unit} (n={self.n})"
        )


def number(value: float) -> str:
    """Three significant digits, without exponents: 0.0465, 4.3, 38.2, 426, 9,440."""
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class PoolResult:
    elapsed: float
    latencies: list[float]
    errors: list[str]

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else math.nan


async def run_pool(
    count: int, concurrency: int, job: Callable[[int], Awaitable[None]]
) -> PoolResult:
    """Run ``job(0..count-1)`` with at most ``concurrency`` in flight; time each and the whole."""
    latencies: list[float] = []
    errors: list[str] = []
    next_index = iter(range(count))

    async def lane() -> None:
        for index in next_index:
            began = time.perf_counter()
            try:
                await job(index)
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}"[:300])
            else:
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(concurrency, count))))
    return PoolResult(time.perf_counter() - began, latencies, errors)


def mem_total_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def machine() -> dict[str, Any]:
    """What the figures were measured on, including how busy it was when the run began."""
    load1, load5, load15 = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "mem_total_mb": round(mem_total_bytes() / 2**20),
        "loadavg_at_start": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "python": sys.version.split()[0],
    }


def files_size(*paths: Path) -> int:
    return sum(p.stat().st_size for p in paths if p.exists())


def cpu_share(
    before: dict[str, float], after: dict[str, float], elapsed: float
) -> dict[str, dict[str, float]]:
    """Per role: CPU seconds used between two ``Stack.cpu`` samples, and as cores busy."""
    return {
        role: {
            "cpu_s": round(after[role] - before.get(role, 0.0), 1),
            "cores": round((after[role] - before.get(role, 0.0)) / elapsed, 2) if elapsed else 0.0,
        }
        for role in after
    }
