"""The administration drill, as a county's IT officer runs it: production settings on
PostgreSQL (no demo account exists), ``linkage admin create`` for the first administrator, then
over HTTP the admin creates a township leader and a village clerk, issues a department's API key,
sets the township's webhook and test-sends to a real local receiver; the clerk registers an issue
under the drill policy, and when it escalates on timeout the township's webhook receives it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.channels.webhook import SIGNATURE_HEADER, sign_webhook
from settings import ROOT
from tests.conftest import fresh_postgres_database
from tests.e2e.stack import running_stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TOWNSHIP, VILLAGE = "611025001", "611025001001"
PASSWORD = "County2026admin"
SECRET = "township-webhook-secret"
ARRIVALS = ("escalated", "level_entered")  # the notice kinds of an issue reaching a level


class Receiver:
    """A real HTTP server on 127.0.0.1 recording each POST (headers, JSON body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/linkage"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict[str, Any]]:
        out = []
        for headers, body in list(self.posts):
            stamp = headers["x-linkage-timestamp"]
            assert headers[SIGNATURE_HEADER.lower()] == sign_webhook(SECRET, stamp, body)
            out.append(json.loads(body))
        return out


@pytest.fixture
def production(tmp_path: Path) -> Iterator[dict[str, str]]:
    with fresh_postgres_database() as url:
        yield {
            "LINKAGE_ENVIRONMENT": "production",
            "LINKAGE_DATABASE_URL": url,
            "LINKAGE_SECRET_KEY": "drill-production-secret-" + "s" * 32,
            "LINKAGE_DEMO_ACCOUNTS": "false",
            "LINKAGE_DATA_DIR": str(tmp_path),
        }


def token(http: httpx.Client, base: str, username: str, password: str) -> dict[str, str]:
    r = http.post(f"{base}/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_a_county_puts_linkage_into_use(
    production: dict[str, str], tmp_path: Path, http: httpx.Client
) -> None:
    environment = {**os.environ, **production}
    created = subprocess.run(
        [sys.executable, "-m", "linkage_cli", "admin", "create", "it-officer", "--unit", "611025"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    again = subprocess.run(
        [sys.executable, "-m", "linkage_cli", "admin", "create", "other", "--unit", "611025"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
    )
    assert again.returncode == 1 and "it-officer" in again.stderr

    receiver = Receiver()
    try:
        with running_stack(tmp_path / "stack", policy="drill", env=production) as stack:
            base = stack.base
            # Production: the demo accounts do not exist.
            r = http.post(
                f"{base}/api/v1/auth/token", data={"username": "county-admin", "password": "demo"}
            )
            assert r.status_code == 401
            admin = token(http, base, "it-officer", PASSWORD)
            for username, role, unit in (
                ("yl-leader", "leader", TOWNSHIP),
                ("xc-clerk", "clerk", VILLAGE),
            ):
                r = http.post(
                    f"{base}/api/v1/admin/users",
                    headers=admin,
                    json={
                        "username": username,
                        "display_name": username,
                        "role": role,
                        "unit": unit,
                        "password": PASSWORD + "x",
                    },
                )
                assert r.status_code == 201, r.text

            r = http.post(
                f"{base}/api/v1/admin/api-keys",
                headers=admin,
                json={"department": "zhenan-shuili", "name": "水利局工单系统"},
            )
            assert r.status_code == 201, r.text
            me = http.get(f"{base}/api/v1/auth/me", headers={"X-API-Key": r.json()["key"]})
            assert me.status_code == 200 and me.json()["department"]["code"] == "zhenan-shuili"

            r = http.post(
                f"{base}/api/v1/admin/channels",
                headers=admin,
                json={
                    "owner_kind": "unit",
                    "owner_code": TOWNSHIP,
                    "channel": "webhook",
                    "url": receiver.url,
                    "secret": SECRET,
                },
            )
            assert r.status_code == 200, r.text
            tested = http.post(f"{base}/api/v1/admin/channels/{r.json()['id']}/test", headers=admin)
            assert tested.json()["ok"], tested.text
            assert len(receiver.bodies()) == 1

            clerk = token(http, base, "xc-clerk", PASSWORD + "x")
            r = http.post(
                f"{base}/api/v1/issues",
                headers=clerk,
                json={
                    "village_code": VILLAGE,
                    "category": "sanitation",
                    "title": "村道垃圾堆放",
                    "description": "路边垃圾堆放多日无人清运",
                },
            )
            assert r.status_code == 201, r.text
            issue_id = r.json()["id"]

            # The village's drill term is 10 s; then the issue enters the township, whose
            # webhook hears of it.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                # The 50% warning copies the township earlier: wait for the arrival itself.
                arrivals = [
                    b
                    for b in receiver.bodies()[1:]
                    if issue_id in json.dumps(b) and b["kind"] in ARRIVALS
                ]
                if arrivals:
                    break
                time.sleep(0.5)
            else:
                raise AssertionError(
                    f"no notice reached the township's webhook: "
                    f"{receiver.bodies()}\n{stack.output()[-3000:]}"
                )
            leader = token(http, base, "yl-leader", PASSWORD + "x")
            state = http.get(f"{base}/api/v1/issues/{issue_id}", headers=leader).json()
            assert state["level"] == "township" and state["unit"]["code"] == TOWNSHIP, state
            audit = http.get(f"{base}/api/v1/admin/audit", headers=admin).json()["data"]
            actions = {a["action"] for a in audit}
            assert {"user.create", "api_key.create", "channel.set", "channel.test"} <= actions
            assert SECRET not in json.dumps(audit)
            stack.stop_and_assert_stopped()
    finally:
        receiver.server.shutdown()
