"""Every page people use works inside an isolated government network (政务外网, intranet).

One app (uvicorn, a time-skipping Temporal server and a worker behind it, one registered issue)
and one Chromium (Debian's, headless) open every page in ``PAGES`` with ``isolation.visit``: the
browser reaches the app by name and nothing else. A page fails if it attempted to reach any other
address, links one, logged a console error, threw, or a request to the app itself failed; it must
also show what it is for (``ready``, ``text``).

New pages join ``PAGES``: ``test_every_page_route_is_listed`` fails for a page route the app serves
that is in neither ``PAGES`` nor ``NOT_PAGES``. ``test_the_check_catches_outside_assets`` shows
the check is real: it links a CDN's script and stylesheet and a preconnect to a font server into
drawn pages and expects them reported. Screenshots go to ``test-artifacts/isolated-<page>.png``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.routing import iter_route_contexts
from sqlmodel import Session
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from domain import search_attributes
from domain.payloads import DATA_CONVERTER
from settings import ROOT, Environment, Settings
from store.duty_tables import DutyDocument, DutyEventRow, DutyRun
from tests.conftest import seeded_engine, stack_settings
from tests.dashboard.isolation import HOST, LAUNCH_ARGS, PHONE, Page, visit
from workers.main import build_worker

CHROMIUM = Path("/usr/lib/chromium/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-wqy-microhei)",
)
ARTIFACTS = ROOT / "test-artifacts"
VILLAGE = "611025001001"  # 新城社区, 永乐街道
ADMIN_TOKEN = "linkage.admin.token"  # sessionStorage key of the admin pages' sign-in
FIELD_TOKEN = "linkage-field-token"  # localStorage: the field page keeps it across visits


PLACES_LOADED = "#township option:not([value=''])"  # the phone pages' township list arrived

# Every page people use. A new page joins this list with its path, a selector it shows when drawn
# and, if it needs one, an account; test_every_page_route_is_listed names any page route missing.
# Paths may use the stack's values: {issue_id}, {deliberation_id}, {duty_id}, {code} (a village),
# {tracking_code}, {pin}.
PAGES: tuple[Page, ...] = (
    Page("home", "/", "select#unit", ("我要办事", "查看公示栏")),
    Page("login", "/dashboard", "#login-view:not([hidden]) #login-submit", ("登录",)),
    Page(
        "dashboard",
        "/dashboard",
        "#chart-open-by-level .main-svg",
        ("督查",),
        account="county-supervisor",
    ),
    Page(
        "issue",
        "/dashboard/issues/{issue_id}",
        "#issue-modal:not([hidden]) #issue-levels tbody tr",
        ("村道垃圾堆放",),
        account="county-supervisor",
    ),
    Page(
        "deliberations",
        "/dashboard/deliberations",
        "#dl-open tbody tr[data-deliberation-id]",
        ("协商中", "待领导决策"),
        account="county-supervisor",
    ),
    Page(
        "deliberation",
        "/dashboard/deliberations/{deliberation_id}",
        "#deliberation-modal:not([hidden]) #deliberation-rounds tbody tr",
        ("垃圾清运点选址", "全过程记录"),
        account="county-supervisor",
    ),
    Page(
        "duties",
        "/dashboard/duties",
        "#du-units tbody tr[data-unit]",
        ("值班职责", "村务公开"),
        account="county-supervisor",
    ),
    Page(
        "duty",
        "/dashboard/duties/{duty_id}",
        "#duty-modal:not([hidden]) #duty-events li",
        ("联席会议", "全过程记录"),
        account="county-supervisor",
    ),
    Page(
        "review",
        "/dashboard/review",
        "#invalid-table tbody tr",
        ("标记为无效的事项", "村民提议的议事议题"),
        account="county-supervisor",
    ),
    Page("admin-login", "/dashboard/admin", "#login-view:not([hidden]) #login-submit"),
    Page(
        "admin",
        "/dashboard/admin",
        "#users-body tr",
        ("系统管理", "账号列表", "dept-zhenan-shuili"),
        account="county-admin",
        token_key=ADMIN_TOKEN,
    ),
    Page(
        "docs",
        "/docs",
        ".swagger-ui .opblock-tag",
        ("县—乡镇—村三级联动", "登录与身份", "辖区单位"),
    ),
    Page(
        "redoc",
        "/redoc",
        "[data-section-id='tag/issues']",
        ("县—乡镇—村三级联动", "登录与身份", "辖区单位"),
    ),
    Page("public", "/public/{code}", "ul.items", ("办结事项", "议事决定及落实情况", "本期数字")),
    Page("phone", "/m/", "ul.menu a[href='/m/report']", ("群众办事",), viewport=PHONE),
    Page("phone-report", "/m/report", PLACES_LOADED, ("反映问题",), viewport=PHONE),
    Page(
        "phone-track",
        "/m/track?code={tracking_code}",
        "#issue:not([hidden]) #timeline li",
        ("当前状态",),
        steps=(("fill", "#pin-input", "{pin}"), ("click", "#track-form button", "")),
        viewport=PHONE,
    ),
    Page("phone-topic", "/m/topic", PLACES_LOADED, ("提议议事议题",), viewport=PHONE),
    Page("phone-poll", "/m/poll", PLACES_LOADED, ("参与投票",), viewport=PHONE),
    Page("phone-field-login", "/m/field", "#login-form:not([hidden])", viewport=PHONE),
    Page(
        "phone-field",
        "/m/field",
        f"#field:not([hidden]) {PLACES_LOADED}",
        ("登记发现的问题",),
        account=f"village-{VILLAGE}",
        token_key=FIELD_TOKEN,
        storage="localStorage",
        viewport=PHONE,
    ),
)

# Routes outside /api/ that answer a browser but are no page of their own, and why.
NOT_PAGES = {
    "/docs/oauth2-redirect": "Swagger UI's OAuth2 popup returns there (it needs window.opener)",
    "/m": "redirects to /m/",
}


def _is_asset(path: str) -> bool:
    """Scripts, styles, images and downloads: loaded by pages, checked as the pages load them."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return "/static/" in f"{path}/" or ("." in last and "{" not in last)


def unlisted_page_routes(settings: Settings) -> tuple[list[str], int]:
    """The GET routes outside /api/ that no page in ``PAGES`` opens, and how many routes there
    are: a parametrised route counts as opened when some page's path matches it."""
    paths = [page.path.split("?")[0] for page in PAGES]
    routes = [
        route
        for route in iter_route_contexts(create_app(settings).routes)
        if route.path
        and "GET" in (route.methods or ())
        and not route.path.startswith("/api/")
        and not _is_asset(route.path)
        and route.path not in NOT_PAGES
    ]
    unlisted = [str(r.path) for r in routes if not any(r.path_regex.match(p) for p in paths)]
    return sorted(unlisted), len(routes)


def test_every_page_route_is_listed(tmp_path: Path) -> None:
    settings = Settings(
        environment=Environment.TEST,
        data_dir=tmp_path,
        secret_key="isolated-network-" + "x" * 32,
        temporal_address="127.0.0.1:1",  # never connected: the app is only built
    )
    unlisted, count = unlisted_page_routes(settings)
    assert not unlisted, (
        f"pages the app serves that {Path(__file__).name} does not open: {unlisted}; add each "
        "to PAGES (or, if it is no page of its own, to NOT_PAGES with the reason)"
    )
    assert count >= 8  # /, /dashboard, an issue, admin, /docs, /redoc, /public/…, /m/…


# ---- the stack ----------------------------------------------------------------------------------


@dataclass
class Stack:
    base: str  # as the browser reaches it, by name
    http: httpx.AsyncClient  # the test's own client, to loopback
    fill: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    async def token(self, account: str) -> str:
        """One sign-in per account for the whole module (argon2 costs ~0.5 s on two cores)."""
        if account not in self.tokens:
            answer = await self.http.post(
                "auth/token", data={"username": account, "password": "demo"}
            )
            answer.raise_for_status()
            self.tokens[account] = answer.json()["access_token"]
        return self.tokens[account]


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
    data = tmp_path_factory.mktemp("isolated")
    port = _free_port()
    settings = stack_settings(data, "isolated", public_url=f"http://{HOST}:{port}")
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
        )
    )
    try:
        async with (
            httpx.AsyncClient(timeout=10, trust_env=False) as worker_http,
            build_worker(
                env.client,
                settings,
                engine,
                worker_http,
            ),
        ):
            serving = asyncio.create_task(server.serve())
            while not server.started:
                assert not serving.done(), "uvicorn did not start"
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}/api/v1/", timeout=30, trust_env=False
            ) as http:
                stack = Stack(f"http://{HOST}:{port}", http, {"code": VILLAGE})
                clerk = await stack.token(f"village-{VILLAGE}")
                created = await http.post(
                    "issues",
                    headers={"Authorization": f"Bearer {clerk}", "Idempotency-Key": "isolated-1"},
                    json={
                        "village_code": VILLAGE,
                        "category": "sanitation",
                        "title": "村道垃圾堆放",
                        "description": "新城社区东口路边垃圾堆放多日无人清运",
                        "reporter": {"name": "张三", "phone": "13800001234"},
                    },
                )
                assert created.status_code == 201, created.text
                issue = created.json()
                opened = await http.post(
                    "deliberations",
                    headers={"Authorization": f"Bearer {clerk}"},
                    json={
                        "unit": VILLAGE,
                        "topic": "垃圾清运点选址",
                        "kind": "village_council",
                        "issue_id": issue["id"],
                    },
                )
                assert opened.status_code == 201, opened.text
                stack.fill |= {
                    "duty_id": _joint_meeting_held(engine),
                    "deliberation_id": opened.json()["id"],
                    "issue_id": issue["id"],
                    "tracking_code": issue["tracking_code"],
                    "pin": issue["pin"],
                }
                yield stack
            server.should_exit = True
            await serving
    finally:
        await env.shutdown()
        engine.dispose()


def _joint_meeting_held(engine: Any) -> str:
    """A county's 联席会议 run as its recorder leaves it: held, its report kept, its events."""
    held = datetime(2026, 10, 26, 1, tzinfo=UTC)
    duty_id = f"duty-county-joint-meeting-611025-{held:%Y-%m-%dT%H:%M:%SZ}"
    run = DutyRun(
        id=duty_id,
        kind="joint_meeting",
        unit_code="611025",
        unit_path="/611025/",
        period="2026-Q4",
        due_at=held,
        status="done",
        outcome="held",
        on_time=True,
        document_id="isolated-report",
        updated_at=held,
    )
    with Session(engine) as session:
        session.add(run)
        session.flush()
        session.add(DutyEventRow(duty_id=duty_id, seq=1, type="report_sent", at=held, data={}))
        session.add(
            DutyDocument(
                id="isolated-report",
                duty_id=duty_id,
                kind="joint_meeting",
                unit_code="611025",
                period="2026-Q4",
                title="镇安县2026-Q4联席会议报告",
                html="<h1>联席会议报告</h1>",
                pdf=b"%PDF-1.4",
                created_at=held,
            )
        )
        session.commit()
    return duty_id


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        await chromium.close()


async def open_page(browser: Any, stack: Stack, page: Page, inject: str | None = None) -> list[str]:
    """``visit`` with the stack's values and its account's token; a screenshot unless injected."""
    token = await stack.token(page.account) if page.account else None
    shot = ARTIFACTS / f"isolated-{page.name}.png" if inject is None else None
    return await visit(
        browser, page, stack.base, stack.fill, token=token, screenshot=shot, inject=inject
    )


# ---- the tests ----------------------------------------------------------------------------------


@pytest.mark.slow
@needs_chromium
async def test_every_page_works_offline(stack: Stack, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    # One after another: on two cores, pages side by side only slow each other down.
    problems = [problem for page in PAGES for problem in await open_page(browser, stack, page)]
    assert problems == [], "\n".join(problems)


# The assets FastAPI's own /docs page loaded, as a page would link them.
CDN_STYLE = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
CDN_SCRIPT = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
FONTS = "https://fonts.gstatic.com/"  # reached ahead by rel=preconnect, which makes no request


LINK_OUTSIDE_ASSETS = f"""(() => {{
    const style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = {json.dumps(CDN_STYLE)};
    const script = document.createElement("script");
    script.src = {json.dumps(CDN_SCRIPT)};
    const ahead = document.createElement("link");
    ahead.rel = "preconnect";
    ahead.href = {json.dumps(FONTS)};
    document.head.append(style, script, ahead);
}})()"""


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("name", ["docs", "login"])
async def test_the_check_catches_outside_assets(stack: Stack, browser: Any, name: str) -> None:
    """A page that links a CDN's script and style is reported, whether it tries to load them
    (/docs: both requests attempted, aborted and named) or its Content-Security-Policy refuses
    them first (the dashboard: the refusals are console errors naming them); so is a preconnect
    to a font server."""
    page = next(p for p in PAGES if p.name == name)
    problems = await open_page(browser, stack, page, inject=LINK_OUTSIDE_ASSETS)
    for url in (CDN_STYLE, CDN_SCRIPT):
        assert any(url in problem for problem in problems), (url, problems)
    assert f"{name}: links outside {FONTS}" in problems
    # Nothing else: the page alone passes (test_every_page_works_offline).
    assert all(any(u in p for u in (CDN_STYLE, CDN_SCRIPT, FONTS)) for p in problems), problems
    if name == "docs":
        assert f"docs: outside address {CDN_SCRIPT}" in problems
