"""Request bodies over ``max_body_bytes`` are refused with a 413 problem detail before parsing.

A plain ASGI middleware, outside everything else: a declared ``Content-Length`` over the limit is
answered at once, without reading a byte of the body; a body of unknown length (chunked) is read
here, counted chunk by chunk, and refused as soon as it passes the limit, or handed on whole to
the app, which then reads it as if from the client. Nothing the app does ever sees more than the
limit, so no JSON parser or form parser holds a 10 MB body in memory.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if declared > self.limit:
                await self._refuse(scope, receive, send)
            else:
                # The server delivers exactly the declared length: nothing to count.
                await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app hear it
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            Request(scope),
            413,
            f"请求体超过 {self.limit} 字节的上限",
            slug="content-too-large",
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length; a malformed one counts as none (the body is then counted)."""
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _replay(chunks: list[bytes], last: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that hands out the body read here (or the message that ended it), then
    passes through to the server's (which reports the client's disconnect)."""
    first: Message | None = last or {
        "type": "http.request",
        "body": b"".join(chunks),
        "more_body": False,
    }

    async def replay() -> Message:
        nonlocal first
        if first is not None:
            message, first = first, None
            return message
        return await receive()

    return replay
