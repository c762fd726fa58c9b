"""Bodies over ``max_body_bytes`` are refused with a 413 problem detail before anything parses
them: in process, and over real HTTP (uvicorn) with a 10 MB body, declared or chunked.

Before, a 10 MB body was read and parsed whole, then refused with a 422.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from settings import Settings
from tests.api.conftest import VILLAGE, Api, problem

TEN_MB = 10 * 1024 * 1024
CHUNK = 64 * 1024


def _oversized_json() -> bytes:
    """Valid JSON of 10 MB: parsed, it would be a 422 (unknown field), not a 413."""
    return b'{"padding": "' + b"x" * TEN_MB + b'"}'


class Chunks:
    """A request body streamed chunk by chunk (no Content-Length), counting what was taken."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"padding": "'
        while self.sent < self.total:
            self.sent += CHUNK
            yield b"x" * CHUNK
        yield b'"}'


async def _register(
    http: httpx.AsyncClient, headers: dict[str, str], body: object
) -> httpx.Response:
    return await http.post(
        "/issues", content=body, headers={**headers, "Content-Type": "application/json"}
    )  # type: ignore[arg-type]


async def test_a_declared_body_over_the_limit_is_a_413_problem(
    api: Api, settings: Settings
) -> None:
    headers = await api.headers(f"village-{VILLAGE}")
    r = await _register(api.http, headers, _oversized_json())
    details = problem(r, 413)
    assert details["type"] == "urn:linkage:problem:content-too-large"
    assert str(settings.max_body_bytes) in details["detail"]


async def test_a_chunked_body_is_refused_once_it_passes_the_limit_not_read_to_its_end(
    api: Api, settings: Settings
) -> None:
    headers = await api.headers(f"village-{VILLAGE}")
    body = Chunks(TEN_MB)
    r = await _register(api.http, headers, body)
    problem(r, 413)
    # Counted as it came: the rest of the 10 MB was never asked for.
    assert body.sent <= settings.max_body_bytes + CHUNK < TEN_MB


async def test_a_body_within_the_limit_is_parsed_as_before(api: Api) -> None:
    headers = await api.headers(f"village-{VILLAGE}")
    body = b'{"padding": "' + b"x" * (100 * 1024) + b'"}'
    declared = await _register(api.http, headers, body)
    chunked = await _register(api.http, headers, Chunks(100 * 1024))
    for r in (declared, chunked):
        assert problem(r, 422)["field"] in ("village_code", "padding")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def served(
    settings: Settings, engine: Engine, env: WorkflowEnvironment
) -> AsyncIterator[str]:
    """The app behind a real uvicorn on a free port, on this event loop; its base URL."""
    app = create_app(settings, temporal=env.client, engine=engine)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        server.should_exit = True
        await task


@pytest.mark.timeout(120)
async def test_ten_megabytes_over_real_http_are_refused_and_the_server_keeps_serving(
    api: Api, settings: Settings, engine: Engine, temporal_env: WorkflowEnvironment
) -> None:
    headers = await api.headers(f"village-{VILLAGE}")
    async with (
        served(settings, engine, temporal_env) as base,
        httpx.AsyncClient(base_url=base, timeout=60, trust_env=False) as http,
    ):
        declared = await _register(http, headers, _oversized_json())
        assert problem(declared, 413)["type"].endswith("content-too-large")
        streamed = Chunks(TEN_MB)
        chunked = await _register(http, headers, streamed)
        assert problem(chunked, 413)["type"].endswith("content-too-large")
        # The same client goes on: the server answered and still serves.
        health = await http.get("/healthz")
        assert health.status_code == 200, health.text
        # A cursor that decodes to a lone surrogate is a 422 on a connection that stays usable.
        bad = await http.get(
            "/issues", params={"cursor": "WyJcdWQ4MDAiLCAiXHVkODAwIl0"}, headers=headers
        )
        assert problem(bad, 422)["field"] == "cursor"
        assert (await http.get("/issues", headers=headers)).status_code == 200
