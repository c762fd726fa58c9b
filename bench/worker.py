"""The worker the benchmarks run: ``workers.main.build_worker`` with one hook for the burst.

Everything is the production worker (same workflows, activities, executor and limits, so tuning
in ``workers/main.py`` shows here) with the bare SDK baseline (``bench.bare``) registered beside
it, and one hook: a village stay whose policy term is the marker ``PIN_MARK`` gets its deadline
pinned to the instant written in the pin file. That is how N deadlines fall at one instant — a
relative policy term cannot do it, because each issue's clock starts when the worker enters its
first level, and those instants are spread by the worker's own throughput. The rest of the clock
(accept deadline, transfer window) is the calendar's.

Run as ``python -m bench.worker`` with the ``LINKAGE_*`` environment of the stack and
``LINKAGE_BENCH_PIN_FILE``. For tuning experiments, ``LINKAGE_BENCH_WORKER_OPTIONS`` may hold a
JSON object of ``temporalio.worker.Worker`` arguments laid over ``build_worker``'s (for example
``{"max_cached_workflows": 20000}``), and ``"sandbox": false`` for the unsandboxed runner.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.deadlines import Clocks, build_clocks
from bench.bare import BareTimerWorkflow
from bench.bare_activity import BareWriter
from domain.models import ClockRequest, Deadline, LevelClock
from settings import Settings, get_settings
from workers.main import build_worker, run_worker

PIN_FILE_ENV = "LINKAGE_BENCH_PIN_FILE"
OPTIONS_ENV = "LINKAGE_BENCH_WORKER_OPTIONS"
PIN_MARK = "P7DT17S"
"""The policy term asking for a pinned deadline (7 days 17 s: a length used nowhere else)."""
PIN_MARK_SECONDS = 7 * 86400 + 17

log = logging.getLogger("linkage.bench.worker")


class PinnedClocks(Clocks):
    """The calendar's clocks, with marked village deadlines moved to one shared instant."""

    def __init__(self, base: Clocks, pin_file: Path) -> None:
        super().__init__(base.calendar, base.policy)
        self.pin_file = pin_file

    def pinned(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.pin_file.read_text().strip())
        except (OSError, ValueError):
            return None

    @activity.defn(name="level_clock")
    def level_clock(self, req: ClockRequest) -> LevelClock:
        clock = super().level_clock(req)
        if req.resolve.seconds != PIN_MARK_SECONDS:
            return clock
        at = self.pinned()
        if at is None or at <= req.start:
            return clock
        return dataclasses.replace(clock, deadline=Deadline(at=at))


def bench_worker(
    make: Callable[[str], Worker],
    task_queue: str,
    options: dict[str, Any],
    bare: BareWriter,
) -> Worker:
    """``build_worker``'s worker for ``task_queue``, with the bare baseline registered beside the
    issue workflow and the experiment's constructor arguments laid over.

    The arguments are read off a worker built for another task queue and never run: the SDK
    refuses two workers on one queue in one process. The bare baseline shares this worker (its
    pollers, slots, thread pool, sticky cache and sandbox) so the two bursts differ only in their
    workflow code; they fire one after the other, never together.
    """
    options = dict(options)
    config: dict[str, Any] = dict(make("bench-worker-template").config())
    config["task_queue"] = task_queue
    config["workflows"] = [*config["workflows"], BareTimerWorkflow]
    config["activities"] = [*config["activities"], bare.write]
    if options.pop("sandbox", True) is False:
        config["workflow_runner"] = UnsandboxedWorkflowRunner()
    # JSON has no durations: a ``*_timeout`` or ``*_interval`` option is given in seconds.
    for key, value in options.items():
        if key.endswith(("_timeout", "_interval")) and isinstance(value, int | float):
            options[key] = timedelta(seconds=value)
    config.update(options)
    return Worker(**config)


async def serve(settings: Settings, pin_file: Path, options: dict[str, Any]) -> None:
    """``workers.main.run_worker`` with the pinned clocks: run until SIGINT/SIGTERM."""
    if options:
        log.info("worker options for this bench: %s", options)

    def make(client: Client, engine: Engine, http: httpx.AsyncClient) -> Worker:
        clocks = PinnedClocks(build_clocks(settings), pin_file)
        return bench_worker(
            lambda queue: build_worker(
                client, settings, engine, http, clocks=clocks, task_queue=queue
            ),
            settings.task_queue,
            options,
            BareWriter(engine),
        )

    await run_worker(settings, make)


def main() -> None:
    options = json.loads(os.environ.get(OPTIONS_ENV) or "{}")
    asyncio.run(serve(get_settings(), Path(os.environ[PIN_FILE_ENV]), options))
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's runtime may crash at interpreter exit (PyGILState_Release): leave at once.
    os._exit(0)


if __name__ == "__main__":
    main()
