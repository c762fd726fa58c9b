"""Real processes and servers that fault tests start, break and bring back.

A Temporal dev server on a SQLite file (the embedded stack's command line, headless), ``linkage
worker`` processes that can be ``kill -9``'d, a TCP proxy in front of PostgreSQL that the test
takes down and brings back, and a webhook receiver whose availability the test switches. The
processes are ``workers.launcher`` children: each leads its own process group, dies with the test
and logs to a file, whose tail failures print.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities.channels.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_webhook,
)
from domain.payloads import DATA_CONVERTER
from settings import ROOT, Settings
from workers import launcher
from workers.launcher import READY_TIMEOUT, Child, child_environment, linkage_command, wait_until

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


class DevServer(launcher.DevServer):
    """``temporal server start-dev`` on ``data_dir/temporal.db`` as ``linkage up`` runs it,
    headless."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        super().__init__(settings, data_dir, headless=True)

    async def connect(self) -> Client:
        """Wait until the frontend answers and knows Linkage's search attributes; a client."""
        await asyncio.to_thread(self.wait_ready, say=lambda _: None)
        return await Client.connect(self.address, data_converter=DATA_CONVERTER)


class WorkerProcess(Child):
    """``linkage worker`` with the test's settings as ``LINKAGE_*`` variables, as ``up`` runs it."""

    READY_LINE = "worker polling"

    def __init__(self, settings: Settings, log_path: Path) -> None:
        env = child_environment(settings, settings.resolved_temporal_address)
        for name in _PROXY_VARIABLES:  # deliveries go to 127.0.0.1, never through a proxy
            env.pop(name, None)
        super().__init__("worker", linkage_command("worker"), env=env, log_path=log_path, cwd=ROOT)
        self.log_path: Path = log_path

    async def ready(self) -> None:
        """Wait until this start of the worker logs that it polls its task queue."""
        await asyncio.to_thread(
            wait_until,
            lambda: self.READY_LINE in self.output(),
            what="the worker polling its task queue",
            within=READY_TIMEOUT,
            watch=(self,),
            every=0.2,
        )

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
