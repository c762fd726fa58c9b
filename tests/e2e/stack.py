"""``linkage up`` as a subprocess, for the end-to-end tests: the banner, the supervisor's restarts,
Ctrl-C, and the proof that nothing was left running (with the launcher's probes of ports and
process groups)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from settings import ROOT
from workers.launcher import free_ports, group_members, pid_alive, port_free

__all__ = ["Stack", "free_ports", "login", "running_stack"]

BANNER_END = "Press Ctrl-C to stop."
START_TIMEOUT = 180.0  # two cores shared with other tests: generous, the banner usually takes ~15 s
STOP_TIMEOUT = 20.0
DEMO_PASSWORD = "demo"
# The supervisor's lines naming a child's new pid: at start-up and after a restart.
STARTED = re.compile(r"linkage up: (?:re)?started (\w+) \(pid (\d+)\)")


class Stack:
    """One ``linkage up`` process, its output collected by a thread so its pipe never fills."""

    def __init__(
        self,
        data_dir: Path,
        api_port: int,
        temporal_port: int,
        ui_port: int,
        *,
        policy: str = "drill",
        env: dict[str, str] | None = None,
    ) -> None:
        self.api_port = api_port
        self.temporal_port = temporal_port
        self.ui_port = ui_port
        self.base = f"http://127.0.0.1:{api_port}"
        # The current pid of each child, and every pid the stack's children ever had (restarts).
        self.pids: dict[str, int] = {}
        self.every_pid: set[int] = set()
        environment = {
            k: v
            for k, v in os.environ.items()
            # The embedded stack, whatever the caller's environment points at.
            if k not in ("LINKAGE_TEMPORAL_ADDRESS", "LINKAGE_DATABASE_URL", "LINKAGE_API_HOST")
        }
        environment.update(
            LINKAGE_TEMPORAL_PORT=str(temporal_port),
            LINKAGE_TEMPORAL_UI_PORT=str(ui_port),
            LINKAGE_ENVIRONMENT="development",
            LINKAGE_DEMO_ACCOUNTS="true",
            LINKAGE_PUBLIC_URL=self.base,
            PYTHONUNBUFFERED="1",
        )
        # The caller's settings win over the defaults above (production mode, say).
        environment.update(env or {})
        self.lines: list[str] = []
        self.banner = threading.Event()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "linkage_cli",
                "up",
                "--policy",
                policy,
                "--data-dir",
                str(data_dir),
                "--port",
                str(api_port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            cwd=ROOT,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.lines.append(line)
            if started := STARTED.search(line):
                self._saw(started[1], int(started[2]))
            if BANNER_END in line:
                self.banner.set()

    def _saw(self, name: str, pid: int) -> None:
        self.pids[name] = pid
        self.every_pid.add(pid)

    @property
    def output(self) -> str:
        return "\n".join(self.lines[-200:])

    def wait_for_banner(self) -> dict[str, int]:
        """Wait for the banner; return (and keep) the pids it names (temporal, worker, api)."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self.banner.wait(0.5):
            if self.proc.poll() is not None:
                pytest.fail(f"linkage up exited with {self.proc.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"no banner within {START_TIMEOUT:.0f} s:\n{self.output}")
        line = next(line for line in self.lines if line.strip().startswith("Processes"))
        for name, pid in re.findall(r"(\w+)=(\d+)", line):
            self._saw(name, int(pid))
        return dict(self.pids)

    def wait_for_line(self, pattern: str, *, after: int = 0, within: float = 60) -> re.Match[str]:
        """The first output line from index ``after`` on that matches ``pattern``, waited for."""
        wanted = re.compile(pattern)
        deadline = time.monotonic() + within
        seen = after
        while True:
            while seen < len(self.lines):
                if found := wanted.search(self.lines[seen]):
                    return found
                seen += 1
            if (
                self.proc.poll() is not None
                and not self.reader.is_alive()
                and seen >= len(self.lines)
            ):
                pytest.fail(f"linkage up exited without a line like {pattern!r}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"no line like {pattern!r} within {within:.0f} s:\n{self.output}")
            time.sleep(0.1)

    def wait_for_exit(self, within: float) -> int:
        """The supervisor's exit status, once it has stopped by itself within ``within`` s."""
        try:
            code = self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            pytest.fail(f"linkage up still running after {within:.0f} s:\n{self.output}")
        self.reader.join(timeout=5)
        return code

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the supervisor; its exit status, waited for at most STOP_TIMEOUT."""
        os.kill(self.proc.pid, signal.SIGINT)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"linkage up did not stop within {STOP_TIMEOUT:.0f} s:\n{self.output}")
        self.reader.join(timeout=5)
        return code

    def kill(self) -> None:
        """Last resort for a failed test: nothing may outlive it."""
        for pgid in (self.proc.pid, *self.every_pid):
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def stop_and_assert_stopped(self) -> None:
        """Ctrl-C, a clean exit, and nothing of the stack left: no process, no listening port."""
        assert self.interrupt() == 0, self.output
        self.assert_nothing_left()

    def assert_nothing_left(self) -> None:
        """No process any child of the stack ever was, nor any in their groups; ports free."""
        assert set(self.pids) >= {"temporal", "worker", "api"}, self.pids
        left = [pid for pid in self.every_pid if pid_alive(pid)]
        assert not left, f"still running after linkage up exited: {left}\n{self.output}"
        stragglers = group_members({self.proc.pid, *self.every_pid})
        assert not stragglers, f"processes left in the stack's groups: {stragglers}"
        deadline = time.monotonic() + 5  # a closed listener may take a moment to release its port
        for port in (self.api_port, self.temporal_port, self.ui_port):
            while not port_free(port) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert port_free(port), f"port {port} still in use"


@contextmanager
def running_stack(
    data_dir: Path,
    ports: list[int] | None = None,
    *,
    policy: str = "drill",
    env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """A started stack (banner seen), killed on the way out if the test did not stop it.

    ``env``: more environment for ``linkage up`` (``LINKAGE_*`` settings)."""
    api_port, temporal_port, ui_port = ports or free_ports(3)
    stack = Stack(data_dir, api_port, temporal_port, ui_port, policy=policy, env=env)
    try:
        stack.wait_for_banner()
        yield stack
    finally:
        if stack.proc.poll() is None:
            stack.kill()


def login(http: httpx.Client, base: str, username: str = "county-admin") -> dict[str, str]:
    """Bearer headers for a demo account."""
    response = http.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
