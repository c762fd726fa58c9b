"""Dependencies every route reads like its signature: the session, Temporal, the settings, and who
is calling (``Principal``) with the jurisdiction rules that decide what they may see and do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api import metrics
from api.problems import ProblemError, forbidden, invalid, unauthorized
from api.security import (
    API_KEY_HEADER,
    PinCheck,
    authenticate_api_key,
    check_pin,
    decode_access_token,
)
from domain.lifecycle.rules import REFUSALS, STAFF_ROLES, IssueView, refusal, unit_refusal
from domain.models import OPEN_STATUSES, Actor, Role, Status
from settings import Settings
from store.tables import Department, Issue, Unit, User

API_PREFIX = "/api/v1"

P = ParamSpec("P")
R = TypeVar("R")


async def in_thread(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run blocking work (SQL, argon2) off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


# ---- what the app holds -------------------------------------------------------------------------


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    # Objects stay readable after a commit: routes return what they loaded.
    with Session(engine, expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]


# ---- who is calling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueScope:
    """What the jurisdiction rules need to know about one issue: the rules' view and the paths."""

    view: IssueView
    registered_unit_path: str  # the registering unit's path: its subtree keeps reading the issue
    unit_path: str  # where the issue is now
    # The category's departments that hear of every arrival at once (policy ``notify_departments``).
    notified_departments: frozenset[str] = frozenset()

    @property
    def issue_id(self) -> str:
        return self.view.issue_id

    @property
    def status(self) -> Status:
        return self.view.status

    @property
    def unit_code(self) -> str:
        return self.view.unit_code

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class Principal:
    """The caller: a staff user, a department (user or machine client), or a citizen with a PIN."""

    username: str
    role: Role
    unit_code: str | None = None
    unit_path: str | None = None
    department_code: str | None = None
    name: str | None = None
    # A department registers issues anywhere in its county: that county's path.
    county_path: str | None = None
    # A citizen's PIN opens exactly one issue.
    issue_id: str | None = None

    def actor(self) -> Actor:
        return Actor(
            user=self.username,
            role=self.role,
            unit_code=self.unit_code,
            department_code=self.department_code,
            name=self.name,
        )

    def within(self, path: str | None) -> bool:
        """Whether a unit path lies in the caller's subtree (their own unit included); an admin
        attached to no unit oversees everything."""
        if self.role is Role.ADMIN and self.unit_path is None:
            return True
        return bool(path and self.unit_path and path.startswith(self.unit_path))

    def can_read(self, issue: IssueScope) -> bool:
        if self.role is Role.CITIZEN:
            return self.issue_id == issue.issue_id
        if self.role is Role.DEPARTMENT:
            # Only the issues it was called into, or that its category sends it on arrival.
            code = self.department_code
            return code is not None and (
                code in issue.view.called or code in issue.notified_departments
            )
        if self.role in STAFF_ROLES:
            # Registered in the subtree (still followed after escalation), or sitting in it now.
            return self.within(issue.registered_unit_path) or self.within(issue.unit_path)
        return False

    def sees_phone(self, issue: IssueScope) -> bool:
        """Phone numbers are for the unit handling the issue (and admins), nobody else."""
        if self.role is Role.ADMIN:
            return self.can_read(issue)
        return self.role in STAFF_ROLES and self.unit_code == issue.unit_code

    def refusal(self, action: str, issue: IssueScope) -> str | None:
        """Why the caller may not take ``action`` on an issue they can read, or None.

        The rules are ``domain.lifecycle.rules``, which the workflow's validators apply too;
        only reading rights by subtree are the API's own.
        """
        why = refusal(self.actor(), action, issue.view)
        if why is None and self.role in STAFF_ROLES and not self.can_read(issue):
            why = REFUSALS.get(action, unit_refusal(issue.view.unit_name))
        return why

    def may(self, action: str, issue: IssueScope) -> bool:
        return self.refusal(action, issue) is None


def principal_for_user(session: Session, user: User) -> Principal:
    unit = session.get(Unit, user.unit_code) if user.unit_code else None
    county_path = None
    if user.department_code:
        department = session.get(Department, user.department_code)
        county = session.get(Unit, department.county_code) if department else None
        county_path = county.path if county else None
    return Principal(
        username=user.username,
        role=Role(user.role),
        unit_code=user.unit_code,
        unit_path=unit.path if unit else None,
        department_code=user.department_code,
        name=user.display_name,
        county_path=county_path,
    )


def citizen_principal(issue: Issue) -> Principal:
    return Principal(
        username=f"citizen:{issue.tracking_code}",
        role=Role.CITIZEN,
        name=issue.reporter_name or "群众",
        issue_id=issue.id,
    )


_bearer = OAuth2PasswordBearer(
    tokenUrl=f"{API_PREFIX}/auth/token",
    auto_error=False,
    description="工作人员：用户名和密码换取的 JWT",
)
_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="部门系统对接：`<prefix>.<secret>` 形式的 API Key",
)


def optional_principal(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal | None:
    """The caller, None when no credentials came; bad or expired credentials are a 401.

    Synchronous on purpose: FastAPI runs it in a worker thread, where argon2 and SQL may block.
    """
    if api_key:
        row = authenticate_api_key(session, api_key)
        if row is None:
            raise unauthorized("API Key 无效或已吊销")
        department = session.get(Department, row.department_code)
        county = session.get(Unit, department.county_code) if department else None
        return Principal(
            username=f"api-key:{row.prefix}",
            role=Role.DEPARTMENT,
            department_code=row.department_code,
            name=row.name,
            county_path=county.path if county else None,
        )
    if token:
        claims = decode_access_token(token, settings)
        # The database, not the token, is the authority on role and unit: a user moved or
        # deactivated since login is treated as they are now.
        user = _active_user(session, str(claims["sub"])) if claims is not None else None
        if user is None:
            raise unauthorized("登录已失效，请重新登录")
        return principal_for_user(session, user)
    return None


def _active_user(session: Session, username: str) -> User | None:
    user = session.exec(select(User).where(User.username == username)).first()
    # A reset password voids the tokens issued before it until the user has chosen a new one.
    usable = user is not None and user.active and not user.must_change_password
    return user if usable else None


def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise unauthorized()
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def citizen_access(
    session: Session, settings: Settings, tracking_code: str | None, pin: str | None
) -> Principal | None:
    """The citizen a tracking code and PIN open, None when neither was given.

    Raises:
        ProblemError: 422 naming the missing half, 401 for a wrong pair (the answer does not say
            which half was wrong), 429 while the issue is locked after repeated wrong PINs.
    """
    if tracking_code is None and pin is None:
        return None
    if tracking_code is None:
        raise invalid("tracking_code", "必填（与 pin 一起提供）")
    if pin is None:
        raise invalid("pin", "必填（与 tracking_code 一起提供）")
    access = await in_thread(check_pin, session, tracking_code, pin, settings)
    if access.result is PinCheck.OK and access.issue is not None:
        return citizen_principal(access.issue)
    metrics.PIN_FAILURES.inc()
    if access.result is PinCheck.LOCKED and access.locked_until is not None:
        wait = max(int((access.locked_until - datetime.now(UTC)).total_seconds()) + 1, 1)
        raise ProblemError(
            429,
            f"查询密码错误次数过多，请 {(wait + 59) // 60} 分钟后再试",
            slug="pin-locked",
            headers={"Retry-After": str(wait)},
        )
    raise ProblemError(
        401,
        "查询码或查询密码不正确",
        slug="wrong-pin",
        # RFC 9110 wants a challenge on every 401: the credentials here are the body's pair.
        headers={"WWW-Authenticate": 'TrackingCode realm="linkage"'},
    )


def unit_in_reach(session: Session, principal: Principal, code: str | None) -> Unit:
    """The unit ``code`` (default the principal's own) if it lies in their subtree: 422 naming
    ``unit`` for an unknown code, 403 naming it for a unit outside their jurisdiction."""
    unit = session.get(Unit, code or principal.unit_code or "")
    if unit is None:
        raise invalid("unit", "未知的单位代码")
    if not principal.within(unit.path):
        raise forbidden(f"{unit.name}不在您的辖区内", field="unit")
    return unit
