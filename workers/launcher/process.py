"""One child process: leader of its own process group, dying with its parent, logging to a file.

Every process Linkage starts for itself (the Temporal dev server, ``linkage worker``, ``linkage
api``, the benchmarks' workers) is started, watched and stopped through ``Child``, so the rules
below hold everywhere:

- its own session and process group: Ctrl-C at a terminal reaches only the parent, which stops
  its children in order, and a stop reaches anything a child spawned into its group;
- PR_SET_PDEATHSIG: the kernel signals it when its parent dies, so even a ``kill -9``'d parent
  leaves no orphan holding ports and SQLite files;
- a stop is SIGTERM to the group, a grace period, then SIGKILL to the group.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from workers.launcher.probes import cpu_seconds, rss_bytes

STOP_GRACE = 10.0
"""Seconds a process group gets between SIGTERM and SIGKILL."""

READY_TIMEOUT = 60.0
"""Seconds a server or worker may take to come up on two busy cores."""

_PR_SET_PDEATHSIG = 1  # prctl(2)

# Looked up here, in the parent: the child, between fork and exec, must not load libraries (a
# lock another thread of the parent held at fork would never be released there).
_prctl: Any = None
if sys.platform.startswith("linux"):
    with suppress(OSError, AttributeError):
        _prctl = ctypes.CDLL(None).prctl


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the thread that started it ends.

    (The kernel watches the parent *thread*: start children from a thread that lives as long as
    they should, never from a short-lived executor thread.)
    """
    if _prctl is None:
        return None
    parent = os.getpid()
    prctl = _prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        # The parent may have died between fork and prctl: then nobody would signal us.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def signal_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to a process group that may already be gone."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def describe_exit(returncode: int) -> str:
    """``exited with status 1`` or ``was killed by SIGKILL``, as a log line should say it."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"was killed by {name}"


class LaunchError(RuntimeError):
    """A process did not come up; the message says which one and why."""


class Child:
    """A process started (and restarted) by the launcher with the same argv and environment.

    ``log_path`` None: the child writes to our own stdout and stderr (``linkage up`` shows the
    worker's and the API's lines on its console); otherwise both go to that file, appended to, so
    a restarted child's earlier runs stay readable above its current one.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.started_at = 0.0  # time.monotonic() of the latest start
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    def start(self) -> None:
        """Start the process (again): a fresh process group, the same command."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self._close_log()
        if self.log_path is not None:
            self._log = self.log_path.open("ab")
            self._log.write(
                f"\n==== {self.name} started by pid {os.getpid()} at {time.ctime()} ====\n".encode()
            )
            self._log.flush()
            self._log_offset = self._log.tell()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
        self.starts += 1
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int:
        """The pid of the latest start; it is also the process group's id."""
        if self.proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def exit_description(self) -> str:
        code = self.returncode
        return "is running" if code is None else describe_exit(code)

    def stop(self, grace: float = STOP_GRACE, hurry: Callable[[], bool] | None = None) -> bool:
        """SIGTERM the group, wait up to ``grace`` seconds (less once ``hurry()`` holds), then
        SIGKILL it. Returns whether the process ended on its own (no SIGKILL was needed)."""
        graceful = True
        if self.running:
            signal_group(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while self.running and time.monotonic() < deadline and not (hurry and hurry()):
                time.sleep(0.05)
            graceful = not self.running
        self.kill()
        return graceful

    def kill(self) -> None:
        """``kill -9`` the whole group: no handler runs, nothing is flushed or finished."""
        if self.proc is not None:
            # The leader, and anything it left behind in its group (after a SIGTERM they are gone
            # or not listening any more).
            signal_group(self.proc.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        """What the latest start wrote to the log so far (not its earlier runs)."""
        if self.log_path is None:
            return ""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        """The end of the log, under a line naming it: what explains a failed start or test."""
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        body = "\n".join(text.splitlines()[-lines:])
        return f"---- {self.name} log ({self.log_path}) ----\n{body}"

    def rss(self) -> int:
        """Resident memory of the leader in bytes (0 when it is not running)."""
        return rss_bytes(self.pid) if self.running else 0

    def cpu(self) -> float:
        """CPU seconds the leader has used so far (0 when it is gone)."""
        return cpu_seconds(self.pid) if self.proc is not None else 0.0


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    within: float,
    watch: Sequence[Child] = (),
    pause: Callable[[float], object] = time.sleep,
    every: float = 0.25,
    explain: Callable[[], str] | None = None,
) -> None:
    """Poll ``ready`` until it holds; fail naming ``what`` after ``within`` seconds, or at once
    when one of the ``watch``ed children exits (its log's end in the message).

    ``pause`` sleeps between two looks: ``linkage up`` passes one that wakes on Ctrl-C. Async
    callers run this in a thread (``asyncio.to_thread``): it only looks, it starts nothing.
    ``explain`` says what the last look saw, for the message of a timeout.
    """
    deadline = time.monotonic() + within
    while not ready():
        for child in watch:
            if not child.running:
                raise LaunchError(
                    f"{what}: {child.name} {child.exit_description()} before it was ready\n"
                    + child.tail()
                )
        if time.monotonic() > deadline:
            seen = f": {explain()}" if explain is not None else ""
            tails = "\n".join(child.tail() for child in watch)
            raise LaunchError(f"{what}: not ready within {within:.0f} s{seen}\n{tails}".rstrip())
        pause(every)
