"""The check behind ``test_isolated_network.py``: open a page as its user would, in a Chromium
that reaches nothing but the app, and say what it did that a page on an isolated network
(政务外网, intranet) must not do.

The browser reaches the app by a name, ``HOST``, as a county's staff do (Swagger UI, for one,
treats localhost apart); it resolves no other name, and every request to an address other than
the app's is aborted as unreachable. A page fails if it attempted any such request, links an
outside address to load from or connect to ahead, logged a console error, threw, or a request to
the app itself failed; it must also show what it is for.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HOST = "linkage.test"  # reserved for testing (RFC 2606): resolves nowhere but here
# The app's name maps to loopback; every other name fails to resolve, so not even a DNS query
# leaves the machine before a request reaches the abort below.
LAUNCH_ARGS = [f"--host-resolver-rules=MAP {HOST} 127.0.0.1, MAP * ~NOTFOUND"]
DASHBOARD_TOKEN = "linkage.token"  # sessionStorage key of the dashboard's sign-in
DESK, PHONE = (1440, 1000), (390, 844)
QUIET_SECONDS = 0.5  # a page is done when no request of its own has been in flight this long
READY_SECONDS = 30  # generous: Swagger UI alone parses the whole OpenAPI on a busy machine


@dataclass(frozen=True)
class Page:
    """A page people open, as they open it.

    ``path`` may hold placeholders such as ``{issue_id}`` or ``{pin}``, filled by ``visit``.
    ``steps`` are what its user does first, as ``(action, selector, value)`` with ``action``
    ``fill`` or ``click``. ``ready`` is a selector present once the page has drawn what it is
    for, ``text`` words it must then show.
    ``account`` signs the page in: its token under ``token_key`` in ``storage``, where the
    page's own script keeps it after a sign-in.
    """

    name: str
    path: str
    ready: str
    text: tuple[str, ...] = ()
    account: str | None = None
    token_key: str = DASHBOARD_TOKEN
    storage: str = "sessionStorage"
    steps: tuple[tuple[str, str, str], ...] = ()
    viewport: tuple[int, int] = DESK


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# Where the page's elements load from (or, for link rel=preconnect/dns-prefetch, reach ahead).
LOADING_ADDRESSES = """() => [...document.querySelectorAll(
    "link[href], script[src], img[src], iframe[src], source[src], video[src], audio[src],"
    + " embed[src], object[data]")]
    .map((e) => e.href || e.src || e.data)
    .filter((url) => /^(https?|wss?):/.test(url))"""


@dataclass
class Watch:
    """What one page did that a page on an isolated network must not do.

    ``outside`` holds every request the page attempted to an address other than the app's (each
    aborted as unreachable), ``linked`` the other addresses its elements load from or connect to
    ahead (preconnect and dns-prefetch make no request a route sees), ``errors`` its console
    errors, uncaught exceptions and failed requests to the app.
    """

    origin: str
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    in_flight: int = 0
    last_change: float = field(default_factory=time.monotonic)

    async def route(self, route: Any) -> None:
        url = route.request.url
        if origin_of(url) != self.origin:
            self.outside.append(url)
            await route.abort("addressunreachable")
        else:
            await route.continue_()

    def listen(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", lambda _: self._count(+1))
        page.on("requestfinished", lambda _: self._count(-1))
        page.on("requestfailed", self._failed)
        page.on("websocket", self._websocket)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def _failed(self, request: Any) -> None:
        self._count(-1)
        if origin_of(request.url) == self.origin:
            self.errors.append(f"failed: {request.url} ({request.failure})")

    def _websocket(self, socket: Any) -> None:
        # Not routed: a WebSocket to another address is recorded here instead.
        if urlsplit(socket.url).netloc != urlsplit(self.origin).netloc:
            self.outside.append(socket.url)

    def _count(self, step: int) -> None:
        self.in_flight += step
        self.last_change = time.monotonic()

    async def quiet(self, seconds: float = 15) -> None:
        """Wait until nothing has been in flight for ``QUIET_SECONDS`` from now on: late loads
        count too, and what the page was just made to do has time to start."""
        self.last_change = time.monotonic()
        deadline = self.last_change + seconds
        while time.monotonic() < deadline:
            if self.in_flight <= 0 and time.monotonic() - self.last_change >= QUIET_SECONDS:
                return
            await asyncio.sleep(0.1)
        self.errors.append(f"requests still in flight after {seconds} s")

    async def sweep(self, page: Any) -> None:
        addresses: list[str] = await page.evaluate(LOADING_ADDRESSES)
        self.linked += [url for url in addresses if origin_of(url) != self.origin]

    def report(self, name: str) -> list[str]:
        return (
            [f"{name}: outside address {url}" for url in self.outside]
            + [f"{name}: links outside {url}" for url in self.linked]
            + [f"{name}: {error}" for error in self.errors]
        )


async def visit(
    browser: Any,
    page: Page,
    base: str,
    fill: Mapping[str, str],
    *,
    token: str | None = None,
    screenshot: Path | None = None,
    inject: str | None = None,
) -> list[str]:
    """Open one page of the app at ``base`` in a fresh context of ``browser`` (launched with
    ``LAUNCH_ARGS``) as its user would: what went wrong, or nothing.

    ``fill`` fills the page's path and steps; ``token`` is the page's account's. ``inject``, for
    the check's own test, is a script run in the page once it is ready.
    """
    from playwright.async_api import Error as PlaywrightError

    width, height = page.viewport
    context = await browser.new_context(
        viewport={"width": width, "height": height}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    try:
        watch = Watch(base)
        await context.route("**/*", watch.route)
        if token is not None:
            await context.add_init_script(
                f"{page.storage}.setItem({json.dumps(page.token_key)}, {json.dumps(token)})"
            )
        tab = await context.new_page()
        watch.listen(tab)
        url = base + page.path.format(**fill)
        try:
            await tab.goto(url)
            for action, selector, value in page.steps:
                if action == "fill":
                    await tab.fill(selector, value.format(**fill))
                else:
                    await tab.click(selector)
            await tab.wait_for_selector(page.ready, state="attached", timeout=READY_SECONDS * 1000)
            shown = await tab.inner_text("body")
            watch.errors += [f"does not show {t!r}" for t in page.text if t not in shown]
            if inject:
                await tab.evaluate(inject)
        except PlaywrightError as error:
            watch.errors.append(f"{url} did not show {page.ready}: {error.message.splitlines()[0]}")
        await watch.quiet()
        await watch.sweep(tab)
        if screenshot is not None:
            await tab.screenshot(path=str(screenshot))
        return watch.report(page.name)
    finally:
        await context.close()
