"""The launcher's readiness probe: ``linkage up`` says the stack is up only when every part is."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workers.launcher import free_port, reports_ok


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.answer = (200, b"{}")  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/api/v1/healthz"


def _answer(server: ThreadingHTTPServer, status: int, body: object) -> None:
    server.answer = (status, json.dumps(body).encode())  # type: ignore[attr-defined]


def test_ok_only_when_every_part_is(health: ThreadingHTTPServer) -> None:
    every = {"status": "ok", "database": "ok", "temporal": "ok", "worker": "ok"}
    _answer(health, 200, every)
    assert reports_ok(_url(health))

    # The API works but no worker has polled yet: 200, and still not up (CI met this race).
    _answer(health, 200, every | {"status": "degraded", "worker": "absent"})
    assert not reports_ok(_url(health))

    _answer(health, 503, {"status": 503, "database": "ok", "temporal": "unavailable"})
    assert not reports_ok(_url(health))

    _answer(health, 200, ["not", "an", "object"])
    assert not reports_ok(_url(health))

    health.answer = (200, b"<html>not json</html>")  # type: ignore[attr-defined]
    assert not reports_ok(_url(health))


def test_nothing_listening_is_not_ok() -> None:
    assert not reports_ok(f"http://127.0.0.1:{free_port()}/api/v1/healthz", timeout=0.5)
