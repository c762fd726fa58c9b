"""Staff sign-in (OAuth2 password flow) and "who am I"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api import security
from api.deps import API_PREFIX, CurrentPrincipal, SessionDep, SettingsDep, in_thread
from api.problems import ProblemError, invalid, responses, unauthorized
from api.schemas import Me, Token, UnitOut
from api.security import Login, LoginCheck, create_access_token, hash_secret
from domain import labels
from domain.administration import password_problem
from store.tables import Department, Unit, User

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])


class PasswordForm(OAuth2PasswordRequestForm):
    """The OAuth2 password form, saying in its schema that username and password are not blank
    (FastAPI reads an empty form field as a missing one)."""

    def __init__(
        self,
        *,
        username: Annotated[str, Form(min_length=1)],
        password: Annotated[str, Form(min_length=1, json_schema_extra={"format": "password"})],
        # A form field cannot be null: absent is the only way to leave it out.
        grant_type: Annotated[str, Form(pattern="^password$")] = "password",
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


@router.post("/token", response_model=Token, responses=responses(401, 422))
async def login(
    form: Annotated[PasswordForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """用户名和密码换取访问令牌（JWT，Bearer）。

    连续输错 5 次锁定 15 分钟（429）；管理员重置密码后须先修改密码（403
    `password-change-required`，改用 `POST /auth/password`）。
    """
    attempt = await in_thread(security.login, session, form.username, form.password)
    user = _signed_in(attempt)
    return Token(access_token=create_access_token(user, settings))


def _signed_in(attempt: Login) -> User:
    if attempt.result is LoginCheck.LOCKED and attempt.locked_until is not None:
        wait = max(int((attempt.locked_until - datetime.now(UTC)).total_seconds()) + 1, 1)
        raise ProblemError(
            429,
            f"密码错误次数过多，账号已锁定，请 {(wait + 59) // 60} 分钟后再试",
            slug="login-locked",
            headers={"Retry-After": str(wait)},
        )
    if attempt.result is LoginCheck.MUST_CHANGE:
        raise ProblemError(
            403,
            "密码已由管理员重置，请先修改密码（POST /api/v1/auth/password）",
            slug="password-change-required",
            field="password",
        )
    if attempt.result is not LoginCheck.OK or attempt.user is None:
        raise unauthorized("用户名或密码错误")
    return attempt.user


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


def _change_password(session: Session, body: PasswordChange) -> None:
    attempt = security.login(session, body.username, body.current_password)
    if attempt.result is not LoginCheck.MUST_CHANGE:
        _signed_in(attempt)
    user = attempt.user
    assert user is not None
    why = password_problem(body.new_password, user.username)
    if why is None and body.new_password == body.current_password:
        why = "新密码不能与原密码相同"
    if why is not None:
        raise invalid("new_password", why)
    user.password_hash = hash_secret(body.new_password)
    user.must_change_password = False
    session.add(user)
    session.commit()


@router.post("/password", status_code=204, responses=responses(401, 422, 429))
async def change_password(body: PasswordChange, session: SessionDep) -> Response:
    """修改本人密码（原密码验证；管理员重置后的首次登录须经此处）。"""
    await in_thread(_change_password, session, body)
    return Response(status_code=204)


@router.get("/me", response_model=Me, responses=responses(401))
def me(principal: CurrentPrincipal, session: SessionDep) -> Me:
    """当前调用者：角色、所属单位或部门。"""
    unit = session.get(Unit, principal.unit_code) if principal.unit_code else None
    department = (
        session.get(Department, principal.department_code) if principal.department_code else None
    )
    return Me(
        username=principal.username,
        display_name=principal.name,
        role=principal.role.value,
        role_label=labels.ROLE.get(principal.role.value, principal.role.value),
        unit=UnitOut(code=unit.code, name=unit.name) if unit else None,
        department=UnitOut(code=department.code, name=department.name) if department else None,
    )
