"""The README's first command on a county's fresh server: a clone, the system's Python, no uv.

Debian 12 and Ubuntu 24.04 mark their Python externally managed (PEP 668): ``pip install``, even
``--user``, is refused. ``make sync`` must still work there from a fresh clone, with an empty HOME
and ``PATH=/usr/bin:/bin``, installing nothing into the system; and where a piece is missing it
must print the one line that says what to install, never a traceback.

The clone holds the committed tree; the working tree's copies of the set-up files go over it, so
that a change to them is tried before it is committed (on a clean checkout they are the same).
The uv cache is the empty HOME's, as on the server: the locked dependencies come from the index.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
SYSTEM_PATH = "/usr/bin:/bin"
SETUP_FILES = ("Makefile", "tools/fetch_uv.py", "pyproject.toml", "uv.lock")
# A server behind a proxy keeps it: it is how the machine reaches the index, not a tool of ours.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


@dataclass
class Server:
    """A fresh clone and the environment a county's officer has on a fresh server."""

    checkout: Path
    home: Path
    path: str = SYSTEM_PATH

    def env(self) -> dict[str, str]:
        env = {"HOME": str(self.home), "PATH": self.path}
        env.update({name: os.environ[name] for name in PROXY_VARIABLES if name in os.environ})
        return env

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """The command to its end, its output and errors together, as the officer reads them."""
        return subprocess.run(
            command,
            cwd=self.checkout,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=800,
            check=False,
        )

    def checkout_uv(self) -> list[Path]:
        return sorted(self.checkout.glob(".linkage/tools/uv-*/uv"))


def fresh_server(root: Path, name: str) -> Server:
    """A clone of the repository with the working tree's set-up files, and an empty HOME."""
    assert SYSTEM_PYTHON.exists(), f"the scenario runs on the system's Python, {SYSTEM_PYTHON}"
    checkout, home = root / f"{name}-clone", root / f"{name}-home"
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(checkout)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for relative in SETUP_FILES:
        if (ROOT / relative).exists():
            (checkout / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, checkout / relative)
    home.mkdir()
    return Server(checkout, home)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("fresh-server")
    yield root
    # A synced checkout and its cache weigh about a gigabyte: not worth keeping for a rerun.
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def synced(scratch: Path) -> tuple[Server, subprocess.CompletedProcess[str]]:
    """``make sync`` run once, as the officer runs it, on a fresh clone."""
    server = fresh_server(scratch, "synced")
    return server, server.run("make", "sync")


def test_make_sync_works_on_the_system_python_from_a_fresh_clone(
    synced: tuple[Server, subprocess.CompletedProcess[str]],
) -> None:
    server, done = synced
    assert done.returncode == 0, done.stdout
    assert "Traceback" not in done.stdout, done.stdout
    # No uv on PATH: the checkout's own, unpacked from the wheel pip downloaded.
    assert "linkage: fetching uv" in done.stdout, done.stdout
    assert len(server.checkout_uv()) == 1, done.stdout
    venv = (server.checkout / ".venv" / "pyvenv.cfg").read_text()
    assert re.search(r"^home = /usr/bin$", venv, re.MULTILINE), venv

    help_ = server.run(".venv/bin/linkage", "--help")
    assert help_.returncode == 0, help_.stdout
    assert "Usage: linkage" in help_.stdout, help_.stdout


def test_nothing_is_installed_outside_the_checkout(
    synced: tuple[Server, subprocess.CompletedProcess[str]],
) -> None:
    server, done = synced
    assert done.returncode == 0, done.stdout
    # pip install --user would have written under HOME/.local; the system's Python has no uv.
    assert not (server.home / ".local").exists(), sorted(server.home.rglob("*"))[:20]
    system = server.run(str(SYSTEM_PYTHON), "-c", "import uv")
    assert system.returncode != 0, "uv was installed into the system's Python"


def test_a_second_make_sync_reuses_the_checkout_uv(
    synced: tuple[Server, subprocess.CompletedProcess[str]],
) -> None:
    server, first = synced
    assert first.returncode == 0, first.stdout
    again = server.run("make", "sync")
    assert again.returncode == 0, again.stdout
    assert "fetching uv" not in again.stdout, again.stdout


def test_without_pip_make_names_the_package_to_install_and_stops(scratch: Path) -> None:
    server = fresh_server(scratch, "no-pip")
    # Debian without python3-pip: its pip lives in dist-packages, which -S leaves off sys.path.
    wrappers = scratch / "no-pip-bin"
    wrappers.mkdir()
    python3 = wrappers / "python3"
    python3.write_text(f'#!/bin/sh\nexec {SYSTEM_PYTHON} -S "$@"\n')
    python3.chmod(0o755)
    server.path = f"{wrappers}:{SYSTEM_PATH}"

    done = server.run("make", "sync")

    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stdout, done.stdout
    said = [line for line in done.stdout.splitlines() if line.startswith("linkage: ")]
    if shutil.which("apt-get", path=SYSTEM_PATH):
        expected = r"linkage: \S+ has no pip; install it with: (sudo )?apt-get install python3-pip"
    else:
        expected = r"linkage: \S+ has no pip; install pip for it, then run make again"
    assert len(said) == 1 and re.fullmatch(expected, said[0]), done.stdout
    assert not (server.checkout / ".venv").exists()


def test_uv_on_path_is_used_and_a_missing_python_is_named(
    scratch: Path, synced: tuple[Server, subprocess.CompletedProcess[str]]
) -> None:
    first, _ = synced
    assert first.checkout_uv(), "the synced checkout holds a uv to put on PATH"
    server = fresh_server(scratch, "old-python")
    tools = scratch / "uv-on-path"
    tools.mkdir()
    shutil.copy2(first.checkout_uv()[0], tools / "uv")
    server.path = f"{tools}:{SYSTEM_PATH}"
    # A project no Python on this machine satisfies stands for a server whose Python is too old.
    pyproject = server.checkout / "pyproject.toml"
    text = pyproject.read_text()
    assert 'requires-python = ">=3.11"' in text
    pyproject.write_text(text.replace('requires-python = ">=3.11"', 'requires-python = ">=3.99"'))

    done = server.run("make", "sync")

    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stdout, done.stdout
    assert "fetching uv" not in done.stdout, done.stdout
    assert not server.checkout_uv(), "uv on PATH is used as it is"
    said = [line for line in done.stdout.splitlines() if line.startswith("linkage: ")]
    assert said == [
        "linkage: no Python >=3.99 found on this system; install one "
        "(e.g. apt-get install python3.11) and run make again"
    ], done.stdout
    assert not (server.checkout / ".venv").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _healthz(port: int) -> dict[str, str] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/healthz", timeout=2) as got:
            return dict(json.load(got))
    except OSError:
        return None


def test_make_up_serves_healthz_and_one_ctrl_c_stops_everything(
    synced: tuple[Server, subprocess.CompletedProcess[str]],
) -> None:
    server, first = synced
    assert first.returncode == 0, first.stdout
    api, temporal, ui = _free_port(), _free_port(), _free_port()
    env = server.env() | {
        "LINKAGE_TEMPORAL_PORT": str(temporal),
        "LINKAGE_TEMPORAL_UI_PORT": str(ui),
    }
    log_path = server.checkout / "make-up.log"
    with log_path.open("w") as log:
        # Its own session: the SIGINT below reaches make and everything in its group, as the
        # terminal's Ctrl-C reaches the foreground group.
        make = subprocess.Popen(
            ["make", "up", f"ARGS=--port {api}"],
            cwd=server.checkout,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 180
            health = None
            while time.monotonic() < deadline and make.poll() is None:
                health = _healthz(api)
                if health and "Press Ctrl-C to stop." in log_path.read_text():
                    break
                time.sleep(0.2)
            output = log_path.read_text()
            assert health == {"status": "ok", "database": "ok", "temporal": "ok", "worker": "ok"}, (
                output
            )
            named = re.search(r"Processes +(.+)", output)
            assert named, output
            pids = [int(pid) for pid in re.findall(r"=(\d+)", named.group(1))]
            assert len(pids) == 3, output

            os.killpg(make.pid, signal.SIGINT)
            make.wait(timeout=60)
        finally:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait()
    output = log_path.read_text()
    assert "linkage up: everything stopped" in output, output
    # One Ctrl-C is one interrupt: every process stopped in its own time, none killed.
    assert "killed it" not in output, output
    assert not [pid for pid in pids if _alive(pid)], output
    assert not [port for port in (api, temporal, ui) if _listening(port)], output
