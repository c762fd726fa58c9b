"""Real local servers for the channel tests: a tiny HTTP/1.1 server and an aiosmtpd SMTP server.

Both listen on 127.0.0.1 only and record exactly what arrived on the wire, so the tests check the
bytes a real receiver would see rather than what the code under test meant to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    method: str
    target: str  # raw request target: path and query exactly as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer: exercises the client's timeout


class TinyHTTPServer:
    """One request per connection; answers from a queue of replies, then with ``default``."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.default = Reply(
            200, b'{"errcode":0,"errmsg":"ok"}', {"Content-Type": "application/json"}
        )
        self._server: asyncio.Server | None = None
        self._release = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def reply(self, status: int, body: bytes | str = b"", **headers: str) -> None:
        raw = body.encode("utf-8") if isinstance(body, str) else body
        self.replies.append(
            Reply(status, raw, {k.replace("_", "-"): v for k, v in headers.items()})
        )

    def reply_json(self, status: int, payload: str) -> None:
        self.reply(status, payload, Content_Type="application/json")

    def hang(self) -> None:
        self.replies.append(Reply(0, hang=True))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        self._release.set()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(method, target, headers, body))
            reply = self.replies.popleft() if self.replies else self.default
            if reply.hang:
                await self._release.wait()
                return
            out = [f"HTTP/1.1 {reply.status} X", f"Content-Length: {len(reply.body)}"]
            out += [f"{k}: {v}" for k, v in reply.headers.items()]
            out.append("Connection: close")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def http_server() -> AsyncIterator[TinyHTTPServer]:
    server = TinyHTTPServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy variable in the environment must not divert 127.0.0.1 traffic.
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 1, 2, 3, 456000, tzinfo=UTC))


def free_port() -> int:
    """A port free right now: aiosmtpd's Controller refuses port 0 (its start-up self-check
    connects to the configured port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SMTPHandler:
    """Accepts mail unless told to refuse a recipient or the data; records every envelope."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.refuse_rcpt: dict[str, str] = {}
        self.data_reply: str | None = None
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login, auth_data.password))
            if auth_data.password == b"right-password":
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@dataclass
class SMTPServer:
    handler: SMTPHandler
    host: str
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    handler = SMTPHandler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticate,
        auth_require_tls=False,  # test-only: AUTH over a loopback connection without TLS
    )
    controller.start()
    try:
        yield SMTPServer(handler, "127.0.0.1", port)
    finally:
        with contextlib.suppress(Exception):
            controller.stop()
