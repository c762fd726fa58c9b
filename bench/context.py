"""What one run shares between benchmarks: the stack, a Temporal client, the read model."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from bench.report import Figure
from bench.stack import Stack
from bench.workload import IssueMaker, Village


@dataclass
class Ctx:
    stack: Stack
    client: Client
    engine: Engine
    villages: list[Village]
    maker: IssueMaker
    api_base: str
    full: bool
    # Size overrides from the command line (None/empty: the mode's sizes).
    open_sizes: tuple[int, ...] = ()
    closed_size: int | None = None
    probe_window_s: int | None = None
    probe_rate: float | None = None
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    diagnosis: list[str] = field(default_factory=list)
    # Set by intake, used by lag to plan how long N registrations take.
    registered_rate: float | None = None
    # Open issues in Temporal, for the reads benchmark's live GET /issues/{id}.
    live_ids: list[str] = field(default_factory=list)
    # Run after every benchmark (the SQL poller's last minute may fall during the reads).
    finishers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    machine_cpus: int = field(default_factory=lambda: os.cpu_count() or 1)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(figure.line(), flush=True)
        return figure
