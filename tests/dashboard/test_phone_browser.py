"""The phone pages in Debian's Chromium at 390×844, over the dashboard test's real stack.

A villager reports an issue on ``/m/report``, reads the tracking code and PIN from the page,
tracks it on ``/m/track``, and rates it after the village resolves it; axe-core (from
``axe-playwright-python``, no network) finds no serious or critical violation on any page, and
screenshots go to ``test-artifacts/``. A grid worker registers an issue and a patrol entry on
``/m/field`` with the network cut: both wait in the phone's queue and reach the server exactly
once when the network is back. A household votes in a village's poll on ``/m/poll`` with the
code on its slip; the same code again is refused with a clear message, another is counted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from axe_playwright_python.async_playwright import Axe
from sqlmodel import Session, col, func, select

from store.tables import Deliberation, Issue, PatrolLog
from tests.dashboard.test_dashboard_browser import ARTIFACTS, CHROMIUM, Stack, pytestmark, stack

__all__ = ["pytestmark", "stack"]  # the marks and the fixture, imported for pytest

TOWNSHIP, VILLAGE = "611025107", "611025107204"  # 高峰镇, 渔坪村委会
CLERK = f"village-{VILLAGE}"
# Polls at a village no other browser test touches: 米粮镇 · 丰河村委会.
POLL_TOWNSHIP, POLL_VILLAGE = "611025104", "611025104201"
SERIOUS = ("serious", "critical")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}  # fmt: skip


async def _accessible(page: Any, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
    results = await Axe().run(page)
    assert results.response["testEngine"]["name"] == "axe-core"
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]
    assert bad == [], f"{name}: {bad}"


@asynccontextmanager
async def _phone_page() -> AsyncIterator[tuple[Any, list[str]]]:
    """A page in Debian's Chromium at the phone's size, and every URL it requested (and any
    error it threw): a test asserts nothing left the app."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = await browser.new_page(**PHONE)
            seen: list[str] = []
            page.on("request", lambda r: seen.append(r.url))
            page.on("pageerror", lambda error: seen.append(f"page error: {error}"))
            yield page, seen
        finally:
            await browser.close()


async def test_first_page_is_small(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base, trust_env=False) as http:
        sizes = [
            len((await http.get(path)).content)
            for path in ("/m/", "/m/static/phone.css", "/m/static/phone.js")
        ]
    assert sum(sizes) < 100_000, sizes


async def test_a_villager_reports_tracks_and_rates_on_the_phone(stack: Stack) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with _phone_page() as (page, seen):
        await page.goto(f"{stack.base}/m/")
        await _accessible(page, "home")
        await page.click("a[href='/m/report']")
        await page.wait_for_url("**/m/report")
        await page.wait_for_selector(f"#township option[value='{TOWNSHIP}']", state="attached")
        await page.select_option("#township", TOWNSHIP)
        await page.select_option("#village", VILLAGE)
        await page.select_option("#category", "sanitation")
        await page.fill("#description", "三组路口的垃圾池满了，没人清运")
        await page.fill("#location", "三组路口")
        await page.fill("#attachments", "https://example.org/photo/1.jpg")
        await page.fill("#phone", "13512345678")
        await _accessible(page, "report")
        await page.click("button[type=submit]")
        await page.wait_for_selector("#report-done", state="visible")
        code = (await page.inner_text("#tracking-code")).strip()
        pin = (await page.inner_text("#pin")).strip()
        assert code and len(pin) == 6
        await _accessible(page, "reported")

        with Session(stack.engine) as session:
            row = session.exec(select(Issue).where(Issue.tracking_code == code)).one()
        assert row.channel == "app" and row.reporter_phone == "13512345678"
        await stack.accounts.post(f"issues/{row.id}/accept", {}, CLERK)
        await stack.accounts.post(f"issues/{row.id}/resolve", {"summary": "已清运"}, CLERK)

        await page.goto(f"{stack.base}/m/track")
        await page.fill("#code", code)
        await page.fill("#pin-input", pin)
        await page.click("#track-form button[type=submit]")
        await page.wait_for_selector("#feedback-form", state="visible")
        assert "待评价" in await page.inner_text("#issue-status")
        assert "渔坪村委会" in await page.inner_text("#issue-where")
        timeline = await page.inner_text("#timeline")
        assert "登记受理" in timeline and "办结：已清运" in timeline
        # Where the issue went, in words: the unit, never the event's code word.
        assert "流转到达：渔坪村委会" in timeline and "registered" not in timeline
        assert "13512345678" not in await page.content()  # masked even to the reporter
        await _accessible(page, "track")
        await page.check("input[name=solved][value=true]")
        await page.check("input[name=satisfaction][value=satisfied]")
        await page.fill("#comment", "很快")
        await page.click("#feedback-form button[type=submit]")
        # (wait_for_function evaluates a string, which the pages' CSP forbids)
        await page.wait_for_selector("#issue-status:has-text('已办结')")
        await _accessible(page, "rated")
        assert [u for u in seen if not u.startswith(stack.base)] == []


def _count(stack: Stack, title: str) -> tuple[int, int]:
    with Session(stack.engine) as session:
        issues = session.exec(select(func.count()).where(col(Issue.title) == title)).one()
        logs = session.exec(select(func.count()).where(col(PatrolLog.place) == title)).one()
    return issues, logs


async def test_the_field_page_queues_without_a_signal_and_sends_once(stack: Stack) -> None:
    from playwright.async_api import async_playwright

    title = f"巡查发现：护坡松动 {uuid.uuid4().hex[:6]}"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = await browser.new_context(**PHONE)
            page = await context.new_page()
            await page.goto(f"{stack.base}/m/field")
            await page.fill("#username", CLERK)
            await page.fill("#password", "demo")
            await page.click("#login-form button[type=submit]")
            await page.wait_for_selector("#field", state="visible")
            await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
            await page.wait_for_selector(f"#township option[value='{TOWNSHIP}']", state="attached")
            await _accessible(page, "field")

            await context.set_offline(True)
            # Reopened without a signal: the service worker serves the page, the queue survives.
            await page.reload()
            await page.wait_for_selector("#field", state="visible")
            await page.wait_for_selector(f"#township option[value='{TOWNSHIP}']", state="attached")
            await page.select_option("#township", TOWNSHIP)
            await page.select_option("#village", VILLAGE)
            await page.select_option("#field-category", "sanitation")
            await page.fill("#field-title", title)
            await page.fill("#field-description", "河堤护坡有一段松动，雨季有垮塌风险")
            await page.click("#field-form button[type=submit]")
            await page.fill("#patrol-place", title)
            await page.click("#patrol-form button[type=submit]")
            await page.wait_for_selector("#queue:has-text('待发送 2 条')")
            assert "离线" in await page.inner_text("#net")
            await page.screenshot(path=str(ARTIFACTS / "phone-field-offline.png"), full_page=True)
            await asyncio.sleep(1)
            assert _count(stack, title) == (0, 0)

            await context.set_offline(False)
            await page.wait_for_selector("#queue:has-text('全部已发送')", timeout=30_000)
            assert "已登记" in await page.inner_text("#sent")
            await page.screenshot(path=str(ARTIFACTS / "phone-field-sent.png"), full_page=True)
            # The queue sent again (a lost answer) changes nothing: the keys are the same.
            await page.evaluate("flush()")
            await asyncio.sleep(1)
            assert _count(stack, title) == (1, 1)
            with Session(stack.engine) as session:
                row = session.exec(select(Issue).where(Issue.title == title)).one()
            assert row.channel == "grid" and row.village_code == VILLAGE
        finally:
            await browser.close()


async def _open_poll(stack: Stack, village: str) -> tuple[str, list[str]]:
    """A poll the village opened, in the read model (the phone page lists it from there), and
    household codes the village handed out."""
    r = await stack.http.post(
        "admin/households",
        json={"village": village, "count": 2},
        headers=await stack.accounts.headers("county-admin"),
    )
    assert r.status_code == 201, r.text
    households = [h["code"] for h in r.json()["data"]]
    topic = f"村口路灯安装位置 {uuid.uuid4().hex[:4]}"
    opened = await stack.accounts.post(
        "deliberations",
        {"unit": village, "topic": topic, "kind": "poll", "options": ["村委会门口", "小学路口"]},
        f"village-{village}",
    )
    await stack.until(lambda: _poll_listed(stack, opened["id"]), "the poll in the read model")
    return topic, households


def _poll_listed(stack: Stack, deliberation_id: str) -> bool:
    with Session(stack.engine) as session:
        row = session.get(Deliberation, deliberation_id)
    return row is not None and row.status == "open"


async def _vote(page: Any, stack: Stack, topic: str, household: str, option: str) -> str:
    await page.goto(f"{stack.base}/m/poll")
    await page.wait_for_selector(f"#township option[value='{POLL_TOWNSHIP}']", state="attached")
    await page.select_option("#township", POLL_TOWNSHIP)
    await page.select_option("#village", POLL_VILLAGE)
    form = page.locator("#polls form", has_text=topic)
    await form.wait_for()
    await form.get_by_label(option).check()
    await form.get_by_label("户码").fill(household)
    await form.get_by_role("button", name="投票").click()
    await page.wait_for_selector("#poll-result:not(:empty)")
    return (await page.inner_text("#poll-result")).strip()


async def test_a_household_votes_once_on_the_phone_and_a_second_vote_is_refused(
    stack: Stack,
) -> None:
    topic, households = await _open_poll(stack, POLL_VILLAGE)
    async with _phone_page() as (page, seen):
        await page.goto(f"{stack.base}/m/")
        await page.click("a[href='/m/poll']")
        await page.wait_for_url("**/m/poll")
        # Lower case and spaces, as people type a code read off a slip.
        typed = f" {households[0].lower()} "
        assert await _vote(page, stack, topic, typed, "小学路口") == "已投票：小学路口"
        await _accessible(page, "poll-voted")
        # The same household again, from a fresh page and for the other option: refused.
        answer = await _vote(page, stack, topic, households[0], "村委会门口")
        assert answer == "该户已投票，每户限一票"
        assert await page.locator("#polls form", has_text=topic).is_visible()
        await _accessible(page, "poll-refused")
        # Another household's ballot counts.
        assert await _vote(page, stack, topic, households[1], "村委会门口") == (
            "已投票：村委会门口"
        )
        assert [u for u in seen if not u.startswith(stack.base)] == []
