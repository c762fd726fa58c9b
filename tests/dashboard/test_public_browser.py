"""The 公示栏 in Debian's Chromium at a phone's viewport (390×844), over a real stack (the
dashboard test's: uvicorn, a time-skipping Temporal server, a worker, SQLite).

A villager's issue, registered with their name, phone and own words, is resolved at the village
and rated; a person then opens ``/``, picks the township and the village, lands on the village's
board, and finds the issue there under the category's neutral wording, with no trace of the
reporter anywhere in the page. axe-core (from ``axe-playwright-python``, no network) finds no
serious or critical violation on any page; screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

from axe_playwright_python.async_playwright import Axe
from sqlmodel import Session

from store.tables import Issue
from tests.dashboard.test_dashboard_browser import ARTIFACTS, CHROMIUM, Stack, pytestmark, stack

__all__ = ["pytestmark", "stack"]  # the marks and the fixture, imported for pytest

TOWNSHIP, VILLAGE = "611025107", "611025107204"  # 高峰镇, 渔坪村委会
CLERK = f"village-{VILLAGE}"
NAME, PHONE = "刘桂兰", "13698765432"
TITLE, DESCRIPTION = "刘桂兰家后面的水沟堵了", "刘桂兰反映：屋后水沟堵塞，电话13698765432"
PRIVATE = (NAME, PHONE, TITLE, DESCRIPTION)
SERIOUS = ("serious", "critical")


async def _closed_issue(stack: Stack) -> Issue:
    api = stack.accounts
    created = await api.post(
        "issues",
        {
            "village_code": VILLAGE,
            "category": "sanitation",
            "title": TITLE,
            "description": DESCRIPTION,
            "reporter": {"name": NAME, "phone": PHONE},
        },
        CLERK,
    )
    ident = created["id"]
    await api.post(f"issues/{ident}/accept", {}, CLERK)
    await api.post(f"issues/{ident}/resolve", {"summary": "已疏通"}, CLERK)
    rating = {"solved": True, "satisfaction": "satisfied", "comment": f"谢谢，{NAME}"}
    credentials = {"tracking_code": created["tracking_code"], "pin": created["pin"]}
    for _ in range(200):  # the resolve reaches the workflow before the rating may follow
        r = await stack.http.post(f"issues/{ident}/feedback", json={**rating, **credentials})
        if r.status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert r.status_code == 200, r.text
    for _ in range(400):
        with Session(stack.engine) as session:
            row = session.get(Issue, ident)
            if row is not None and row.status == "closed" and row.closed_at is not None:
                return row
        await asyncio.sleep(0.05)
    raise AssertionError("the closed issue never reached the read model")


async def _accessible(page: Any, name: str) -> None:
    """No serious or critical axe-core violation; a full-page screenshot either way."""
    await page.screenshot(path=str(ARTIFACTS / f"public-{name}.png"), full_page=True)
    results = await Axe().run(page)
    assert results.response["testEngine"]["name"] == "axe-core"  # it ran, on this page
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]
    assert bad == [], f"{name}: {bad}"


async def test_a_person_finds_a_closed_issue_on_the_village_board(stack: Stack) -> None:
    from playwright.async_api import async_playwright

    issue = await _closed_issue(stack)
    assert issue.closed_at is not None
    month = f"{issue.closed_at.astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m}"
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = await browser.new_page(
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            seen: list[str] = []  # every request and page error: only the app may be asked
            page.on("request", lambda r: seen.append(r.url))
            page.on("pageerror", lambda error: seen.append(f"page error: {error}"))

            await page.goto(f"{stack.base}/")
            assert await page.get_attribute("a[href='/dashboard']", "href") == "/dashboard"
            assert await page.get_attribute("a[href='/m/']", "href") == "/m/"
            await _accessible(page, "landing")

            await page.select_option("select#unit", TOWNSHIP)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"**/?unit={TOWNSHIP}")
            assert "选择村（社区）" in await page.inner_text("form")
            await _accessible(page, "township")

            await page.select_option("select#unit", VILLAGE)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"**/public/{VILLAGE}")
            # The board opens on this month; the issue closed on the test server's clock.
            await page.fill("input#month", month)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"**/public/{VILLAGE}?month={month}")
            heading = await page.inner_text("h1")
            assert heading == "渔坪村委会 公示栏"
            items = await page.locator("ul.items li").all_inner_texts()
            found = [i for i in items if "环境卫生方面的诉求" in i]
            assert found and "村级办结" in found[0] and "满意" in found[0], items
            html, text = await page.content(), await page.inner_text("body")
            for private in PRIVATE:
                assert private not in html and private not in text, private
            await _accessible(page, "village-board")
            assert await page.get_attribute("a[href*='notice.pdf']", "href") == (
                f"/public/{VILLAGE}/notice.pdf?month={month}"
            )
            assert [u for u in seen if not u.startswith(stack.base)] == []
        finally:
            await browser.close()
