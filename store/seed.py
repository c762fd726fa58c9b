"""Reference data a fresh county needs: its unit tree, departments, categories and demo accounts.

Idempotent and additive: a second run inserts nothing, and rows an admin has since edited
(a department's name, a category's departments, a user's password) are left as they are. Issues
are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import Engine, insert
from sqlmodel import Session, col, select

from domain.models import Role, UnitKind
from settings import Environment, Settings
from store.db import session_scope
from store.tables import Category, Department, Unit, User
from store.units_import import ImportReport, UnitNotFound, import_units

# The documented demo password; demo accounts are seeded only outside production.
DEMO_PASSWORD = "demo"

# Department codes read "<county slug>-<department>"; counties without a slug use their code.
COUNTY_SLUGS = {"611025": "zhenan"}


@dataclass(frozen=True)
class DepartmentSpec:
    key: str  # the part after the county slug: "zhujian"
    name: str  # after the county's name: "住房和城乡建设局"
    short_name: str


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name: str
    departments: tuple[str, ...]  # DepartmentSpec keys
    notify_departments: bool = False  # True where a department must hear at once (hazards)


# The bureaus a county's 矛调中心 actually calls on (镇安县's line-up).
DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec("zhujian", "住房和城乡建设局", "住建"),
    DepartmentSpec("shuili", "水利局", "水利"),
    DepartmentSpec("minzheng", "民政局", "民政"),
    DepartmentSpec("ziranziyuan", "自然资源局", "自然资源"),
    DepartmentSpec("jiaotong", "交通运输局", "交通"),
    DepartmentSpec("nongye", "农业农村局", "农业农村"),
    DepartmentSpec("yingji", "应急管理局", "应急"),
    DepartmentSpec("gongan", "公安局", "公安"),
    DepartmentSpec("sifa", "司法局", "司法"),
    DepartmentSpec("renshe", "人力资源和社会保障局", "人社"),
    DepartmentSpec("weijian", "卫生健康局", "卫健"),
    DepartmentSpec("shijian", "市场监督管理局", "市场监管"),
    DepartmentSpec("xinfang", "信访局", "信访"),
    DepartmentSpec("shengtai", "生态环境分局", "生态环境"),
    DepartmentSpec("linye", "林业局", "林业"),
    DepartmentSpec("jiaoti", "教育体育和科技局", "教体科技"),
    DepartmentSpec("chengguan", "城市管理执法局", "城管"),
    DepartmentSpec("yibao", "医疗保障局", "医保"),
    DepartmentSpec("tuiyi", "退役军人事务局", "退役军人"),
)

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("neighbour_dispute", "邻里纠纷", ("sifa", "gongan")),
    CategorySpec("family_dispute", "婚姻家庭纠纷", ("sifa", "minzheng")),
    CategorySpec("land_forest_rights", "土地山林权属", ("ziranziyuan", "linye", "nongye")),
    CategorySpec("sanitation", "环境卫生", ("nongye", "chengguan", "zhujian")),
    CategorySpec("roads_infrastructure", "道路与基础设施", ("jiaotong", "zhujian")),
    CategorySpec("rural_drinking_water", "农村饮水", ("shuili", "weijian"), True),
    CategorySpec(
        "safety_geohazard", "安全隐患/地质灾害", ("yingji", "ziranziyuan", "zhujian"), True
    ),
    CategorySpec("social_security", "社会保障", ("minzheng", "renshe", "yibao")),
    CategorySpec("labour_dispute", "劳资纠纷", ("renshe", "sifa", "zhujian")),
    CategorySpec("ecology_pollution", "生态环境污染", ("shengtai", "linye"), True),
    CategorySpec("market_food_safety", "市场与食品安全", ("shijian",), True),
    CategorySpec("public_order", "社会治安", ("gongan",)),
    CategorySpec("education_health", "教育与医疗卫生", ("jiaoti", "weijian")),
    CategorySpec("agriculture", "农业生产与惠农政策", ("nongye",)),
    CategorySpec("veterans_service", "退役军人服务", ("tuiyi",)),
    CategorySpec("other", "其他", ()),
)


@dataclass(frozen=True)
class SeedReport:
    """What a seed run added; all zero (and ``units.inserted == 0``) on a second run."""

    units: ImportReport
    departments_added: int
    categories_added: int
    users_added: int
    demo_accounts: bool  # whether demo accounts were wanted (never in production)

    @property
    def changed(self) -> bool:
        return bool(
            self.units.inserted
            or self.units.updated
            or self.departments_added
            or self.categories_added
            or self.users_added
        )


def department_code(county: str, key: str) -> str:
    """``department_code("611025", "zhujian") == "zhenan-zhujian"``."""
    return f"{COUNTY_SLUGS.get(county, county)}-{key}"


def seed(engine: Engine, settings: Settings) -> SeedReport:
    """Load the county's tree and reference data, and the demo accounts outside production.

    Args:
        engine: a migrated read model.
        settings: ``county``, ``resolved_division_file``, ``demo_accounts`` and ``environment``.

    Raises:
        ValueError: the division file is invalid or does not hold ``settings.county``.
    """
    units = import_units(engine, settings.resolved_division_file, county=settings.county)
    demo = settings.demo_accounts and settings.environment is not Environment.PRODUCTION
    with session_scope(engine) as session:
        county = session.get(Unit, settings.county)
        if county is None:
            raise UnitNotFound(settings.county)
        departments = _departments(county)
        departments_added = _insert_missing(session, Department, "code", departments)
        categories_added = _insert_missing(session, Category, "code", _categories(settings.county))
        users_added = 0
        if demo:
            users = _missing(session, User, "username", _demo_users(session, county, departments))
            if users:
                # argon2 is deliberately slow: one hash serves every demo account (~200 a county).
                password_hash = PasswordHash.recommended().hash(DEMO_PASSWORD)
                session.exec(
                    insert(User), params=[{**u, "password_hash": password_hash} for u in users]
                )
            users_added = len(users)
    return SeedReport(units, departments_added, categories_added, users_added, demo)


def _departments(county: Unit) -> list[dict[str, Any]]:
    return [
        {
            "code": department_code(county.code, spec.key),
            "name": f"{county.name}{spec.name}",
            "short_name": spec.short_name,
            "county_code": county.code,
        }
        for spec in DEPARTMENTS
    ]


def _categories(county: str) -> list[dict[str, Any]]:
    return [
        {
            "code": spec.code,
            "name": spec.name,
            "departments": [department_code(county, key) for key in spec.departments],
            "notify_departments": spec.notify_departments,
        }
        for spec in CATEGORIES
    ]


def _demo_users(
    session: Session, county: Unit, departments: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    def user(username: str, role: Role, display_name: str, **where: str) -> dict[str, Any]:
        return {
            "username": username,
            "display_name": display_name,
            "role": role.value,
            "unit_code": where.get("unit"),
            "department_code": where.get("department"),
            "active": True,
        }

    users = [
        user("county-admin", Role.ADMIN, f"{county.name}系统管理员", unit=county.code),
        user("county-supervisor", Role.SUPERVISOR, f"{county.name}督查室", unit=county.code),
        user("county-leader", Role.LEADER, f"{county.name}矛调中心负责人", unit=county.code),
        user("county-clerk", Role.CLERK, f"{county.name}矛调中心", unit=county.code),
    ]
    below = session.exec(
        select(Unit)
        .where(col(Unit.path).startswith(county.path, autoescape=True))
        .where(col(Unit.kind).in_([UnitKind.TOWNSHIP.value, UnitKind.VILLAGE.value]))
        .order_by(col(Unit.path))
    )
    for unit in below:
        if unit.kind == UnitKind.TOWNSHIP:
            users.append(user(f"township-{unit.code}", Role.LEADER, unit.name, unit=unit.code))
        else:
            users.append(user(f"village-{unit.code}", Role.CLERK, unit.name, unit=unit.code))
            # The village's 书记/主任: deliberation submits hard matters to its leadership.
            users.append(
                user(f"village-{unit.code}-leader", Role.LEADER, f"{unit.name}书记", unit=unit.code)
            )
    users += [
        user(f"dept-{d['code']}", Role.DEPARTMENT, d["name"], department=d["code"])
        for d in departments
    ]
    return users


def _missing(session: Session, table: Any, key: str, rows: list[dict[str, Any]]) -> list[Any]:
    """The rows whose ``key`` is not in ``table`` yet."""
    column = getattr(table, key)
    present = set(session.exec(select(column).where(column.in_([r[key] for r in rows]))))
    return [row for row in rows if row[key] not in present]


def _insert_missing(session: Session, table: Any, key: str, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose ``key`` is not there yet; return how many."""
    missing = _missing(session, table, key, rows)
    if missing:
        session.exec(insert(table), params=missing)
    return len(missing)
