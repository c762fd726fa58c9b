"""Channel targets through the admin API: set per unit or department, secrets never read back,
a test send through the real sender to a real local receiver (HTTP, SMTP), the subtree rule."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from aiosmtpd.controller import Controller

from activities.channels.webhook import SIGNATURE_HEADER, sign_webhook
from tests.activities.conftest import SMTPHandler, TinyHTTPServer, free_port
from tests.api.admin_helpers import STRONG, bearer, footprint, token
from tests.api.conftest import OTHER_TOWNSHIP, TOWNSHIP, Api, problem

SECRET = "webhook-hmac-secret-0123456789"


@pytest.fixture
async def receiver() -> AsyncIterator[TinyHTTPServer]:
    server = TinyHTTPServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[SMTPHandler, int]]:
    handler, port = SMTPHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        with contextlib.suppress(Exception):
            controller.stop()


async def test_webhook_target_with_a_test_send(api: Api, receiver: TinyHTTPServer) -> None:
    admin = await api.headers("county-admin")
    body = {
        "owner_kind": "unit",
        "owner_code": TOWNSHIP,
        "channel": "webhook",
        "url": receiver.url + "/hook",
        "secret": SECRET,
    }
    r = await api.http.post("/admin/channels", json=body, headers=admin)
    assert r.status_code == 200, r.text
    target = r.json()
    assert target["has_secret"] and SECRET not in r.text
    assert target["config"] == {"url": receiver.url + "/hook"}

    r = await api.http.post(f"/admin/channels/{target['id']}/test", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] and r.json()["status_code"] == 200
    [sent] = receiver.requests
    assert sent.target == "/hook"
    stamp = sent.headers["x-linkage-timestamp"]
    assert sent.headers[SIGNATURE_HEADER.lower()] == sign_webhook(SECRET, stamp, sent.body)
    assert "测试" in json.loads(sent.body)["title"]

    # A failing receiver: the answer shows what it said, and that a retry would not help.
    receiver.reply(404, "no such hook")
    r = await api.http.post(f"/admin/channels/{target['id']}/test", headers=admin)
    assert r.json() == {
        "ok": False,
        "status_code": 404,
        "detail": "no such hook",
        "permanent": True,
    }

    # Editing without the secret keeps it (it cannot be read back to be sent again).
    r = await api.http.post("/admin/channels", json={**body, "secret": None}, headers=admin)
    assert r.status_code == 200 and r.json()["id"] == target["id"] and r.json()["has_secret"]
    listed = await api.http.get(
        "/admin/channels", params={"owner_kind": "unit", "owner_code": TOWNSHIP}, headers=admin
    )
    assert SECRET not in listed.text and listed.json()["count"] >= 1
    audit = await api.http.get(
        "/admin/audit", headers=admin, params={"target": f"unit:{TOWNSHIP}:webhook"}
    )
    assert SECRET not in audit.text
    actions = [a["action"] for a in audit.json()["data"]]
    assert actions[-3:] == ["channel.test", "channel.test", "channel.set"]


async def test_robots_mask_their_tokens(api: Api, receiver: TinyHTTPServer) -> None:
    admin = await api.headers("county-admin")
    r = await api.http.post(
        "/admin/channels",
        headers=admin,
        json={
            "owner_kind": "department",
            "owner_code": "zhenan-shuili",
            "channel": "dingtalk",
            "url": receiver.url + "/robot/send",
            "token": "dt-token-123",
            "secret": "SECdt",
        },
    )
    assert r.status_code == 200, r.text
    assert "dt-token-123" not in r.text and "access_token=***" in r.json()["config"]["url"]
    result = await api.http.post(f"/admin/channels/{r.json()['id']}/test", headers=admin)
    assert result.json()["ok"], result.text
    assert "access_token=dt-token-123" in receiver.requests[-1].target
    assert "sign=" in receiver.requests[-1].target

    r = await api.http.post(
        "/admin/channels",
        headers=admin,
        json={
            "owner_kind": "unit",
            "owner_code": TOWNSHIP,
            "channel": "wecom",
            "url": receiver.url + "/cgi-bin/webhook/send",
            "key": "wecom-key-9",
        },
    )
    assert r.status_code == 200 and "wecom-key-9" not in r.text
    result = await api.http.post(f"/admin/channels/{r.json()['id']}/test", headers=admin)
    assert result.json()["ok"] and "key=wecom-key-9" in receiver.requests[-1].target


async def test_email_target_with_a_test_send(api: Api, smtp: tuple[SMTPHandler, int]) -> None:
    handler, port = smtp
    admin = await api.headers("county-admin")
    r = await api.http.post(
        "/admin/channels",
        headers=admin,
        json={
            "owner_kind": "unit",
            "owner_code": OTHER_TOWNSHIP,
            "channel": "email",
            "to": ["duty@huilong.example"],
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_from": "linkage@zhenan.example",
        },
    )
    assert r.status_code == 200, r.text
    result = await api.http.post(f"/admin/channels/{r.json()['id']}/test", headers=admin)
    assert result.json()["ok"], result.text
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == ["duty@huilong.example"]


async def test_bad_fields_and_the_subtree(api: Api, receiver: TinyHTTPServer) -> None:
    admin = await api.headers("county-admin")
    r = await api.http.post(
        "/admin/channels",
        headers=admin,
        json={
            "owner_kind": "unit",
            "owner_code": OTHER_TOWNSHIP,
            "channel": "webhook",
            "url": receiver.url,
            "secret": SECRET,
        },
    )
    other_id = r.json()["id"]
    r = await api.http.post(
        "/admin/users",
        headers=admin,
        json={
            "username": "chan-yl-admin",
            "display_name": "永乐管理员",
            "role": "admin",
            "unit": TOWNSHIP,
            "password": STRONG,
        },
    )
    assert r.status_code == 201, r.text
    township = bearer(await token(api.http, "chan-yl-admin"))
    before = footprint(api.engine)
    bad = [
        ({"channel": "webhook", "url": receiver.url}, "secret"),
        ({"channel": "webhook", "url": "ftp://x", "secret": SECRET}, "url"),
        ({"channel": "dingtalk"}, "token"),
        ({"channel": "wecom"}, "key"),
        ({"channel": "email", "to": ["nobody"]}, "to"),
        ({"channel": "sms"}, "channel"),
        (
            {"channel": "webhook", "owner_code": "999", "url": receiver.url, "secret": "s"},
            "owner_code",
        ),
    ]
    for fields, field in bad:
        body = {"owner_kind": "unit", "owner_code": "611025001001", **fields}
        assert (
            problem(await api.http.post("/admin/channels", json=body, headers=admin), 422)["field"]
            == field
        ), fields
    outside = {
        "owner_kind": "unit",
        "owner_code": OTHER_TOWNSHIP,
        "channel": "webhook",
        "url": receiver.url,
        "secret": SECRET,
    }
    assert problem(await api.http.post("/admin/channels", json=outside, headers=township), 403)
    department = {**outside, "owner_kind": "department", "owner_code": "zhenan-shuili"}
    assert problem(await api.http.post("/admin/channels", json=department, headers=township), 403)
    assert problem(await api.http.post(f"/admin/channels/{other_id}/test", headers=township), 403)
    listed = (await api.http.get("/admin/channels", headers=township)).json()["data"]
    assert all(t["owner_code"].startswith(TOWNSHIP) for t in listed)
    for user in ("county-supervisor", "county-clerk", "dept-zhenan-shuili"):
        headers = await api.headers(user)
        assert problem(await api.http.post("/admin/channels", json=outside, headers=headers), 403)
        assert problem(
            await api.http.post(f"/admin/channels/{other_id}/test", headers=headers), 403
        )
    assert footprint(api.engine) == before
    assert len(receiver.requests) == 0
