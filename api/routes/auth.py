"""Staff sign-in (OAuth2 password flow) and "who am I"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import API_PREFIX, CurrentPrincipal, SessionDep, SettingsDep, in_thread
from api.problems import responses, unauthorized
from api.schemas import Me, Token, UnitOut
from api.security import authenticate, create_access_token
from domain import labels
from store.tables import Department, Unit

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
    """用户名和密码换取访问令牌（JWT，Bearer）。"""
    user = await in_thread(authenticate, session, form.username, form.password)
    if user is None:
        raise unauthorized("用户名或密码错误")
    return Token(access_token=create_access_token(user, settings))


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
