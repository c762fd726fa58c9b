"""The dashboard in a real browser over a real stack.

uvicorn serves the app on a free port; a time-skipping Temporal server and a worker run the
issues; ``simulation`` plays urgent workloads through HTTP, and skipping the test server's clock
turns the open ones into warnings (2 h of an urgent village's 4 h) and overdue issues (past the
county's deadline after 4 + 8 + 24 h). Chromium (Debian's, headless) then signs in as the county
supervisor, checks every chart has data and the 三率's feedback split by who recorded it,
filters by a township, watches the lists refresh live
and opens an issue's timeline. A second test opens deliberations in each state through the API
(one about an issue, one implemented past its due) and checks the deliberations view, its
township filter, a deliberation's timeline, and the link from the issue's timeline to it.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from rich.console import Console
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from domain import search_attributes
from domain.payloads import DATA_CONVERTER
from settings import ROOT, Settings
from simulation.workload import Accounts, WorkloadConfig, run_workload
from store.deliberation_tables import Deliberation
from store.tables import Issue, IssueDepartment, IssueLevel, Unit
from tests.conftest import seeded_engine, stack_settings
from workers.main import build_worker

CHROMIUM = Path("/usr/lib/chromium/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-wqy-microhei)",
    ),
]
ARTIFACTS = ROOT / "test-artifacts"
CHARTS = (
    "chart-open-by-level",
    "chart-funnel",
    "chart-share",
    "chart-on-time",
    "chart-rates",
    "chart-trend",
)
RUNNING = ("pending_accept", "in_progress")  # clocks running: what the alert lists show
# Open shares are high so that warnings and overdue issues appear; every issue is urgent, so the
# deadlines are natural hours rather than working days (no calendar in the arithmetic).
SHARES = (0.4, 0.15, 0.1, 0.35, 0.0)
VILLAGES = 6  # few accounts to sign in (argon2 costs about half a second each on two cores)


@dataclass
class Stack:
    base: str
    engine: Engine
    env: WorkflowEnvironment
    http: httpx.AsyncClient
    accounts: Accounts
    settings: Settings

    async def simulate(
        self, count: int, seed: int, shares: tuple[float, float, float, float, float] = SHARES
    ) -> list[str]:
        config = WorkloadConfig(
            count=count,
            rate=1000,
            seed=seed,
            villages=VILLAGES,
            urgent_share=1.0,
            fate_shares=shares,
            whistle_share=0.5,
            concurrency=8,
        )
        report = await run_workload(self.http, config, Console(quiet=True), self.accounts)
        assert report.failed == 0, report.errors
        return report.issue_ids

    def alerts(self) -> tuple[list[Issue], list[Issue]]:
        """(warned, overdue) issues in the read model whose clocks still run."""
        with Session(self.engine) as session:
            rows = session.exec(select(Issue).where(col(Issue.status).in_(RUNNING))).all()
        warned = [r for r in rows if r.warnings_sent and not r.overdue]
        return warned, [r for r in rows if r.overdue]

    def snapshot(self) -> set[tuple[str, int]]:
        with Session(self.engine) as session:
            return {(i.id, i.last_seq) for i in session.exec(select(Issue))}

    async def settle(self) -> None:
        """Wait until the read model has not changed for a second (the worker caught up)."""
        before = self.snapshot()
        for _ in range(30):
            await asyncio.sleep(1)
            now = self.snapshot()
            if now == before:
                return
            before = now
        raise AssertionError("the read model kept changing")

    async def until(self, predicate: Any, what: str, seconds: float = 20) -> None:
        for _ in range(int(seconds / 0.1)):
            if predicate():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")


def _binary(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} not installed: run `uv sync`")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    data = tmp_path_factory.mktemp("dashboard")
    port = _free_port()
    settings = stack_settings(data, "dashboard", public_url=f"http://127.0.0.1:{port}")
    engine = seeded_engine(settings)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=DATA_CONVERTER,
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
                for key in search_attributes.ALL
            },
        )
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, temporal=env.client, engine=engine),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as worker_http:
            worker = build_worker(
                env.client,
                settings,
                engine,
                worker_http,
            )
            async with worker:
                serving = asyncio.create_task(server.serve())
                while not server.started:
                    assert not serving.done(), "uvicorn did not start"
                    await asyncio.sleep(0.05)
                async with httpx.AsyncClient(
                    base_url=f"{base}/api/v1/", timeout=30, trust_env=False
                ) as http:
                    yield Stack(base, engine, env, http, Accounts(http, "demo"), settings)
                server.should_exit = True
                await serving
    finally:
        await env.shutdown()
        engine.dispose()


@pytest.fixture(scope="module")
async def seeded(stack: Stack) -> Stack:
    """Overdue issues from a first workload, warned ones from a second."""
    await stack.simulate(16, seed=21)
    await stack.env.sleep(timedelta(hours=40))
    await stack.simulate(10, seed=22)
    await stack.env.sleep(timedelta(hours=2, minutes=30))
    await stack.until(lambda: all(stack.alerts()), "warned and overdue issues in the read model")
    await stack.settle()
    return stack


async def _chart_data(page: Any, chart: str) -> dict[str, int]:
    """How many SVG roots and drawn traces the chart has, and how many non-zero data values."""
    counts: dict[str, int] = await page.evaluate(
        """(id) => {
            const gd = document.getElementById(id);
            const values = (gd._fullData || []).flatMap(
                (t) => (t.values || (t.orientation === "h" ? t.x : t.y) || []));
            return {
                svg: gd.querySelectorAll(".main-svg").length,
                traces: gd.querySelectorAll("g.trace, g.slice").length,
                values: values.filter((v) => v !== null && v !== 0).length,
            };
        }""",
        chart,
    )
    return counts


async def _rows(page: Any, table: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = await page.evaluate(
        """(id) => [...document.querySelectorAll(`#${id} tbody tr[data-issue-id]`)].map((tr) => ({
            id: tr.dataset.issueId, township: tr.cells[2].textContent }))""",
        table,
    )
    return rows


@asynccontextmanager
async def _chromium(base: str) -> AsyncIterator[tuple[Any, list[str]]]:
    """A page of Debian's Chromium in the county's zone and language, and the list of what went
    wrong on it: page errors, console errors, and any request that left the app."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield await _watched_page(browser, base)
        finally:
            await browser.close()


async def _watched_page(browser: Any, base: str) -> tuple[Any, list[str]]:
    page = await browser.new_page(
        viewport={"width": 1440, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    problems: list[str] = []

    def outside(request: Any) -> None:
        if not request.url.startswith(base):
            problems.append(request.url)

    def console(message: Any) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", console)
    page.on("request", outside)
    return page, problems


async def _sign_in(page: Any, base: str, password: str) -> None:
    """The county supervisor signs in on the dashboard's form."""
    await page.goto(f"{base}/dashboard")
    await page.fill("#username", "county-supervisor")
    await page.fill("#password", password)
    await page.click("#login-submit")


async def test_dashboard_in_chromium(seeded: Stack) -> None:
    stack = seeded
    warned, overdue = stack.alerts()
    # The workload's citizens rate their own issues; one closed issue's feedback becomes a
    # supervisor's phone 回访 (as staff's callback writes it), its workflow long finished.
    with Session(stack.engine) as session:
        rated = session.exec(
            select(Issue).where(col(Issue.feedback_satisfaction).is_not(None))
        ).all()
        called_back = next(i for i in rated if i.status == "closed")
        called_back.feedback_by_role = "supervisor"
        session.add(called_back)
        session.commit()
        township = session.get(Unit, called_back.township_code)
        assert township is not None
        township_name = township.name
    ARTIFACTS.mkdir(exist_ok=True)
    async with _chromium(stack.base) as (page, problems):
        # Sign in.
        await _sign_in(page, stack.base, "wrong")
        await page.wait_for_selector("#login-error:has-text('用户名或密码错误')")
        assert all("401" in p for p in problems), problems  # only that refusal
        problems.clear()
        await page.fill("#password", "demo")
        await page.click("#login-submit")
        await page.wait_for_selector("#app-view:not([hidden])")
        await page.wait_for_selector("#who-name:has-text('督查')")
        assert await page.evaluate("!!sessionStorage.getItem('linkage.token')")

        # Every chart is drawn, with data.
        for chart in CHARTS:
            await page.wait_for_selector(f"#{chart} .main-svg", timeout=15_000)
            drawn = await _chart_data(page, chart)
            assert drawn["svg"] >= 1 and drawn["traces"] >= 1, (chart, drawn)
            assert drawn["values"] >= 1, (chart, drawn)
        assert await page.text_content("#kpi-overdue") == str(len(overdue))
        # The county's feedback: the citizens' own and the supervisor's 回访, and per
        # township in the red list.
        split = f"回访评价 {len(rated)} 件：群众自评 {len(rated) - 1}，回访录入 1（督查 1）"
        assert split in (await page.text_content("#feedback-by") or "")
        headers = await page.locator("#red-list thead th").all_text_contents()
        assert headers[-2:] == ["群众自评", "回访录入"]
        row = page.locator("#red-list tbody tr", has_text=township_name)
        assert (await row.locator("td").all_text_contents())[-1] == "1"
        assert await row.locator("td").last.get_attribute("title") == "督查 1"

        # The lists show what the read model holds.
        await page.wait_for_function(
            "([w, o]) => document.querySelector('#warning-count').textContent === String(w)"
            " && document.querySelector('#overdue-count').textContent === String(o)",
            arg=[len(warned), len(overdue)],
        )
        assert {r["id"] for r in await _rows(page, "overdue-list")} == {i.id for i in overdue}
        await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # Live: a new urgent issue left open is warned within 4 h 30 min (half of its
        # village's 4 h, or of the township's 8 h), and shows up without a reload.
        fresh = await stack.simulate(1, seed=23, shares=(0, 0, 0, 1, 0))
        await stack.env.sleep(timedelta(hours=4, minutes=30))
        await page.wait_for_selector(f"#warning-list tr[data-issue-id='{fresh[0]}']")

        # Filter by a township: only its issues remain in both lists.
        await stack.settle()
        warned, overdue = stack.alerts()
        by_township = Counter(i.township_code for i in warned + overdue)
        code, expected = by_township.most_common()[-1]
        with Session(stack.engine) as session:
            unit = session.get(Unit, code)
            assert unit is not None
            name = unit.name
        await page.select_option("#filter-township", code)
        await page.wait_for_function(
            "(n) => Number(document.querySelector('#warning-count').textContent)"
            " + Number(document.querySelector('#overdue-count').textContent) === n",
            arg=expected,
        )
        shown = await _rows(page, "warning-list") + await _rows(page, "overdue-list")
        assert len(shown) == expected < len(warned) + len(overdue)
        assert {r["township"] for r in shown} == {name}
        await page.wait_for_selector(f"#scope:has-text('{name}')")
        await page.wait_for_selector("#rates-title:has-text('各村（社区）三率')")

        # An overdue issue's timeline: three levels, the events, the chart of stays. One that
        # timed out at the village and the township (the workload's people also escalate some
        # on request, and which row comes first depends on the machine's pace).
        await page.select_option("#filter-township", "")
        listed = [r["id"] for r in await _rows(page, "overdue-list")]
        with Session(stack.engine) as session:
            timeouts = Counter(
                session.exec(
                    select(IssueLevel.issue_id).where(
                        col(IssueLevel.issue_id).in_(listed),
                        IssueLevel.outcome == "escalated_on_timeout",
                    )
                ).all()
            )
        first = next((i for i in listed if timeouts[i] == 2), None)
        assert first is not None, f"no overdue issue timed out twice: {timeouts}"
        await page.click(f"#overdue-list tr[data-issue-id='{first}']")
        await page.wait_for_selector("#issue-modal:not([hidden]) #issue-levels")
        assert page.url.endswith(f"/dashboard/issues/{first}")
        assert await page.locator("#issue-levels tbody tr").count() == 3
        levels = await page.text_content("#issue-levels") or ""
        assert levels.count("超时上报") == 2 and "县级" in levels
        events = await page.locator("#issue-events li").all_text_contents()
        assert any("超期" in e for e in events) and any("超时上报" in e for e in events)
        await page.set_viewport_size({"width": 1440, "height": 2400})
        await page.locator("#issue-modal .modal-box").screenshot(
            path=str(ARTIFACTS / "dashboard-issue.png")
        )
        await page.set_viewport_size({"width": 1440, "height": 1000})
        await page.wait_for_selector("#chart-issue-levels .main-svg")
        assert (await _chart_data(page, "chart-issue-levels"))["values"] >= 3
        await page.click("#issue-close")
        assert page.url.endswith("/dashboard")

        # A deep link (as in notifications) to an issue with departments called in.
        with Session(stack.engine) as session:
            called = session.exec(select(IssueDepartment)).first()
            assert called is not None
        await page.goto(f"{stack.base}/dashboard/issues/{called.issue_id}")
        await page.wait_for_selector("#issue-modal:not([hidden]) #issue-departments tbody tr")
        assert "报到" in (await page.text_content("#issue-events") or "")

        assert problems == []


DELIBERATING = "611025001001"  # 新城社区, 永乐街道
ELSEWHERE = "611025101001"  # a village of 回龙镇: another township
ATTENDED = {"expected": 25, "present": 20}
VOTED = {"for": 15, "against": 3, "abstain": 1}


async def _deliberation(stack: Stack, village: str, **fields: Any) -> str:
    clerk = await stack.accounts.headers(f"village-{village}")
    body = {"unit": village, "topic": "议事", "kind": "representatives_meeting", **fields}
    r = await stack.http.post("deliberations", json=body, headers=clerk)
    assert r.status_code == 201, r.text
    ident: str = r.json()["id"]
    return ident


async def _act(stack: Stack, ident: str, action: str, body: dict[str, Any]) -> None:
    clerk = await stack.accounts.headers(f"village-{DELIBERATING}")
    r = await stack.http.post(f"deliberations/{ident}/{action}", json=body, headers=clerk)
    assert r.status_code == 200, r.text


def _closing(outcome: str, due: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "outcome": outcome,
        "attendance": ATTENDED,
        "votes": VOTED,
        "summary": "会议纪要",
    }
    if due is not None:
        body["decision"] = {"text": "硬化村道两公里", "responsible_unit": DELIBERATING, "due": due}
    return body


async def _deliberations_in_every_state(stack: Stack) -> dict[str, str]:
    """One deliberation per list (the open one about an issue), one in another township."""
    clerk = await stack.accounts.headers(f"village-{DELIBERATING}")
    r = await stack.http.post(
        "issues",
        json={
            "village_code": DELIBERATING,
            "category": "sanitation",
            "title": "村道垃圾堆放",
            "description": "路边垃圾堆放多日无人清运",
        },
        headers=clerk,
    )
    assert r.status_code == 201, r.text
    made = {"issue": r.json()["id"]}
    made["open"] = await _deliberation(
        stack, DELIBERATING, topic="垃圾清运点选址", issue_id=made["issue"]
    )
    made["submitted"] = await _deliberation(stack, DELIBERATING, topic="村集体土地流转")
    await _act(stack, made["submitted"], "close_round", _closing("hard"))
    made["late"] = await _deliberation(stack, DELIBERATING, topic="村道硬化选线")
    await _act(stack, made["late"], "close_round", _closing("consensus", due="PT1H"))
    await _act(stack, made["late"], "progress", {"percent": 40, "note": "已开工"})
    made["done"] = await _deliberation(stack, DELIBERATING, topic="路灯安装")
    await _act(stack, made["done"], "close_round", _closing("consensus", due={"working_days": 20}))
    await _act(stack, made["done"], "complete", {"summary": "路灯已安装"})
    made["elsewhere"] = await _deliberation(stack, ELSEWHERE, topic="回龙镇议题")
    # Past the implementation's hour: overdue, reminded, and shown in red.
    await stack.env.sleep(timedelta(hours=2))

    def recorded() -> bool:
        with Session(stack.engine) as session:
            late = session.get(Deliberation, made["late"])
            done = session.get(Deliberation, made["done"])
            return bool(late and late.overdue and done and done.status == "awaiting_evaluation")

    await stack.until(recorded, "the overdue implementation and the completion recorded")

    async def issue_knows() -> bool:
        detail = await stack.accounts.get(f"issues/{made['issue']}", f"village-{DELIBERATING}")
        return any(e["type"] == "deliberation" for e in detail["events"])

    for _ in range(100):
        if await issue_knows():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the issue did not record its deliberation")
    return made


async def _listed(page: Any, status: str) -> list[str]:
    ids: list[str] = await page.evaluate(
        """(s) => [...document.querySelectorAll(`#dl-${s} tbody tr[data-deliberation-id]`)]
            .map((tr) => tr.dataset.deliberationId)""",
        status,
    )
    return ids


async def test_deliberations_in_chromium(stack: Stack) -> None:
    made = await _deliberations_in_every_state(stack)
    stats = await stack.accounts.get("deliberations/stats", "county-supervisor")
    with Session(stack.engine) as session:
        township = session.get(Unit, DELIBERATING[:9])
        assert township is not None
        township_name = township.name
    ARTIFACTS.mkdir(exist_ok=True)
    async with _chromium(stack.base) as (page, problems):
        await _sign_in(page, stack.base, "demo")
        await page.wait_for_selector("#app-view:not([hidden]) #chart-open-by-level .main-svg")

        # The view: each deliberation in its list, the counts from the statistics.
        await page.click("#views a[data-view='deliberations']")
        assert page.url.endswith("/dashboard/deliberations")
        await page.wait_for_selector(f"#dl-open tr[data-deliberation-id='{made['open']}']")
        assert await page.is_hidden("#issues-view") and await page.is_hidden("#filter-category")
        for status, key in (
            ("open", "elsewhere"),
            ("submitted", "submitted"),
            ("implementing", "late"),
            ("awaiting_evaluation", "done"),
        ):
            assert made[key] in await _listed(page, status), status
            count = await page.text_content(f"#dl-{status}-count")
            assert count == str(stats["by_status"][status]), status
        assert await page.text_content("#dl-kpi-overdue") == str(stats["overdue"])
        row = "tr[data-deliberation-id='{}']"
        submitted = page.locator(f"#dl-submitted {row.format(made['submitted'])}")
        assert "剩余" in (await submitted.locator("td").last.text_content() or "")
        late = page.locator(f"#dl-implementing {row.format(made['late'])}")
        assert "late-row" in (await late.get_attribute("class") or "")
        cells = await late.locator("td").all_text_contents()
        assert cells[3] == "40%" and cells[5].startswith("已超")
        color = await late.locator("td").last.evaluate("(td) => getComputedStyle(td).color")
        assert color == "rgb(210, 60, 60)"  # --red
        await page.screenshot(path=str(ARTIFACTS / "dashboard-deliberations.png"), full_page=True)

        # Filtered by the township: the other township's deliberation leaves the list.
        await page.select_option("#filter-township", DELIBERATING[:9])
        await page.wait_for_function(
            "(id) => !document.querySelector(`#dl-open tr[data-deliberation-id='${id}']`)",
            arg=made["elsewhere"],
        )
        assert made["open"] in await _listed(page, "open")
        assert township_name in (await page.text_content("#filter-township") or "")

        # A deliberation's timeline: its round, decision, progress and events.
        await late.click()
        await page.wait_for_selector("#deliberation-modal:not([hidden]) #deliberation-rounds")
        assert page.url.endswith(f"/dashboard/deliberations/{made['late']}")
        rounds = page.locator("#deliberation-rounds tbody tr")
        assert await rounds.count() == 1
        first = await rounds.first.locator("td").all_text_contents()
        assert first[4] == "达成共识" and first[5] == "20/25"
        assert first[6] == "赞成 15 · 反对 3 · 弃权 1"
        decision = await page.text_content("#deliberation-decision") or ""
        assert "硬化村道两公里" in decision and "40%" in decision and "已超期" in decision
        events = await page.locator("#deliberation-events li").all_text_contents()
        assert any("本轮结束：达成共识" in e for e in events)
        assert any("落实进展" in e and "进度 40%" in e for e in events)
        assert any("落实超期" in e for e in events)
        await page.locator("#deliberation-modal .modal-box").screenshot(
            path=str(ARTIFACTS / "dashboard-deliberation.png")
        )
        await page.click("#deliberation-close")
        assert page.url.endswith("/dashboard/deliberations")

        # The issue's timeline shows its deliberation and leads to it.
        await page.goto(f"{stack.base}/dashboard/issues/{made['issue']}")
        link = page.locator("#issue-events .deliberation-link")
        await link.wait_for()
        assert "垃圾清运点选址" in (await page.text_content("#issue-events") or "")
        await link.click()
        await page.wait_for_selector("#deliberation-modal:not([hidden]) #deliberation-rounds")
        assert page.url.endswith(f"/dashboard/deliberations/{made['open']}")
        assert await page.is_hidden("#issue-modal")
        assert await page.text_content("#deliberation-title") == "垃圾清运点选址"
        assert "协商中" in (await page.text_content("#deliberation-rounds") or "")

        assert problems == []
