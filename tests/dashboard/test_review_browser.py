"""The review page (``/dashboard/review``) in Debian's Chromium, over the dashboard test's stack.

A village marks one issue a duplicate of another and one spam; the county supervisor signs in,
finds both in the list of invalid marks with their reasons and the duplicate's link to the issue
it repeats, overturns the duplicate (it runs again at the village) and upholds the spam (final),
each through the API's review. The village's clerk then reads the topics villagers proposed,
with the phone number only the village sees; a township leader reads them masked. Screenshots go
to ``test-artifacts/``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from store.tables import Issue
from tests.dashboard.test_dashboard_browser import ARTIFACTS, CHROMIUM, Stack, pytestmark, stack

__all__ = ["pytestmark", "stack"]  # the marks and the fixture, imported for pytest

TOWNSHIP, VILLAGE = "611025108", "611025108202"  # 青铜关镇 · 青梅村委会: no other browser test's
CLERK = f"village-{VILLAGE}"
PHONE = "13698765432"


async def _issue(stack: Stack, title: str) -> dict[str, Any]:
    body = {"village_code": VILLAGE, "category": "环境卫生", "title": title, "description": title}
    return {**await stack.accounts.post("issues", body, CLERK), "title": title}


async def _mark(stack: Stack, issue: dict[str, Any], **mark: Any) -> None:
    await stack.accounts.post(f"issues/{issue['id']}/invalid", mark, CLERK)
    await stack.until(lambda: _row(stack, issue["id"]).invalid_kind is not None, "the mark")


def _row(stack: Stack, issue_id: str) -> Issue:
    with Session(stack.engine) as session:
        row = session.get(Issue, issue_id)
    assert row is not None
    return row


async def _sign_in(page: Any, stack: Stack, username: str) -> None:
    await page.goto(f"{stack.base}/dashboard/review")
    await page.wait_for_selector("#login-view:not([hidden])")
    await page.fill("#username", username)
    await page.fill("#password", "demo")
    await page.click("#login-submit")
    await page.wait_for_selector("#app-view:not([hidden])")


async def test_supervisors_review_invalid_marks_and_a_village_reads_its_topics(
    stack: Stack,
) -> None:
    from playwright.async_api import async_playwright

    tag = uuid.uuid4().hex[:4]
    first = await _issue(stack, f"青梅村水渠堵塞 {tag}")
    repeat = await _issue(stack, f"水渠又堵了 {tag}")
    spam = await _issue(stack, f"推销广告 {tag}")
    await _mark(
        stack, repeat, kind="duplicate", reason="同一段水渠", duplicate_of=first["tracking_code"]
    )
    await _mark(stack, spam, kind="spam", reason="广告内容")
    topic = {"village_code": VILLAGE, "title": f"修建村口停车场 {tag}", "phone": PHONE}
    answer = await stack.http.post("public/topics", json=topic)
    assert answer.status_code == 201, answer.text

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await _sign_in(page, stack, "county-supervisor")
            repeated = page.locator(f"#invalid-table tr[data-issue-id='{repeat['id']}']")
            await repeated.wait_for()
            text = await repeated.inner_text()
            assert "重复提交" in text and "同一段水渠" in text and "青梅村委会" in text
            link = repeated.get_by_role("link", name=first["tracking_code"])
            assert await link.get_attribute("href") == f"/dashboard/issues/{first['id']}"
            spammed = page.locator(f"#invalid-table tr[data-issue-id='{spam['id']}']")
            assert "广告内容" in await spammed.inner_text()
            await page.screenshot(path=str(ARTIFACTS / "review-invalid.png"), full_page=True)

            await repeated.get_by_label(f"复核意见：{repeat['title']}").fill("不是同一段")
            await repeated.get_by_role("button", name="撤销标记").click()
            await page.wait_for_selector("#message:has-text('恢复办理')")
            await stack.until(
                lambda: _row(stack, repeat["id"]).status == "pending_accept", "the overturn"
            )
            row = _row(stack, repeat["id"])
            assert (row.unit_code, row.invalid_kind) == (VILLAGE, None)

            await spammed.get_by_role("button", name="确认无效").click()
            await page.wait_for_selector("#message:has-text('已确认')")
            await stack.until(lambda: _row(stack, spam["id"]).closed_at is not None, "the uphold")
            assert _row(stack, spam["id"]).status == "invalid"
            # Read again, the upheld mark stands with no buttons; the overturned one is gone.
            await page.reload()
            await spammed.wait_for()
            assert "已确认（无效）" in await spammed.inner_text()
            assert await spammed.get_by_role("button").count() == 0
            assert await repeated.count() == 0

            # A township leader picks the village: the phone is masked above the village.
            await page.click("#logout")
            await _sign_in(page, stack, f"township-{TOWNSHIP}")
            await page.fill("#topics-village", VILLAGE)
            await page.click("#topics-form button[type=submit]")
            proposed = page.locator("#topics-table tr", has_text=topic["title"])
            await proposed.wait_for()
            assert PHONE not in await proposed.inner_text()
            assert f"{PHONE[:3]}****{PHONE[-4:]}" in await proposed.inner_text()

            # The village's own clerk sees its villagers' topics at once, phone and all.
            await page.click("#logout")
            await _sign_in(page, stack, CLERK)
            await proposed.wait_for()
            assert PHONE in await proposed.inner_text() and "待议" in await proposed.inner_text()
            assert await page.input_value("#topics-village") == VILLAGE
            await page.screenshot(path=str(ARTIFACTS / "review-topics.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()
