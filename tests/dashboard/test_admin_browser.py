"""The admin pages in a real browser (Debian's Chromium, headless) over the real app served by
uvicorn: the county's admin signs in, creates a township leader and a village clerk, issues a
department's API key, sets the township's webhook and sends a test message to a real local
receiver, and reads the audit record; the clerk's first sign-in asks for a new password.
Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session, select

from api.main import create_app
from settings import ROOT, Settings
from store.db import make_engine
from store.tables import ApiKey, ChannelTarget, User
from tests.activities.conftest import TinyHTTPServer
from tests.conftest import seeded_engine, stack_settings

CHROMIUM = Path("/usr/lib/chromium/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
ARTIFACTS = ROOT / "test-artifacts"
TOWNSHIP, VILLAGE = "611025001", "611025001001"
STRONG = "Linkage2026pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, Settings]]:
    data = tmp_path_factory.mktemp("admin-pages")
    port = free_port()
    # Nothing here reaches Temporal: the client connects lazily and is never used.
    settings = stack_settings(data, "admin-pages", temporal_address="127.0.0.1:1")
    engine = seeded_engine(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, engine=engine), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}", settings
    server.should_exit = True
    await serving
    engine.dispose()


async def test_admin_pages(site: tuple[str, Settings]) -> None:
    from playwright.async_api import async_playwright, expect

    base, settings = site
    receiver = TinyHTTPServer()
    await receiver.start()
    leader, clerk = f"yl-leader-{uuid.uuid4().hex[:4]}", f"xc-clerk-{uuid.uuid4().hex[:4]}"
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
            page = await browser.new_page(locale="zh-CN")
            await page.goto(f"{base}/dashboard/admin")
            await page.fill("#username", "county-admin")
            await page.fill("#password", "demo")
            await page.click("#login-submit")
            await expect(page.locator("#who-name")).to_contain_text("镇安县")

            form = page.locator("#user-form")
            await form.locator("[name=username]").fill(leader)
            await form.locator("[name=display_name]").fill("永乐街道书记")
            await form.locator("[name=role]").select_option("leader")
            await form.locator("[name=unit]").fill(TOWNSHIP)
            await form.locator("[name=password]").fill(STRONG)
            await page.click("#user-submit")
            await expect(page.locator("#message")).to_contain_text(f"已新建 {leader}")
            await expect(page.locator("#users-body")).to_contain_text(leader)

            await form.locator("[name=username]").fill(clerk)
            await form.locator("[name=display_name]").fill("新城社区经办人")
            await form.locator("[name=role]").select_option("clerk")
            await form.locator("[name=unit]").fill(VILLAGE)
            await page.click("#user-submit")
            await expect(page.locator("#message")).to_contain_text("临时密码")
            temporary = (await page.locator("#message").inner_text()).split("临时密码：")[1][:12]

            # A unit outside the tree: the refusal is shown, nothing is created.
            await form.locator("[name=username]").fill("nobody-x")
            await form.locator("[name=display_name]").fill("无")
            await form.locator("[name=unit]").fill("999999999999")
            await page.click("#user-submit")
            await expect(page.locator("#message")).to_contain_text("未知的单位代码")

            await page.click("[data-tab=keys]")
            await page.fill("#key-form [name=department]", "zhenan-shuili")
            await page.fill("#key-form [name=name]", "水利局工单系统")
            await page.click("#key-submit")
            await expect(page.locator("#key-shown")).to_contain_text("只显示这一次")
            await expect(page.locator("#keys-body")).to_contain_text("水利局工单系统")

            await page.click("[data-tab=channels]")
            channel = page.locator("#channel-form")
            await channel.locator("[name=owner_code]").fill(TOWNSHIP)
            await channel.locator("[name=url]").fill(receiver.url + "/hook")
            await channel.locator("[name=secret]").fill("township-hmac-secret")
            await page.click("#channel-submit")
            await expect(page.locator("#channels-body")).to_contain_text("永乐街道")
            await page.locator("#channels-body button").first.click()
            await expect(page.locator(".test-result").first).to_contain_text("送达（200）")
            assert len(receiver.requests) == 1
            await page.screenshot(path=str(ARTIFACTS / "admin-channels.png"), full_page=True)

            await page.click("[data-tab=audit]")
            audit = page.locator("#audit-body")
            for action in ("user.create", "api_key.create", "channel.set", "channel.test"):
                await expect(audit).to_contain_text(action)
            assert "township-hmac-secret" not in await audit.inner_text()
            await page.screenshot(path=str(ARTIFACTS / "admin-audit.png"), full_page=True)

            # The clerk's first sign-in asks for a password of their own; the page is not theirs.
            await page.click("#logout")
            await page.fill("#username", clerk)
            await page.fill("#password", temporary)
            await page.click("#login-submit")
            await expect(page.locator("#change-form")).to_be_visible()
            await page.fill("#new-password", STRONG)
            await page.click("#change-submit")
            await expect(page.locator("#login-error")).to_contain_text("仅系统管理员")
            await browser.close()
    finally:
        await receiver.stop()
    engine = make_engine(settings.resolved_database_url)
    with Session(engine) as session:
        made = {u.username: u for u in session.exec(select(User))}
        assert made[leader].unit_code == TOWNSHIP and made[leader].role == "leader"
        assert made[clerk].unit_code == VILLAGE and not made[clerk].must_change_password
        assert "nobody-x" not in made
        assert session.exec(select(ApiKey)).one().department_code == "zhenan-shuili"
        assert session.exec(select(ChannelTarget)).one().secret == "township-hmac-secret"
    engine.dispose()
