"""Prometheus metrics of the API (``GET /api/v1/metrics``, text exposition format).

Requests are labelled by route template (``/api/v1/issues/{issue_id}``), never by the raw path:
issue ids in labels would grow the series without bound.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import Engine, case, func
from sqlmodel import Session, col, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.models import OPEN_STATUSES, Level, Outcome
from store.tables import Issue, IssueLevel, Notification, NotificationAttempt

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


def exposition(read_model: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """This process's metrics, then the read model's, and their content type."""
    body = generate_latest()
    if read_model is not None:
        body += generate_latest(read_model)
    return body, CONTENT_TYPE_LATEST


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


# ---- the read model's figures -------------------------------------------------------------------

ESCALATION_LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
_ESCALATION_REASONS = {
    Outcome.ESCALATED_ON_REQUEST.value: "on_request",
    Outcome.ESCALATED_ON_TIMEOUT.value: "on_timeout",
}


class ReadModelCollector(Collector):
    """Issue, escalation, resolution and notification figures counted in the read model.

    The worker processes that escalate and deliver are many and restart at will; counters kept in
    their memory would split across processes and reset with them. The read model is the one place
    every process writes to exactly once per event (the recorder is idempotent), so counting there
    at scrape time gives one true, monotonic series whichever process answers ``/metrics``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            yield from self._issues(session)
            yield from self._escalations(session)
            yield _counter(
                "linkage_resolutions",
                "Issues resolved, by the level that resolved them.",
                ["level"],
                session.exec(
                    select(Issue.resolution_level, func.count())
                    .where(col(Issue.resolution_level).is_not(None))
                    .group_by(col(Issue.resolution_level))
                ).all(),
            )
            yield from self._notifications(session)
            yield self._escalation_lag(session)

    def _issues(self, session: Session) -> Iterator[Metric]:
        yield _counter(
            "linkage_issues_registered",
            "Issues registered, by urgency (every channel: API, hotline, grid workers).",
            ["urgency"],
            session.exec(select(Issue.urgency, func.count()).group_by(col(Issue.urgency))).all(),
        )
        open_rows = session.exec(
            select(Issue.level, col(Issue.overdue), func.count())
            .where(col(Issue.status).in_([s.value for s in OPEN_STATUSES]))
            .group_by(col(Issue.level), col(Issue.overdue))
        ).all()
        by_level: dict[str, int] = {}
        overdue: dict[str, int] = {}
        for level, is_overdue, count in open_rows:
            by_level[level] = by_level.get(level, 0) + count
            if is_overdue:
                overdue[level] = overdue.get(level, 0) + count
        yield _gauge("linkage_open_issues", "Open issues by the level they are at.", by_level)
        yield _gauge("linkage_overdue_issues", "Open issues past the county's deadline.", overdue)

    def _escalations(self, session: Session) -> Iterator[Metric]:
        rows = session.exec(
            select(IssueLevel.level, IssueLevel.outcome, func.count())
            .where(col(IssueLevel.outcome).in_(list(_ESCALATION_REASONS)))
            .group_by(col(IssueLevel.level), col(IssueLevel.outcome))
        ).all()
        yield _counter(
            "linkage_escalations",
            "Escalations by reason and by the level escalated from.",
            ["reason", "level"],
            [(_ESCALATION_REASONS[str(outcome)], level, count) for level, outcome, count in rows],
        )

    def _notifications(self, session: Session) -> Iterator[Metric]:
        attempts = session.exec(
            select(Notification.channel, NotificationAttempt.ok, func.count())
            .join(Notification, col(Notification.id) == col(NotificationAttempt.notification_id))
            .group_by(col(Notification.channel), col(NotificationAttempt.ok))
        ).all()
        yield _counter(
            "linkage_notification_attempts",
            "Delivery attempts to outside channels, by channel and outcome.",
            ["channel", "outcome"],
            [(channel, "ok" if ok else "failed", count) for channel, ok, count in attempts],
        )
        yield _counter(
            "linkage_notification_failures",
            "Notifications that finally failed (retries spent or refused); supervisors alerted.",
            ["channel"],
            session.exec(
                select(Notification.channel, func.count())
                .where(Notification.status == "failed")
                .group_by(col(Notification.channel))
            ).all(),
        )

    def _escalation_lag(self, session: Session) -> Metric:
        """Deadline → the escalation recorded, for timeouts: how late the clock really fired."""
        lag = _seconds_between(session, col(IssueLevel.deadline), col(IssueLevel.left_at))
        timed_out = IssueLevel.outcome == Outcome.ESCALATED_ON_TIMEOUT.value
        counts = [
            func.coalesce(func.sum(case((lag <= bound, 1), else_=0)), 0)
            for bound in ESCALATION_LAG_BUCKETS
        ]
        row = session.exec(
            select(func.count(), func.coalesce(func.sum(lag), 0.0), *counts).where(timed_out)
        ).one()
        total, seconds = row[0], row[1]
        cumulative: list[Any] = list(row[2:])
        family = HistogramMetricFamily(
            "linkage_escalation_lag_seconds",
            "From a level's deadline to its escalation on timeout being recorded.",
        )
        buckets = [
            (floatToGoString(b), float(c))
            for b, c in zip(ESCALATION_LAG_BUCKETS, cumulative, strict=True)
        ]
        family.add_metric([], [*buckets, ("+Inf", float(total))], float(seconds))
        return family


def _seconds_between(session: Session, start: Any, end: Any) -> Any:
    """``end - start`` in seconds, in the dialect's own date arithmetic."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    # SQLite keeps UTC text; julianday reads it as days.
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _counter(name: str, doc: str, labels: list[str], rows: Sequence[Sequence[Any]]) -> Metric:
    family = CounterMetricFamily(name, doc, labels=labels)
    for *values, count in rows:
        family.add_metric([str(v) for v in values], float(count))
    return family


def _gauge(name: str, doc: str, by_level: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=["level"])
    for level in (lv.value for lv in Level):
        family.add_metric([level], float(by_level.get(level, 0)))
    return family


def read_model_registry(engine: Engine) -> CollectorRegistry:
    """A registry holding only the read-model collector (queried afresh on every scrape)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReadModelCollector(engine))
    return registry
