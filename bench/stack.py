"""The stack under test, started the way ``linkage up`` starts it, on free ports in a temp dir.

Every process comes from ``workers.launcher``: Temporal's ``DevServer`` with ``linkage up``'s
command line (so pragma tuning there shows here) plus ``--headless``; workers (``bench.worker``)
and APIs (``linkage api``) with the environment of ``child_environment``. The read model is
migrated and seeded in-process. ``close`` stops them all, API first, Temporal last.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from bench.common import REPO, say
from bench.worker import OPTIONS_ENV, PIN_FILE_ENV, PIN_MARK
from settings import Environment, Settings
from workers.launcher import (
    READY_TIMEOUT,
    Child,
    DevServer,
    child_environment,
    cpu_seconds,
    free_port,
    http_status,
    linkage_command,
    wait_until,
)

PROBE_CATEGORY = "bench_probe"
BURST_CATEGORY = "bench_burst"


def bench_policy(probe_deadline_s: int) -> str:
    """The policy the bench runs under (same format as policies/drill.toml).

    Everything is long (days) so nothing fires during a run except what is measured:
    ``bench_probe`` issues escalate ``probe_deadline_s`` seconds after registration (with the
    default policy's warnings at 50% and 75%); ``bench_burst`` issues carry the marker term that
    ``bench.worker`` pins to one shared instant.
    """
    urgency = """
accept = "P1D"
report = "PT30M"
warnings = [0.5, 0.75]
extension_allowed = true
feedback_window = "P5D"
transfer_window = "P2D"
overdue_reminder = "P1D"

[defaults.{u}.resolve]
village = "P3D"
township = "P5D"
county = "P7D"
"""
    return (
        'description = "Bench: long terms, except the village deadlines being measured"\n'
        + "".join(f"\n[defaults.{u}]{urgency.format(u=u)}" for u in ("normal", "urgent"))
        + f"""
[categories.{PROBE_CATEGORY}.resolve]
village = "PT{probe_deadline_s}S"

[categories.{BURST_CATEGORY}]
warnings = []

[categories.{BURST_CATEGORY}.resolve]
village = "{PIN_MARK}"
"""
    )


def _polling(child: Child) -> Callable[[], bool]:
    return lambda: "worker polling" in child.output()


@dataclass
class Stack:
    """Processes and addresses of one bench run; ``close`` leaves nothing running."""

    root: Path
    workers: int = 1
    probe_deadline_s: int = 10
    # Tuning experiments: Worker arguments for bench.worker, extra dev server dynamic config.
    worker_options: dict[str, Any] = field(default_factory=dict)
    dynamic_config: list[str] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    worker_children: list[Child] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.policy_path = self.root / "bench-policy.toml"
        self.policy_path.write_text(bench_policy(self.probe_deadline_s), encoding="utf-8")
        self.pin_file = self.root / "pin.txt"
        self.settings = Settings(
            _env_file=None,  # only what the bench sets, not a developer's .env
            environment=Environment.DEVELOPMENT,
            data_dir=self.root,
            policy=str(self.policy_path),
            temporal_port=free_port(),
            temporal_ui_port=free_port(),
            api_port=free_port(),
        )
        extra = [arg for value in self.dynamic_config for arg in ("--dynamic-config-value", value)]
        self.temporal = DevServer(self.settings, self.root, headless=True, extra_args=tuple(extra))

    @property
    def address(self) -> str:
        return self.settings.resolved_temporal_address

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url

    @property
    def temporal_db_files(self) -> list[Path]:
        return self.temporal.store_files

    # ---- processes ----------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        # Started from the event loop's thread, which lives as long as the bench: the kernel ties
        # die-with-parent to the starting thread.
        child = Child(name, argv, env=env, log_path=self.root / f"{name}.log", cwd=REPO)
        child.start()
        self.children.append(child)
        return child

    def stop(self, child: Child) -> None:
        """SIGTERM the child's group, then SIGKILL after the launcher's grace; reap it."""
        child.stop()
        if child in self.children:
            self.children.remove(child)
        if child in self.worker_children:
            self.worker_children.remove(child)

    def close(self) -> None:
        """Stop every child: APIs, then workers, then Temporal."""
        order = {"api": 0, "worker": 1, "temporal": 2}
        for child in sorted(list(self.children), key=lambda c: order.get(c.name.split("-")[0], 1)):
            self.stop(child)

    def _env(self, settings: Settings | None = None) -> dict[str, str]:
        env = child_environment(settings or self.settings, self.address)
        env[PIN_FILE_ENV] = str(self.pin_file)
        env[OPTIONS_ENV] = json.dumps(self.worker_options)
        return env

    # ---- start-up -----------------------------------------------------------------------------

    async def start_temporal(self) -> None:
        self.temporal.start()
        self.children.append(self.temporal)
        await asyncio.to_thread(self.temporal.wait_ready, say=say)
        # The CLI answering proves the frontend serves; the SDK's client is what the bench uses.
        for _ in range(60):
            try:
                await Client.connect(self.address)
                break
            except Exception:
                await asyncio.sleep(0.5)
        else:
            raise RuntimeError("Temporal dev server does not answer:\n" + self.temporal.tail())
        say(f"Temporal ready (pid {self.temporal.pid})")

    def prepare_read_model(self, url: str | None = None) -> None:
        """Migrate and seed (county 611025 with its demo accounts) the database at ``url``."""
        from store.db import make_engine, migrate
        from store.seed import seed

        url = url or self.database_url
        migrate(url)
        engine = make_engine(url)
        try:
            seed(engine, self.settings.model_copy(update={"database_url": url}))
        finally:
            engine.dispose()

    async def start_workers(self) -> None:
        for index in range(self.workers):
            child = self._spawn(
                f"worker-{index}", [sys.executable, "-m", "bench.worker"], self._env()
            )
            self.worker_children.append(child)
        for child in self.worker_children:
            await self._wait(child.name, _polling(child), child)

    async def restart_workers(self) -> None:
        """Fresh worker processes: an empty workflow cache and a clean memory baseline."""
        for child in list(self.worker_children):
            self.stop(child)
        await self.start_workers()

    def worker_rss(self) -> int:
        return sum(child.rss() for child in self.worker_children)

    def temporal_rss(self) -> int:
        return self.temporal.rss()

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each role (workers and APIs summed) and by the bench."""
        used: dict[str, float] = {"bench": cpu_seconds(os.getpid())}
        for child in self.children:
            role = child.name.split("-")[0]
            used[role] = used.get(role, 0.0) + child.cpu()
        return used

    async def start_api(self, database_url: str | None = None) -> tuple[Child, str]:
        """A ``linkage api`` process on a free port over ``database_url``; returns its base URL."""
        port = free_port()
        settings = self.settings.model_copy(
            update={"api_port": port, "database_url": database_url or self.database_url}
        )
        child = self._spawn(f"api-{port}", linkage_command("api"), self._env(settings))
        base = f"http://127.0.0.1:{port}"
        await self._wait("API", lambda: http_status(f"{base}/api/v1/healthz") == 200, child)
        return child, base

    async def _wait(self, what: str, ready: Callable[[], bool], child: Child) -> None:
        await asyncio.to_thread(
            wait_until, ready, what=what, within=READY_TIMEOUT, watch=(child,), every=0.2
        )
        say(f"{what} ready (pid {child.pid})")

    def engine(self, url: str | None = None) -> Engine:
        from store.db import make_engine

        return make_engine(url or self.database_url)
