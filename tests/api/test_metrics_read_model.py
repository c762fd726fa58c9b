"""The read model's Prometheus figures, counted on constructed rows (SQLite and PostgreSQL).

Three issues and two notifications whose every count is worked out by hand below; then the
endpoint itself, over the real stack, after a real escalation on timeout.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlmodel import Session

from api.metrics import read_model_registry
from store.tables import Issue, IssueLevel, Notification, NotificationAttempt
from tests.api.conftest import Api

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
VILLAGE, TOWNSHIP, COUNTY = "611025001001", "611025001", "611025"


def _issue(issue_id: str, **fields: Any) -> Issue:
    values: dict[str, Any] = {
        "id": issue_id,
        "tracking_code": issue_id.upper(),
        "category": "sanitation",
        "title": "村道垃圾",
        "description": "多日无人清运",
        "urgency": "normal",
        "channel": "api",
        "unit_code": VILLAGE,
        "unit_path": f"{COUNTY}/{TOWNSHIP}/{VILLAGE}",
        "registered_unit_path": f"{COUNTY}/{TOWNSHIP}/{VILLAGE}",
        "level": "village",
        "status": "in_progress",
        "registered_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return Issue(**values)


def _stay(issue_id: str, idx: int, level: str, **fields: Any) -> IssueLevel:
    unit = {"village": VILLAGE, "township": TOWNSHIP, "county": COUNTY}[level]
    values: dict[str, Any] = {
        "issue_id": issue_id,
        "idx": idx,
        "level": level,
        "unit_code": unit,
        "unit_name": unit,
        "entered_at": T0,
        "deadline": T0 + timedelta(days=3),
        "accept_deadline": T0 + timedelta(days=1),
    }
    values.update(fields)
    return IssueLevel(**values)


def _notification(key: str, channel: str, status: str) -> Notification:
    return Notification(
        issue_id="a",
        seq=2,
        kind="level_entered",
        channel=channel,
        target_kind="unit",
        target_code=VILLAGE,
        title="新事项",
        body="村道垃圾",
        status=status,
        idempotency_key=key,
        created_at=T0,
    )


@pytest.fixture
def registry(db_engine: Engine) -> CollectorRegistry:
    deadline = T0 + timedelta(days=3)
    with Session(db_engine) as session:
        session.add_all(
            [
                # a: escalated on timeout 0.4 s after the village deadline, resolved at township.
                _issue(
                    "a",
                    status="closed",
                    level="township",
                    resolution_level="township",
                    unit_code=TOWNSHIP,
                ),
                # b: escalated on request, then on timeout 20 s late; overdue at the county.
                _issue(
                    "b", urgency="urgent", status="pending_accept", level="county", overdue=True
                ),
                # c: still open at its village.
                _issue("c"),
            ]
        )
        session.flush()
        session.add_all(
            [
                _stay(
                    "a",
                    0,
                    "village",
                    deadline=deadline,
                    left_at=deadline + timedelta(seconds=0.4),
                    outcome="escalated_on_timeout",
                ),
                _stay("a", 1, "township", outcome="resolved", left_at=deadline + timedelta(days=1)),
                _stay("b", 0, "village", outcome="escalated_on_request", left_at=T0),
                _stay(
                    "b",
                    1,
                    "township",
                    deadline=deadline,
                    left_at=deadline + timedelta(seconds=20),
                    outcome="escalated_on_timeout",
                ),
                _stay("b", 2, "county"),
                _stay("c", 0, "village"),
            ]
        )
        retried = _notification("a-2-webhook", "webhook", "sent")
        refused = _notification("a-2-dingtalk", "dingtalk", "failed")
        session.add_all([retried, refused])
        session.flush()
        assert retried.id is not None and refused.id is not None
        session.add_all(
            [
                NotificationAttempt(notification_id=retried.id, attempt=1, at=T0, ok=False),
                NotificationAttempt(notification_id=retried.id, attempt=2, at=T0, ok=False),
                NotificationAttempt(notification_id=retried.id, attempt=3, at=T0, ok=True),
                NotificationAttempt(
                    notification_id=refused.id, attempt=1, at=T0, ok=False, status_code=400
                ),
            ]
        )
        session.commit()
    return read_model_registry(db_engine)


def test_issue_escalation_and_resolution_counts(registry: CollectorRegistry) -> None:
    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("linkage_issues_registered_total", urgency="normal") == 2
    assert value("linkage_issues_registered_total", urgency="urgent") == 1
    assert [value("linkage_open_issues", level=lv) for lv in ("village", "township", "county")] == [
        1,
        0,
        1,
    ]
    assert value("linkage_overdue_issues", level="county") == 1
    assert value("linkage_overdue_issues", level="village") == 0
    assert value("linkage_escalations_total", reason="on_timeout", level="village") == 1
    assert value("linkage_escalations_total", reason="on_request", level="village") == 1
    assert value("linkage_escalations_total", reason="on_timeout", level="township") == 1
    assert value("linkage_escalations_total", reason="on_request", level="township") is None
    assert value("linkage_resolutions_total", level="township") == 1
    assert value("linkage_resolutions_total", level="village") is None


def test_notification_attempts_and_final_failures(registry: CollectorRegistry) -> None:
    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("linkage_notification_attempts_total", channel="webhook", outcome="ok") == 1
    assert value("linkage_notification_attempts_total", channel="webhook", outcome="failed") == 2
    assert value("linkage_notification_attempts_total", channel="dingtalk", outcome="failed") == 1
    assert value("linkage_notification_failures_total", channel="dingtalk") == 1
    assert value("linkage_notification_failures_total", channel="webhook") is None


def test_escalation_lag_histogram(registry: CollectorRegistry) -> None:
    def bucket(le: str) -> float | None:
        return registry.get_sample_value("linkage_escalation_lag_seconds_bucket", {"le": le})

    # Two timeouts, 0.4 s and 20 s late; the escalation on request has no deadline lag.
    assert registry.get_sample_value("linkage_escalation_lag_seconds_count") == 2
    assert registry.get_sample_value("linkage_escalation_lag_seconds_sum") == pytest.approx(
        20.4, abs=0.01
    )
    assert [bucket(le) for le in ("0.25", "0.5", "10.0", "30.0", "+Inf")] == [0, 1, 1, 2, 2]


def test_an_empty_read_model_exposes_zeroes(db_engine: Engine) -> None:
    registry = read_model_registry(db_engine)
    assert registry.get_sample_value("linkage_escalation_lag_seconds_count") == 0
    assert registry.get_sample_value("linkage_open_issues", {"level": "county"}) == 0


async def test_metrics_endpoint_counts_a_real_escalation(api: Api) -> None:
    """The endpoint itself, over the real stack: a registration and an escalation on request."""
    before = await _scrape(api)
    created = await api.register()
    await api.ok(
        created["id"], "escalate", {"reason": "涉及跨村道路"}, as_user=f"village-{VILLAGE}"
    )
    await api.settled(created["id"])
    after = await _scrape(api)
    escalated = 'linkage_escalations_total{level="village",reason="on_request"}'
    registered = 'linkage_issues_registered_total{urgency="normal"}'
    assert after[escalated] == before.get(escalated, 0) + 1
    assert after[registered] == before.get(registered, 0) + 1
    # The process's own request counters come first, in the same exposition.
    assert any(key.startswith("api_requests_total{") for key in after)


async def _scrape(api: Api) -> dict[str, float]:
    response = await api.get("/metrics", as_user=None)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples
