"""Prometheus metrics of the API (``GET /api/v1/metrics``, text exposition format).

Requests are labelled by route template (``/api/v1/issues/{issue_id}``), never by the raw path:
issue ids in labels would grow the series without bound.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ISSUES_REGISTERED = Counter(
    "issues_registered_total",
    "Issues registered through the API (retries with the same Idempotency-Key count once).",
    ["channel", "urgency"],
)
ISSUE_ACTIONS = Counter(
    "issue_actions_total",
    "Actions on issues by outcome: applied, duplicate, rejected (409), forbidden (403).",
    ["action", "outcome"],
)
PIN_FAILURES = Counter(
    "citizen_pin_failures_total", "Wrong tracking code or PIN attempts, and refusals while locked."
)
API_REQUESTS = Counter(
    "api_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
API_LATENCY = Histogram(
    "api_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def exposition() -> tuple[bytes, str]:
    """The current metrics and their content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times every HTTP request (a plain ASGI middleware: no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            # Unmatched paths share one label: a scanner must not mint series.
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            API_REQUESTS.labels(method, template, str(status)).inc()
            API_LATENCY.labels(method, template).observe(time.perf_counter() - started)
