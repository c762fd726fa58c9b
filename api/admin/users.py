"""``/api/v1/admin/users``: staff accounts (管理员、督查、负责人、经办人、部门账号)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from sqlmodel import Session

from api.admin.accounts import (
    NewAccount,
    create_account,
    list_accounts,
    reset_password,
    update_account,
    user_in_scope,
)
from api.admin.scope import NOT_BLANK, AdminDep
from api.admin.staff_import import import_staff
from api.deps import API_PREFIX, SessionDep, in_thread
from api.problems import responses
from domain import labels
from domain.administration import USERNAME_PATTERN
from store.tables import Department, Unit, User

router = APIRouter(prefix=f"{API_PREFIX}/admin/users", tags=["admin"])

RoleText = Literal["admin", "supervisor", "leader", "clerk", "department"]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, examples=["zhang.san"])
    display_name: str = Field(min_length=1, max_length=64, pattern=NOT_BLANK, examples=["张三"])
    role: RoleText
    unit: str | None = Field(default=None, max_length=32, description="所属单位代码（工作人员）")
    department: str | None = Field(default=None, max_length=64, description="所属部门（部门账号）")
    password: str | None = Field(
        default=None,
        max_length=256,
        description="初始密码；不填则生成临时密码（仅返回一次，首次登录须修改）",
        json_schema_extra={"format": "password"},
    )
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=128)


DisplayName = Annotated[str, Field(min_length=1, max_length=64, pattern=NOT_BLANK)]


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Optional, never null: a name is changed or left, not cleared (the schema says so).
    display_name: DisplayName | SkipJsonSchema[None] = None
    role: RoleText | SkipJsonSchema[None] = None  # changed or left, never cleared
    unit: str | None = Field(default=None, max_length=32)
    department: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=128)
    disabled: bool | None = Field(default=None, description="停用（账号不删除，审计记录仍指向它）")


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(
        default=None,
        max_length=256,
        description="新密码；不填则生成临时密码。无论哪种，用户下次登录都须修改",
        json_schema_extra={"format": "password"},
    )


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    role_label: str
    unit: str | None
    unit_name: str | None
    department: str | None
    department_name: str | None
    phone: str | None
    email: str | None
    active: bool
    must_change_password: bool
    locked: bool


class UserCreated(UserOut):
    temporary_password: str | None = Field(
        default=None, description="生成的临时密码，只在此返回一次"
    )


class PasswordIssued(BaseModel):
    username: str
    temporary_password: str | None = Field(description="生成的临时密码（自定密码时为空）")
    must_change_password: bool = True


class UserList(BaseModel):
    data: list[UserOut]
    count: int


def user_out(session: Session, user: User) -> dict[str, Any]:
    unit = session.get(Unit, user.unit_code) if user.unit_code else None
    department = session.get(Department, user.department_code) if user.department_code else None
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "role_label": labels.ROLE.get(user.role, user.role),
        "unit": user.unit_code,
        "unit_name": unit.name if unit else None,
        "department": user.department_code,
        "department_name": department.name if department else None,
        "phone": user.phone,
        "email": user.email,
        "active": user.active,
        "must_change_password": user.must_change_password,
        "locked": user.locked_until is not None and user.locked_until > datetime.now(UTC),
    }


@router.get("", response_model=UserList, responses=responses(401, 403, 422))
def list_users(
    admin: AdminDep,
    session: SessionDep,
    unit: Annotated[str | None, Query(max_length=32, description="只看该单位及其下级")] = None,
    role: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=64, description="用户名或姓名包含")] = None,
) -> UserList:
    """管理员辖区内的账号。"""
    users = list_accounts(session, admin, unit=unit, role=role, query=q)
    return UserList(data=[UserOut(**user_out(session, u)) for u in users], count=len(users))


@router.post(
    "", status_code=201, response_model=UserCreated, responses=responses(401, 403, 409, 422)
)
async def create_user(body: UserCreate, admin: AdminDep, session: SessionDep) -> UserCreated:
    """新建账号：工作人员绑定单位，部门账号绑定部门；单位须在管理员辖区内。"""
    spec = NewAccount(**body.model_dump(exclude={"password"}))
    user, temporary = await in_thread(create_account, session, admin, spec, body.password)
    return UserCreated(**user_out(session, user), temporary_password=temporary)


@router.get("/{username}", response_model=UserOut, responses=responses(401, 403, 404))
def get_user(username: str, admin: AdminDep, session: SessionDep) -> UserOut:
    """一个账号。"""
    return UserOut(**user_out(session, user_in_scope(session, admin, username)))


@router.patch("/{username}", response_model=UserOut, responses=responses(401, 403, 404, 422))
def patch_user(username: str, body: UserPatch, admin: AdminDep, session: SessionDep) -> UserOut:
    """修改账号：姓名、角色、单位或部门、联系方式；`disabled: true` 停用（不删除）。"""
    user = update_account(session, admin, username, body.model_dump(exclude_unset=True))
    return UserOut(**user_out(session, user))


@router.post(
    "/{username}/password-reset",
    response_model=PasswordIssued,
    responses=responses(401, 403, 404, 422),
)
async def password_reset(
    username: str, admin: AdminDep, session: SessionDep, body: PasswordReset | None = None
) -> PasswordIssued:
    """重置密码并解除锁定；用户下次登录须修改密码。"""
    given = body.password if body else None
    password = await in_thread(reset_password, session, admin, username, given)
    return PasswordIssued(username=username, temporary_password=None if given else password)


SHEET = "CSV 或 XLSX：姓名、手机、单位代码或单位名称、角色"


class ImportedRow(BaseModel):
    line: int = Field(description="表格中的行号（表头为第 1 行）")
    username: str
    display_name: str
    role: str
    unit: str | None
    department: str | None
    where: str
    temporary_password: str | None = Field(description="临时密码，只返回一次（试导入时为空）")


class ImportResult(BaseModel):
    dry_run: bool
    count: int
    data: list[ImportedRow]


@router.post("/import", response_model=ImportResult, responses=responses(401, 403, 422))
async def import_users(
    admin: AdminDep,
    session: SessionDep,
    file: Annotated[
        UploadFile, File(description="CSV 或 XLSX：姓名、手机、单位代码或单位名称、角色")
    ],
    dry_run: Annotated[bool, Query(description="只检查，不导入")] = False,
) -> ImportResult:
    """批量导入工作人员：逐行检查，任何一行有误则一个也不导入，并指出每个错误的行和列。

    用户名为手机号；每个账号生成临时密码（只返回一次），首次登录须修改。
    """
    content = await file.read()
    report = await in_thread(
        import_staff, session, admin, file.filename or "", content, dry_run=dry_run
    )
    rows = [
        ImportedRow(
            line=r.line,
            username=r.username,
            display_name=r.name,
            role=r.role,
            unit=r.unit,
            department=r.department,
            where=r.where,
            temporary_password=r.temporary_password,
        )
        for r in report.rows
    ]
    return ImportResult(dry_run=report.dry_run, count=len(rows), data=rows)
