"""``linkage up`` keeps the duties' Temporal Schedules: ``temporal schedule list`` against its
embedded server shows one monthly council per village of the tree (159 for 镇安县) and the
county's quarterly joint meeting; a restart on the same data directory changes none of them."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import venv_binary
from tests.e2e.stack import free_ports, running_stack


def _schedule_ids(temporal_port: int, expected: int) -> set[str]:
    """Every schedule id the server lists (visibility catches up within seconds)."""
    ids: set[str] = set()
    for _ in range(120):
        listed = subprocess.run(
            [
                venv_binary("temporal"),
                "schedule",
                "list",
                "--address",
                f"127.0.0.1:{temporal_port}",
                "--output",
                "jsonl",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        ids = {
            json.loads(line)["scheduleId"] for line in listed.stdout.splitlines() if line.strip()
        }
        if len(ids) >= expected:
            return ids
        time.sleep(0.5)
    return ids


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_up_keeps_one_schedule_per_unit_and_duty(tmp_path: Path) -> None:
    data_dir = tmp_path / "linkage-data"
    ports = free_ports(3)
    with running_stack(data_dir, ports) as first:
        assert "schedules: 637 wanted, 637 created" in first.output
        ids = _schedule_ids(ports[1], 637)
        councils = {i for i in ids if i.startswith("village-council-")}
        assert len(councils) == 159
        assert "village-council-611025101202" in councils
        assert "county-joint-meeting-611025" in ids
        assert len({i for i in ids if i.startswith("village-disclosure-monthly-")}) == 159
        first.stop_and_assert_stopped()

    with running_stack(data_dir, ports) as second:
        assert "0 created, 0 updated, 0 deleted, 637 unchanged" in second.output
        second.stop_and_assert_stopped()
