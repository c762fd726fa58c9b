"""``linkage up`` keeps its stack up: a child that dies is logged and restarted with backoff, and
a restart loop that does not settle stops the whole stack with the reason. A county running the
embedded default on one machine needs a crashed worker, API or Temporal server back by itself
(and, DESIGN's first non-negotiable, nothing lost when it comes back).

Real ``linkage up`` subprocesses, children killed with ``kill -9``; the backoff's arithmetic is
checked on its own first, without processes.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import Stack, login, running_stack
from workers.launcher import pid_alive
from workers.supervision import Backoff, RestartPolicy

VILLAGE = "611025001001"  # 新城社区居委会


def _crashed(name: str, pid: int, how: str) -> str:
    """The supervisor's line for a child that died, and the restart it plans."""
    return rf"linkage up: {name} \(pid {pid}\) {how}; restarting it in (\d+) s"


def _restarted(name: str) -> str:
    return rf"linkage up: restarted {name} \(pid (\d+)\)"


def _health(http: httpx.Client, stack: Stack) -> int | None:
    try:
        return http.get(f"{stack.base}/api/v1/healthz", timeout=5).status_code
    except httpx.HTTPError:
        return None


def _healthy_within(http: httpx.Client, stack: Stack, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while _health(http, stack) != 200:
        assert time.monotonic() < deadline, f"healthz not 200 within {seconds} s\n{stack.output}"
        time.sleep(0.5)


def _register(http: httpx.Client, stack: Stack, title: str) -> dict[str, Any]:
    """A village clerk registers an issue; the answer comes once a worker has entered its level."""
    response = http.post(
        f"{stack.base}/api/v1/issues",
        headers={
            **login(http, stack.base, f"village-{VILLAGE}"),
            "Idempotency-Key": uuid.uuid4().hex,
        },
        json={
            "village_code": VILLAGE,
            "category": "sanitation",
            "title": title,
            "description": f"监督进程测试：{title}",
        },
        timeout=120,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["tracking_code"] and created["pin"] and created["deadline"], created
    return created


def _kill(stack: Stack, name: str) -> tuple[int, int]:
    """``kill -9`` the child ``name``; its old pid and the index of the output from then on."""
    pid = stack.pids[name]
    mark = len(stack.lines)
    os.kill(pid, signal.SIGKILL)
    return pid, mark


def _comes_back(stack: Stack, name: str, pid: int, mark: int) -> int:
    """The supervisor says ``name`` was killed, and restarts it after the first delay: its new
    pid."""
    crash = stack.wait_for_line(_crashed(name, pid, "was killed by SIGKILL"), after=mark)
    assert crash[1] == "1", crash[0]  # the first crash in a while: the shortest delay
    new = int(stack.wait_for_line(_restarted(name), after=mark)[1])
    assert new != pid and pid_alive(new), (pid, new)
    assert stack.proc.poll() is None, stack.output
    return new


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_killed_worker_and_a_killed_api_are_restarted_and_the_stack_serves(
    tmp_path: Path, http: httpx.Client
) -> None:
    with running_stack(tmp_path / "linkage-data") as stack:
        api = stack.pids["api"]
        before = _register(http, stack, "重启前登记")

        pid, mark = _kill(stack, "worker")
        # The API keeps answering while the worker is away (whatever it says of the worker).
        assert _health(http, stack) is not None, stack.output
        _comes_back(stack, "worker", pid, mark)
        assert stack.pids["api"] == api, "the API had no reason to restart"
        _healthy_within(http, stack, 30)
        after = _register(http, stack, "工作进程重启后登记")
        assert after["id"] != before["id"]

        pid, mark = _kill(stack, "api")
        _comes_back(stack, "api", pid, mark)
        _healthy_within(http, stack, 60)
        headers = login(http, stack.base, "county-supervisor")
        for issue in (before, after):
            again = http.get(f"{stack.base}/api/v1/issues/{issue['id']}", headers=headers)
            assert again.status_code == 200, again.text

        stack.stop_and_assert_stopped()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_killed_temporal_server_is_restarted_on_its_store(
    tmp_path: Path, http: httpx.Client
) -> None:
    with running_stack(tmp_path / "linkage-data") as stack:
        before = _register(http, stack, "服务器重启前登记")

        pid, mark = _kill(stack, "temporal")
        _comes_back(stack, "temporal", pid, mark)
        _healthy_within(http, stack, 60)
        headers = login(http, stack.base, "county-supervisor")
        again = http.get(f"{stack.base}/api/v1/issues/{before['id']}", headers=headers)
        assert again.status_code == 200, again.text
        _register(http, stack, "服务器重启后登记")

        stack.stop_and_assert_stopped()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_worker_that_crashes_at_every_start_stops_the_stack_with_the_reason(
    tmp_path: Path,
) -> None:
    # A real failure mode: the admin's calendar file (LINKAGE_CALENDAR_FILE), read by the worker
    # at every start and by nothing else, is edited into something the worker refuses.
    calendar = tmp_path / "calendar.toml"
    calendar.write_text('[years.2027]\nholidays = ["2027-02-11"]\n', encoding="utf-8")
    env = {"LINKAGE_CALENDAR_FILE": str(calendar)}
    with running_stack(tmp_path / "linkage-data", env=env) as stack:
        calendar.write_text('[years.2027]\nholidays = ["2027-13-01"]\n', encoding="utf-8")
        pid, mark = _kill(stack, "worker")

        delays = [int(stack.wait_for_line(_crashed("worker", pid, "was killed by SIGKILL"))[1])]
        for _ in range(4):
            pid = int(stack.wait_for_line(_restarted("worker"), after=mark)[1])
            # Taken at once: this start takes seconds to fail, and the next comes after that.
            mark = len(stack.lines)
            found = stack.wait_for_line(_crashed("worker", pid, "exited with status 1"))
            delays.append(int(found[1]))
        assert delays == [1, 2, 4, 8, 16], delays
        pid = int(stack.wait_for_line(_restarted("worker"), after=mark)[1])
        stack.wait_for_line(
            rf"linkage up: worker \(pid {pid}\) exited with status 1: 6 crashes within 120 s, "
            r"a restart loop that does not settle; stopping everything",
            within=120,
        )
        assert stack.wait_for_exit(60) == 1, stack.output
        # The worker's own words say why, on the same console.
        assert f"{calendar}: calendar schedule" in stack.output
        assert "linkage up: everything stopped" in stack.output
        stack.assert_nothing_left()


# ---- the backoff, without processes -------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap_and_gives_up_on_a_loop_that_does_not_settle() -> None:
    backoff = Backoff(RestartPolicy())
    at, delays = 0.0, []
    for _ in range(5):
        delay = backoff.crashed(at, up_for=3)
        assert delay is not None
        delays.append(delay)
        at += delay + 3
    assert delays == [1, 2, 4, 8, 16]
    assert backoff.crashed(at, up_for=3) is None  # a sixth within two minutes

    slow = Backoff(RestartPolicy(window=120, most_crashes=100))
    assert [slow.crashed(float(60 * n), up_for=10) for n in range(8)] == [
        1, 2, 4, 8, 16, 30, 30, 30,
    ]  # fmt: skip


def test_backoff_starts_afresh_after_a_settled_run_and_forgets_old_crashes() -> None:
    backoff = Backoff(RestartPolicy())
    assert [backoff.crashed(float(n), up_for=1) for n in range(3)] == [1, 2, 4]
    assert backoff.crashed(100.0, up_for=60) == 1  # it had stayed up a minute
    # Six crashes, but never more than five within two minutes: never given up.
    spread = Backoff(RestartPolicy())
    assert all(spread.crashed(float(30 * n), up_for=61) == 1 for n in range(12))
