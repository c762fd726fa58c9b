"""A county's day of issues, played through the HTTP API as the demo accounts would.

Issues arrive as a Poisson process at ``rate`` per second; each goes to a village drawn by that
village's activity (communities in town see more than mountain villages), with a category drawn
from a realistic mix and some urgent. How far each climbs is allocated exactly by the configured
shares ("小事不出村、大事不出镇"): most are resolved at the village, fewer at the township, a few at
the county, some are left open to run into warnings and deadlines, a handful withdrawn. Townships
and the county call departments in (吹哨) on part of theirs and the departments report (报到).
Citizens rate most resolutions with their tracking code and PIN; an unsatisfied one is redone
(重办) at the same level and rated again.

Planning is pure and seeded (``plan_workload``); playing is ``run_workload`` over any
``httpx.AsyncClient`` whose base URL ends in ``/api/v1`` — a real server or an ASGI transport.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from store.seed import CATEGORIES, DEMO_PASSWORD, department_code

FATES = ("village", "township", "county", "open", "withdrawn")
LEVEL_NAMES = {"village": "村", "township": "乡镇", "county": "县"}

# Relative frequency of each category in a mountain county's registers: disputes and village
# infrastructure dominate, food safety and veterans' affairs are rare.
CATEGORY_WEIGHTS: dict[str, float] = {
    "neighbour_dispute": 18,
    "sanitation": 14,
    "roads_infrastructure": 12,
    "land_forest_rights": 10,
    "family_dispute": 8,
    "rural_drinking_water": 7,
    "social_security": 7,
    "agriculture": 5,
    "labour_dispute": 5,
    "safety_geohazard": 4,
    "public_order": 3,
    "education_health": 3,
    "ecology_pollution": 2,
    "market_food_safety": 1,
    "veterans_service": 1,
    "other": 0.5,
}

TITLES: dict[str, tuple[str, ...]] = {
    "neighbour_dispute": ("宅基地界址纠纷", "邻居排水纠纷", "通行道路被占用"),
    "family_dispute": ("赡养老人纠纷", "婚姻家庭矛盾调解"),
    "land_forest_rights": ("山林权属争议", "承包地边界不清", "林地确权纠纷"),
    "sanitation": ("村道垃圾堆放", "生活污水外溢", "垃圾清运不及时"),
    "roads_infrastructure": ("通组道路塌方", "便民桥护栏损坏", "路灯损坏"),
    "rural_drinking_water": ("自来水停水", "饮水管道破裂", "水质浑浊"),
    "safety_geohazard": ("房后山体裂缝", "危房安全隐患", "滑坡隐患"),
    "social_security": ("低保申请咨询", "养老保险待遇未到账", "医保报销问题"),
    "labour_dispute": ("工地拖欠工资", "务工人员工伤赔偿"),
    "ecology_pollution": ("养殖场异味扰民", "河道倾倒废渣"),
    "market_food_safety": ("集市销售过期食品",),
    "public_order": ("夜间噪音扰民", "车辆乱停堵路"),
    "education_health": ("村卫生室缺医少药", "学生上学交通不便"),
    "agriculture": ("惠农补贴未发放", "农作物病虫害求助"),
    "veterans_service": ("退役军人优待证办理",),
    "other": ("其他诉求",),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("建国", "秀兰", "志强", "桂英", "明", "丽", "军", "芳", "海燕", "德福", "春生", "玉梅")
CHANNELS = ("walk_in", "phone", "grid", "app", "hotline_12345")
CHANNEL_WEIGHTS = (35, 25, 20, 10, 10)


@dataclass(frozen=True)
class WorkloadConfig:
    """What to generate; the shares are of ``count`` and are met exactly, not on average."""

    count: int = 100
    rate: float = 2.0  # arrivals per second, county-wide
    seed: int = 1
    county: str = "611025"
    unit: str | None = None  # only villages in this township (or this village)
    villages: int | None = None  # how many villages take part (drawn by activity); None: all
    fate_shares: tuple[float, float, float, float, float] = (0.58, 0.22, 0.08, 0.10, 0.02)
    urgent_share: float = 0.1
    feedback_share: float = 0.85
    satisfaction_weights: tuple[float, float, float] = (0.7, 0.2, 0.1)  # 满意/基本满意/不满意
    whistle_share: float = 0.5  # of issues handled at the township or the county
    pace: float = 0.0  # mean pause between two steps of one issue, seconds
    concurrency: int = 16
    password: str = DEMO_PASSWORD

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("count must be ≥ 0")
        if self.rate <= 0:
            raise ValueError("rate must be > 0")
        if self.concurrency < 1:
            raise ValueError("concurrency must be ≥ 1")
        if self.villages is not None and self.villages < 1:
            raise ValueError("villages must be ≥ 1")
        if len(self.fate_shares) != len(FATES) or min(self.fate_shares) < 0:
            raise ValueError(f"fate_shares: {len(FATES)} non-negative shares {FATES}")


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    township: str | None


@dataclass(frozen=True)
class IssuePlan:
    """One issue's script, decided before anything is sent."""

    number: int
    delay: float  # seconds after the previous arrival
    village: Village
    category: str
    urgency: str
    channel: str
    title: str
    description: str
    reporter_name: str
    reporter_phone: str
    fate: str  # one of FATES
    open_stage: str | None  # for fate "open": pending (not accepted) | village | township
    whistle: tuple[str, ...]  # departments called in where the issue is handled
    feedback: tuple[bool, str] | None  # (solved, satisfaction), None: the citizen never answers


@dataclass
class WorkloadReport:
    planned: int
    registered: int = 0
    resolved: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVEL_NAMES, 0))
    feedback: int = 0
    reopened: int = 0
    withdrawn: int = 0
    left_open: int = 0
    whistles: int = 0
    reports: int = 0
    overtaken: int = 0  # a clock ran out before the script's next step
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    issue_ids: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def fail(self, message: str) -> None:
        self.failed += 1
        if len(self.errors) < 20:
            self.errors.append(message)


class SimulationError(Exception):
    """The API answered something the script did not expect."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Overtaken(Exception):
    """The issue's clock ran out first: escalated on timeout before the unit acted, or closed
    before the citizen rated it.

    With short terms (the ``drill`` policy) this is an outcome to count, not a failure.
    """


# ---- planning (pure) ----------------------------------------------------------------------------


def allocate(count: int, shares: Sequence[float]) -> list[int]:
    """Split ``count`` by ``shares`` exactly (largest remainder, ties to the first):
    14 by (.5, .3, .2) → 7, 4, 3."""
    total = sum(shares)
    if count == 0 or total <= 0:
        return [0] * len(shares)
    quotas = [count * s / total for s in shares]
    counts = [int(q) for q in quotas]
    # Rounded, so that 8.4 and 1.4 tie whatever the floating-point noise.
    by_remainder = sorted(range(len(shares)), key=lambda i: (round(counts[i] - quotas[i], 9), i))
    for i in by_remainder[: count - sum(counts)]:
        counts[i] += 1
    return counts


def _activity(rng: random.Random, village: Village) -> float:
    town = "社区" in village.name or "居委会" in village.name
    return rng.lognormvariate(0.0, 0.6) * (2.0 if town else 1.0)


def plan_workload(config: WorkloadConfig, villages: Sequence[Village]) -> list[IssuePlan]:
    """Every issue's script, the same for the same seed and villages."""
    if not villages and config.count:
        raise ValueError("no villages to register at")
    rng = random.Random(config.seed)
    ordered = sorted(villages, key=lambda v: v.code)
    activity = [_activity(rng, v) for v in ordered]
    if config.villages is not None and config.villages < len(ordered):
        busiest = sorted(range(len(ordered)), key=lambda i: -activity[i])[: config.villages]
        ordered = [ordered[i] for i in sorted(busiest)]
        activity = [activity[i] for i in sorted(busiest)]
    fates = [
        fate
        for fate, n in zip(FATES, allocate(config.count, config.fate_shares), strict=True)
        for _ in range(n)
    ]
    rng.shuffle(fates)
    categories = [c for c in CATEGORIES if c.code in CATEGORY_WEIGHTS]
    departments = {
        c.code: tuple(department_code(config.county, key) for key in c.departments)
        for c in categories
    }
    plans = []
    for number, fate in enumerate(fates):
        village = rng.choices(ordered, weights=activity)[0]
        weights = [CATEGORY_WEIGHTS[c.code] for c in categories]
        category = rng.choices(categories, weights=weights)[0]
        title = rng.choice(TITLES.get(category.code, TITLES["other"]))
        called: tuple[str, ...] = ()
        pool = departments[category.code]
        if fate in ("township", "county") and pool and rng.random() < config.whistle_share:
            called = tuple(rng.sample(pool, k=rng.randint(1, min(2, len(pool)))))
        feedback = None
        if fate in LEVEL_NAMES and rng.random() < config.feedback_share:
            satisfaction = rng.choices(
                ("satisfied", "basically_satisfied", "unsatisfied"),
                weights=config.satisfaction_weights,
            )[0]
            feedback = (satisfaction != "unsatisfied", satisfaction)
        reporter = rng.choice(SURNAMES) + rng.choice(GIVEN)
        plans.append(
            IssuePlan(
                number=number,
                delay=rng.expovariate(config.rate) if number else 0.0,
                village=village,
                category=category.code,
                urgency="urgent" if rng.random() < config.urgent_share else "normal",
                channel=rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0],
                title=title,
                description=f"{village.name}群众{reporter}反映：{title}，请尽快处理。",
                reporter_name=reporter,
                reporter_phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                fate=fate,
                open_stage=(
                    rng.choices(("pending", "village", "township"), weights=(1, 2, 1))[0]
                    if fate == "open"
                    else None
                ),
                whistle=called,
                feedback=feedback,
            )
        )
    return plans


# ---- playing (HTTP) -----------------------------------------------------------------------------


class Accounts:
    """The demo accounts' sessions: one token per account, fetched once (argon2 is slow by
    design, so a long run signs each account in only once)."""

    def __init__(self, http: httpx.AsyncClient, password: str) -> None:
        self.http = http
        self.password = password
        self._tokens: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def headers(self, username: str) -> dict[str, str]:
        lock = self._locks.setdefault(username, asyncio.Lock())
        async with lock:
            if username not in self._tokens:
                r = await self.http.post(
                    "auth/token", data={"username": username, "password": self.password}
                )
                _check(r, f"login {username}")
                self._tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    async def get(self, path: str, user: str, **params: Any) -> Any:
        r = await self.http.get(path, params=params, headers=await self.headers(user))
        _check(r, f"GET {path}")
        return r.json()

    async def post(
        self, path: str, body: dict[str, Any], user: str | None, key: str | None = None
    ) -> dict[str, Any]:
        headers = await self.headers(user) if user else {}
        if key:
            headers["Idempotency-Key"] = key
        r = await self.http.post(path, json=body, headers=headers)
        _check(r, f"POST {path}")
        answer: dict[str, Any] = r.json()
        return answer


def _check(r: httpx.Response, what: str) -> None:
    if r.status_code >= 400:
        raise SimulationError(f"{what}: {r.status_code} {r.text[:300]}", r.status_code)


async def load_villages(api: Accounts, config: WorkloadConfig) -> list[Village]:
    """The villages to register at: the county's, or those of ``config.unit``."""
    units = await api.get("units", "county-supervisor", kind="village", limit=5000)
    villages = [Village(u["code"], u["name"], u["parent_code"]) for u in units["data"]]
    if config.unit and config.unit != config.county:
        villages = [v for v in villages if config.unit in (v.code, v.township)]
    return villages


def _unit_of(user: str | None, county: str) -> str | None:
    """The unit a demo account acts for (None: a citizen or a department)."""
    if user is None or user.startswith("dept-"):
        return None
    if user.startswith(("village-", "township-")):
        return user.split("-", 1)[1]
    return county


def _handler(level: str, unit: str) -> str:
    """The demo account that acts for a unit: its clerk, its leader, or the county's leader."""
    return {"village": f"village-{unit}", "township": f"township-{unit}"}.get(
        level, "county-leader"
    )


class Player:
    """Plays plans against the API, counting what happened."""

    def __init__(
        self,
        api: Accounts,
        config: WorkloadConfig,
        report: WorkloadReport,
        run: str,
        on_registered: Callable[[], None] = lambda: None,
    ) -> None:
        self.api = api
        self.config = config
        self.report = report
        self.run = run  # makes idempotency keys unique to this run
        self.rng = random.Random(config.seed + 1)
        self.on_registered = on_registered

    async def pause(self) -> None:
        if self.config.pace > 0:
            await asyncio.sleep(self.rng.expovariate(1 / self.config.pace))

    async def act(
        self, issue_id: str, action: str, body: dict[str, Any], user: str | None
    ) -> dict[str, Any]:
        await self.pause()
        try:
            return await self.api.post(f"issues/{issue_id}/{action}", body, user)
        except SimulationError as error:
            if error.status in (403, 409) and await self.clock_won(issue_id, action, user):
                raise Overtaken(issue_id) from error
            raise

    async def clock_won(self, issue_id: str, action: str, user: str | None) -> bool:
        """Whether a refusal came from a clock that ran out first: the issue was escalated on
        timeout away from the acting unit, or closed when the feedback window passed."""
        issue = await self.api.get(f"issues/{issue_id}", "county-supervisor")
        if action == "feedback":
            return bool(issue["status"] == "closed")
        acting = _unit_of(user, self.config.county)
        return acting is not None and issue["unit"]["code"] != acting

    async def play(self, plan: IssuePlan) -> None:
        body = {
            "village_code": plan.village.code,
            "category": plan.category,
            "title": plan.title,
            "description": plan.description,
            "urgency": plan.urgency,
            "channel": plan.channel,
            "reporter": {"name": plan.reporter_name, "phone": plan.reporter_phone},
            "location": f"{plan.village.name}",
        }
        clerk = f"village-{plan.village.code}"
        created = await self.api.post("issues", body, clerk, key=f"sim-{self.run}-{plan.number}")
        issue_id = created["id"]
        self.report.registered += 1
        self.report.issue_ids.append(issue_id)
        self.on_registered()

        if plan.fate == "open" and plan.open_stage == "pending":
            self.report.left_open += 1
            return
        if plan.fate == "withdrawn":
            await self.act(issue_id, "withdraw", {"reason": "群众来电表示已自行协商解决"}, clerk)
            self.report.withdrawn += 1
            return
        where = await self.act(issue_id, "accept", {"note": "已签收，安排网格员核实"}, clerk)
        if plan.fate == "open" and plan.open_stage == "village":
            await self.act(issue_id, "progress", {"note": "正在协调处理"}, clerk)
            self.report.left_open += 1
            return
        for level in ("township", "county"):
            if plan.fate == "village" or (plan.fate == "township" and level == "county"):
                break
            user = _handler(where["level"], where["unit"])
            where = await self.act(issue_id, "escalate", {"reason": "超出本级处置权限"}, user)
            where = await self.act(
                issue_id, "accept", {"note": "已签收"}, _handler(where["level"], where["unit"])
            )
            if plan.fate == "open":  # left at the township
                self.report.left_open += 1
                return
        user = _handler(where["level"], where["unit"])
        if plan.whistle:
            await self.act(
                issue_id,
                "whistle",
                {"departments": list(plan.whistle), "reason": "需相关部门现场会商"},
                user,
            )
            self.report.whistles += 1
            for department in plan.whistle:
                contribution = {"contribution": "已派员到场，提出处置意见"}
                await self.act(issue_id, "report", contribution, f"dept-{department}")
                self.report.reports += 1
        await self.resolve(issue_id, where["level"], user, created, plan)

    async def resolve(
        self,
        issue_id: str,
        level: str,
        user: str,
        created: dict[str, Any],
        plan: IssuePlan,
    ) -> None:
        await self.act(issue_id, "resolve", {"summary": f"{plan.title}已处理完毕"}, user)
        self.report.resolved[level] += 1
        if plan.feedback is None:
            return
        solved, satisfaction = plan.feedback
        credentials = {"tracking_code": created["tracking_code"], "pin": created["pin"]}
        await self.act(
            issue_id,
            "feedback",
            {"solved": solved, "satisfaction": satisfaction, **credentials},
            None,
        )
        self.report.feedback += 1
        if satisfaction != "unsatisfied":
            return
        # 重办 at the same level, then the citizen is (basically) content.
        self.report.reopened += 1
        await self.act(issue_id, "accept", {"note": "重办"}, user)
        await self.act(issue_id, "resolve", {"summary": f"{plan.title}重办完毕"}, user)
        await self.act(
            issue_id,
            "feedback",
            {"solved": True, "satisfaction": "basically_satisfied", **credentials},
            None,
        )
        self.report.feedback += 1


async def run_workload(
    http: httpx.AsyncClient,
    config: WorkloadConfig,
    console: Console | None = None,
    accounts: Accounts | None = None,
) -> WorkloadReport:
    """Play a workload through the API at ``http`` (base URL ending in ``/api/v1/``).

    Failures of single issues are counted in the report, not raised: a long run survives an
    occasional 409 or timeout and says how many went wrong. Pass ``accounts`` to keep the
    sign-ins of an earlier run.
    """
    started = time.monotonic()
    api = accounts or Accounts(http, config.password)
    plans = plan_workload(config, await load_villages(api, config))
    report = WorkloadReport(planned=len(plans))
    slots = asyncio.Semaphore(config.concurrency)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )

    def outcome() -> str:
        by_level = " · ".join(f"{LEVEL_NAMES[k]} {v}" for k, v in report.resolved.items())
        late = f" · 时限先到 {report.overtaken}" if report.overtaken else ""
        return f"办结 {by_level} · 在办 {report.left_open}{late} · 失败 {report.failed}"

    with progress:
        arrivals = progress.add_task("登记", total=len(plans))
        done = progress.add_task(outcome(), total=len(plans))
        player = Player(
            api,
            config,
            report,
            uuid.uuid4().hex[:8],
            on_registered=lambda: progress.update(arrivals, completed=report.registered),
        )

        async def one(plan: IssuePlan) -> None:
            try:
                await player.play(plan)
            except Overtaken:
                report.overtaken += 1
            except (SimulationError, httpx.HTTPError) as error:
                report.fail(f"#{plan.number} {plan.village.code}: {error}")
            finally:
                slots.release()
                progress.update(done, advance=1, description=outcome())

        tasks = []
        for plan in plans:
            await asyncio.sleep(plan.delay)
            await slots.acquire()
            tasks.append(asyncio.create_task(one(plan)))
        await asyncio.gather(*tasks)
    report.elapsed = time.monotonic() - started
    return report


def report_table(report: WorkloadReport) -> Table:
    """The report as a two-column table (Chinese labels)."""
    table = Table(title=f"模拟结果（{report.elapsed:.1f} 秒）", show_header=False)
    rows: list[tuple[str, int]] = [("计划", report.planned), ("登记", report.registered)]
    rows += [(f"{name}级办结", report.resolved[level]) for level, name in LEVEL_NAMES.items()]
    rows += [
        ("回访评价", report.feedback),
        ("重办", report.reopened),
        ("撤回", report.withdrawn),
        ("留待办理", report.left_open),
        ("吹哨", report.whistles),
        ("部门报到", report.reports),
        ("时限先到（超时上报或评价期满）", report.overtaken),
        ("失败", report.failed),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    return table
