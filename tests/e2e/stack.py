"""``linkage up`` as a subprocess, for the end-to-end tests: free ports, the banner, Ctrl-C, and
the proof that nothing was left running."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from settings import ROOT

BANNER_END = "Press Ctrl-C to stop."
START_TIMEOUT = 180.0  # two cores shared with other tests: generous, the banner usually takes ~15 s
STOP_TIMEOUT = 20.0
DEMO_PASSWORD = "demo"


def free_ports(count: int) -> list[int]:
    """Distinct free ports: all sockets stay open until every port is picked."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0): only a process that can run counts as left running.
    with suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        return state != "Z"
    return True


def group_members(pgids: set[int]) -> list[int]:
    """Live pids (from /proc) whose process group is one of ``pgids``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp.
        if fields and fields[0] != "Z" and int(fields[2]) in pgids:
            members.append(int(entry.name))
    return members


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
    ) -> None:
        self.api_port = api_port
        self.temporal_port = temporal_port
        self.ui_port = ui_port
        self.base = f"http://127.0.0.1:{api_port}"
        self.pids: dict[str, int] = {}
        env = {
            k: v
            for k, v in os.environ.items()
            # The embedded stack, whatever the caller's environment points at.
            if k not in ("LINKAGE_TEMPORAL_ADDRESS", "LINKAGE_DATABASE_URL", "LINKAGE_API_HOST")
        }
        env.update(
            LINKAGE_TEMPORAL_PORT=str(temporal_port),
            LINKAGE_TEMPORAL_UI_PORT=str(ui_port),
            LINKAGE_ENVIRONMENT="development",
            LINKAGE_DEMO_ACCOUNTS="true",
            LINKAGE_PUBLIC_URL=self.base,
            PYTHONUNBUFFERED="1",
        )
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
            env=env,
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
            if BANNER_END in line:
                self.banner.set()

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
        self.pids = {name: int(pid) for name, pid in re.findall(r"(\w+)=(\d+)", line)}
        return self.pids

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
        for pgid in (self.proc.pid, *self.pids.values()):
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def stop_and_assert_stopped(self) -> None:
        """Ctrl-C, a clean exit, and nothing of the stack left: no process, no listening port."""
        assert self.interrupt() == 0, self.output
        assert set(self.pids) >= {"temporal", "worker", "api"}, self.pids
        left = [f"{name}={pid}" for name, pid in self.pids.items() if alive(pid)]
        assert not left, f"still running after linkage up exited: {left}\n{self.output}"
        stragglers = group_members({self.proc.pid, *self.pids.values()})
        assert not stragglers, f"processes left in the stack's groups: {stragglers}"
        deadline = time.monotonic() + 5  # a closed listener may take a moment to release its port
        for port in (self.api_port, self.temporal_port, self.ui_port):
            while not port_free(port) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert port_free(port), f"port {port} still in use"


@contextmanager
def running_stack(
    data_dir: Path, ports: list[int] | None = None, *, policy: str = "drill"
) -> Iterator[Stack]:
    """A started stack (banner seen), killed on the way out if the test did not stop it."""
    api_port, temporal_port, ui_port = ports or free_ports(3)
    stack = Stack(data_dir, api_port, temporal_port, ui_port, policy=policy)
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
