"""``linkage up`` end to end: real dev server, worker and API, started, used, stopped, restarted.

The contract says ``linkage up`` starts everything with one command and Ctrl-C stops everything
cleanly; this test holds it to both, and to the non-negotiable that a restart on the same data
directory loses no issue.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from domain.search_attributes import cli_flags
from settings import Settings
from tests.e2e.stack import free_ports, login, running_stack
from workers.launcher import child_environment, temporal_server_command


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_up_serves_stops_cleanly_and_restarts_with_its_data(
    tmp_path: Path, http: httpx.Client
) -> None:
    data_dir = tmp_path / "linkage-data"
    ports = free_ports(3)
    ui_port = ports[2]

    with running_stack(data_dir, ports) as first:
        base = first.base
        assert f"{base}/docs" in first.output
        assert f"{base}/dashboard" in first.output
        assert f"http://127.0.0.1:{ui_port}" in first.output
        assert "county-admin" in first.output

        assert http.get(f"{base}/api/v1/healthz").status_code == 200
        assert http.get(f"{base}/docs").status_code == 200
        ui = http.get(f"http://127.0.0.1:{ui_port}/")
        assert ui.status_code < 500, ui.status_code

        headers = login(http, base)
        units = http.get(f"{base}/api/v1/units", headers=headers)
        assert units.status_code == 200, units.text
        assert "镇安县" in units.text
        assert "永乐街道" in units.text  # a township: the tree, not just its root

        created = http.post(
            f"{base}/api/v1/issues",
            headers={**headers, "Idempotency-Key": "e2e-devstack-restart"},
            json={
                "village_code": "611025001001",
                "category": "other",
                "title": "重启后仍在",
                "description": "linkage up restarted on the same data directory keeps this issue",
            },
        )
        assert created.status_code == 201, created.text
        issue_id = created.json()["id"]

        first.stop_and_assert_stopped()

    assert (data_dir / "temporal.db").exists()
    assert (data_dir / "linkage.db").exists()

    with running_stack(data_dir, ports) as second:
        assert http.get(f"{second.base}/api/v1/healthz").status_code == 200
        headers = login(http, second.base)
        again = http.get(f"{second.base}/api/v1/issues/{issue_id}", headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == issue_id
        second.stop_and_assert_stopped()


# ---- the pieces, without servers ----------------------------------------------------------------


def test_dev_server_command_persists_and_registers_search_attributes(tmp_path: Path) -> None:
    settings = Settings(temporal_port=17233, temporal_ui_port=18233, temporal_namespace="linkage")
    argv = temporal_server_command(settings, "/bin/temporal", tmp_path)
    assert argv[:3] == ["/bin/temporal", "server", "start-dev"]
    assert argv[argv.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
    assert argv[argv.index("--port") + 1] == "17233"
    assert argv[argv.index("--ui-port") + 1] == "18233"
    assert argv[argv.index("--namespace") + 1] == "linkage"
    assert argv[argv.index("--ip") + 1] == "127.0.0.1"
    assert "journal_mode=wal" in argv and "synchronous=normal" in argv
    assert argv[-len(cli_flags()) :] == cli_flags()
    bare = temporal_server_command(settings, "t", tmp_path, with_search_attributes=False)
    assert "--search-attribute" not in bare


def test_children_get_every_setting_and_the_embedded_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "d", policy="drill", demo_accounts=True, api_port=18000)
    env = child_environment(settings, "127.0.0.1:17233")
    assert env["LINKAGE_TEMPORAL_ADDRESS"] == "127.0.0.1:17233"
    assert env["LINKAGE_POLICY"] == "drill"
    assert env["LINKAGE_API_PORT"] == "18000"
    assert env["LINKAGE_DEMO_ACCOUNTS"] == "true"
    assert env["LINKAGE_DATA_DIR"] == str((tmp_path / "d").resolve())
    assert env["LINKAGE_DATABASE_URL"] == settings.resolved_database_url

    # What a child reads back from that environment is what the supervisor resolved.
    for key in list(os.environ):
        if key.startswith("LINKAGE_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("LINKAGE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    child = Settings()
    expected = settings.model_copy(
        update={
            "temporal_address": "127.0.0.1:17233",
            "data_dir": (tmp_path / "d").resolve(),
            "database_url": settings.resolved_database_url,
        }
    )
    assert child.model_dump() == expected.model_dump()
