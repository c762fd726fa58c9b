"""The worker's settings reach the Temporal worker it builds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from settings import Settings
from tests.workflows.standalone import read_model_at, time_skipping_env
from workers.main import build_worker


@pytest.mark.parametrize(("cached", "sticky"), [(None, None), (25_000, "90")])
async def test_the_sticky_cache_holds_as_many_issues_as_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: int | None, sticky: str | None
) -> None:
    if cached is not None:
        monkeypatch.setenv("LINKAGE_WORKER_CACHED_ISSUES", str(cached))
    if sticky is not None:
        monkeypatch.setenv("LINKAGE_WORKER_STICKY_SECONDS", sticky)
    settings = Settings()
    async with time_skipping_env() as env, httpx.AsyncClient() as http:
        with read_model_at(tmp_path) as engine:
            worker = build_worker(env.client, settings, engine, http, task_queue="cache")
    assert worker.config()["max_cached_workflows"] == (cached or 1000)
    # The SDK's 10 s unless configured (longer spares replays in a burst, costs after a crash).
    waits = worker.config()["sticky_queue_schedule_to_start_timeout"]
    assert waits == timedelta(seconds=float(sticky or 10))


def test_a_cache_of_no_issues_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINKAGE_WORKER_CACHED_ISSUES", "0")
    with pytest.raises(ValidationError, match="worker_cached_issues"):
        Settings()
