"""``linkage up`` end to end: real dev server, worker and API, started, used, stopped, restarted.

The contract says ``linkage up`` starts everything with one command and Ctrl-C stops everything
cleanly; this test holds it to both, and to the non-negotiable that a restart on the same data
directory loses no issue.
"""

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
from contextlib import ExitStack, suppress
from pathlib import Path

import httpx
import pytest

from domain.search_attributes import cli_flags
from settings import ROOT, Settings
from workers.devstack import child_environment, temporal_server_command

BANNER_END = "Press Ctrl-C to stop."
START_TIMEOUT = 180.0  # two cores shared with other tests: generous, the banner usually takes ~15 s
STOP_TIMEOUT = 20.0


def _free_ports(count: int) -> list[int]:
    """Distinct free ports: all sockets stay open until every port is picked."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
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


def _group_members(pgids: set[int]) -> list[int]:
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

    def __init__(self, data_dir: Path, api_port: int, temporal_port: int, ui_port: int) -> None:
        self.api_port = api_port
        self.temporal_port = temporal_port
        self.ui_port = ui_port
        self.base = f"http://127.0.0.1:{api_port}"
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
            LINKAGE_POLICY="drill",
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
        """Wait for the banner; return the pids it names (temporal, worker, api)."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self.banner.wait(0.5):
            if self.proc.poll() is not None:
                pytest.fail(f"linkage up exited with {self.proc.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"no banner within {START_TIMEOUT:.0f} s:\n{self.output}")
        line = next(line for line in self.lines if line.strip().startswith("Processes"))
        return {name: int(pid) for name, pid in re.findall(r"(\w+)=(\d+)", line)}

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the supervisor; its exit status, waited for at most STOP_TIMEOUT."""
        os.kill(self.proc.pid, signal.SIGINT)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"linkage up did not stop within {STOP_TIMEOUT:.0f} s:\n{self.output}")
        self.reader.join(timeout=5)
        return code

    def kill(self, pids: dict[str, int]) -> None:
        """Last resort for a failed test: nothing may outlive it."""
        for pgid in (self.proc.pid, *pids.values()):
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # trust_env=False: a proxy configured for the machine must not see requests to 127.0.0.1.
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


def _login(http: httpx.Client, base: str, username: str = "county-admin") -> dict[str, str]:
    response = http.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": "demo"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _assert_stopped(stack: Stack, pids: dict[str, int]) -> None:
    assert set(pids) >= {"temporal", "worker", "api"}, pids
    left = [f"{name}={pid}" for name, pid in pids.items() if _alive(pid)]
    assert not left, f"still running after linkage up exited: {left}\n{stack.output}"
    stragglers = _group_members({stack.proc.pid, *pids.values()})
    assert not stragglers, f"processes left in the stack's groups: {stragglers}"
    deadline = time.monotonic() + 5  # a closed listener may take a moment to release its port
    for port in (stack.api_port, stack.temporal_port, stack.ui_port):
        while not _port_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _port_free(port), f"port {port} still in use"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_up_serves_stops_cleanly_and_restarts_with_its_data(
    tmp_path: Path, http: httpx.Client
) -> None:
    data_dir = tmp_path / "linkage-data"
    api_port, temporal_port, ui_port = _free_ports(3)

    first = Stack(data_dir, api_port, temporal_port, ui_port)
    pids: dict[str, int] = {}
    try:
        pids = first.wait_for_banner()
        base = first.base
        assert f"{base}/docs" in first.output
        assert f"{base}/dashboard" in first.output
        assert f"http://127.0.0.1:{ui_port}" in first.output
        assert "county-admin" in first.output

        assert http.get(f"{base}/api/v1/healthz").status_code == 200
        assert http.get(f"{base}/docs").status_code == 200
        ui = http.get(f"http://127.0.0.1:{ui_port}/")
        assert ui.status_code < 500, ui.status_code

        headers = _login(http, base)
        units = http.get(f"{base}/api/v1/units", headers=headers)
        assert units.status_code == 200, units.text
        assert "镇安县" in units.text
        assert "永乐街道" in units.text  # a township: the tree, not just its root

        created = http.post(
            f"{base}/api/v1/issues",
            headers={**headers, "Idempotency-Key": "e2e-devstack-restart"},
            json={
                "village_code": "611025001001",
                "category": "other",
                "title": "重启后仍在",
                "description": "linkage up restarted on the same data directory keeps this issue",
            },
        )
        assert created.status_code == 201, created.text
        issue_id = created.json()["id"]

        assert first.interrupt() == 0, first.output
        _assert_stopped(first, pids)
    finally:
        if first.proc.poll() is None:
            first.kill(pids)

    assert (data_dir / "temporal.db").exists()
    assert (data_dir / "linkage.db").exists()

    second = Stack(data_dir, api_port, temporal_port, ui_port)
    pids = {}
    try:
        pids = second.wait_for_banner()
        assert http.get(f"{second.base}/api/v1/healthz").status_code == 200
        headers = _login(http, second.base)
        again = http.get(f"{second.base}/api/v1/issues/{issue_id}", headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == issue_id
        assert second.interrupt() == 0, second.output
        _assert_stopped(second, pids)
    finally:
        if second.proc.poll() is None:
            second.kill(pids)


# ---- the pieces, without servers ----------------------------------------------------------------


def test_dev_server_command_persists_and_registers_search_attributes(tmp_path: Path) -> None:
    settings = Settings(temporal_port=17233, temporal_ui_port=18233, temporal_namespace="linkage")
    argv = temporal_server_command(settings, "/bin/temporal", tmp_path)
    assert argv[:3] == ["/bin/temporal", "server", "start-dev"]
    assert argv[argv.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
    assert argv[argv.index("--port") + 1] == "17233"
    assert argv[argv.index("--ui-port") + 1] == "18233"
    assert argv[argv.index("--namespace") + 1] == "linkage"
    assert argv[argv.index("--ip") + 1] == "127.0.0.1"
    assert "journal_mode=wal" in argv and "synchronous=normal" in argv
    assert argv[-len(cli_flags()) :] == cli_flags()
    bare = temporal_server_command(settings, "t", tmp_path, with_search_attributes=False)
    assert "--search-attribute" not in bare


def test_children_get_every_setting_and_the_embedded_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "d", policy="drill", demo_accounts=True, api_port=18000)
    env = child_environment(settings, "127.0.0.1:17233")
    assert env["LINKAGE_TEMPORAL_ADDRESS"] == "127.0.0.1:17233"
    assert env["LINKAGE_POLICY"] == "drill"
    assert env["LINKAGE_API_PORT"] == "18000"
    assert env["LINKAGE_DEMO_ACCOUNTS"] == "true"
    assert env["LINKAGE_DATA_DIR"] == str((tmp_path / "d").resolve())
    assert env["LINKAGE_DATABASE_URL"] == settings.resolved_database_url

    # What a child reads back from that environment is what the supervisor resolved.
    for key in list(os.environ):
        if key.startswith("LINKAGE_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("LINKAGE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    child = Settings()
    expected = settings.model_copy(
        update={
            "temporal_address": "127.0.0.1:17233",
            "data_dir": (tmp_path / "d").resolve(),
            "database_url": settings.resolved_database_url,
        }
    )
    assert child.model_dump() == expected.model_dump()
