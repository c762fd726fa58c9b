"""Staff accounts: create, edit, disable, reset a password, and the first administrator.

Shared by the admin API, the admin pages (through the API) and the ``linkage users`` commands.
Every function checks everything before it adds anything, so a refusal changes nothing, and
writes its audit record in the same transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from api.admin.scope import (
    audit,
    conflict,
    department_in_scope,
    department_scope,
    missing,
    unit_in_scope,
)
from api.deps import Principal
from api.problems import ProblemError, forbidden, invalid
from api.security import hash_secret, temporary_password
from domain.administration import (
    binding_problem,
    password_problem,
    username_problem,
)
from domain.models import Role
from store.tables import Department, Unit, User

ACCOUNT_FIELDS = (
    "username",
    "display_name",
    "role",
    "unit_code",
    "department_code",
    "phone",
    "email",
    "active",
    "must_change_password",
)


@dataclass(frozen=True)
class NewAccount:
    username: str
    display_name: str
    role: str
    unit: str | None = None
    department: str | None = None
    phone: str | None = None
    email: str | None = None


def snapshot(user: User) -> dict[str, Any]:
    """What an audit record keeps of an account (never its hash)."""
    return {name: getattr(user, name) for name in ACCOUNT_FIELDS}


def scope_of_user(session: Session, user: User) -> str:
    """The path an account lives at: its unit's, or its department's county's."""
    if user.unit_code:
        unit = session.get(Unit, user.unit_code)
        return unit.path if unit else ""
    department = session.get(Department, user.department_code) if user.department_code else None
    return department_scope(session, department) if department else ""


def user_in_scope(session: Session, admin: Principal, username: str) -> User:
    """The account ``username`` when it lives in the admin's subtree (404 unknown, 403 outside)."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise missing("用户")
    if not admin.within(scope_of_user(session, user)):
        raise forbidden(f"用户 {username} 不在您的管辖范围内")
    return user


def check_binding(
    session: Session, admin: Principal, role: str, unit: str | None, department: str | None
) -> tuple[Role, str]:
    """The role and the scope path of an account bound as asked, all checked (422/403)."""
    try:
        chosen = Role(role)
    except ValueError:
        raise invalid("role", "须为 admin、supervisor、leader、clerk 或 department") from None
    problem = binding_problem(chosen, unit, department)
    if problem is not None:
        raise invalid(*problem)
    if unit:
        return chosen, unit_in_scope(session, admin, unit).path
    assert department is not None
    found = department_in_scope(session, admin, department)
    if not found.active:
        raise invalid("department", "该部门已停用")
    return chosen, department_scope(session, found)


def check_new(session: Session, admin: Principal, spec: NewAccount) -> tuple[Role, str]:
    """Every check of a new account but its password: field by field, as a form reads."""
    why = username_problem(spec.username)
    if why is not None:
        raise invalid("username", why)
    if not spec.display_name.strip():
        raise invalid("display_name", "不能为空")
    role, scope = check_binding(session, admin, spec.role, spec.unit, spec.department)
    if session.exec(select(User.id).where(User.username == spec.username)).first() is not None:
        raise conflict("username", f"用户名 {spec.username} 已存在")
    return role, scope


def build_account(spec: NewAccount, role: Role, password_hash: str, must_change: bool) -> User:
    return User(
        username=spec.username,
        password_hash=password_hash,
        display_name=spec.display_name.strip(),
        role=role.value,
        unit_code=spec.unit or None,
        department_code=spec.department or None,
        phone=spec.phone or None,
        email=spec.email or None,
        must_change_password=must_change,
    )


def create_account(
    session: Session, admin: Principal, spec: NewAccount, password: str | None
) -> tuple[User, str | None]:
    """Create an account; without a password a temporary one is made, returned once, and must be
    changed at first login.
    """
    role, scope = check_new(session, admin, spec)
    temporary = None
    if password is None:
        temporary = password = temporary_password()
    else:
        why = password_problem(password, spec.username)
        if why is not None:
            raise invalid("password", why)
    user = build_account(spec, role, hash_secret(password), must_change=temporary is not None)
    session.add(user)
    audit(session, admin, "user.create", "user", user.username, scope, after=snapshot(user))
    session.commit()
    return user, temporary


def update_account(
    session: Session, admin: Principal, username: str, changes: dict[str, Any]
) -> User:
    """Apply ``changes`` (display_name, role, unit, department, phone, email, disabled) to an
    account in the admin's subtree; a new unit or department must be in it too.
    """
    user = user_in_scope(session, admin, username)
    before = snapshot(user)
    role = changes.get("role", user.role)
    binding = "unit" in changes or "department" in changes or "role" in changes
    unit = changes.get("unit", user.unit_code)
    department = changes.get("department", user.department_code)
    if "unit" in changes and "department" not in changes and unit:
        department = None  # moving a person to a unit ends their department binding
    if "department" in changes and "unit" not in changes and department:
        unit = None
    if binding:
        check_binding(session, admin, role, unit, department)
    if "display_name" in changes and not str(changes["display_name"] or "").strip():
        raise invalid("display_name", "不能为空")
    disabled = changes.get("disabled")
    if disabled and user.username == admin.username:
        raise invalid("disabled", "不能停用自己的账号")
    user.role = role
    user.unit_code, user.department_code = unit or None, department or None
    for name in ("phone", "email"):
        if name in changes:
            setattr(user, name, changes[name] or None)
    if "display_name" in changes:
        user.display_name = str(changes["display_name"]).strip()
    if disabled is not None:
        user.active = not disabled
    after = snapshot(user)
    if after != before:
        session.add(user)
        audit(
            session,
            admin,
            "user.update",
            "user",
            username,
            scope_of_user(session, user),
            before=before,
            after=after,
        )
        session.commit()
    return user


def reset_password(
    session: Session, admin: Principal, username: str, password: str | None = None
) -> str:
    """Give an account a new password (a temporary one unless given), lift any lockout, and make
    the user choose their own at next login; returns the password to hand over."""
    user = user_in_scope(session, admin, username)
    given = password is not None
    if password is None:
        password = temporary_password()
    why = password_problem(password, user.username)
    if given and why is not None:
        raise invalid("password", why)
    user.password_hash = hash_secret(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    audit(
        session,
        admin,
        "user.password_reset",
        "user",
        username,
        scope_of_user(session, user),
        after={"password": password, "must_change_password": True},
    )
    session.commit()
    return password


def list_accounts(
    session: Session,
    admin: Principal,
    *,
    unit: str | None = None,
    role: str | None = None,
    query: str | None = None,
    limit: int = 200,
) -> list[User]:
    """Accounts in the admin's subtree (or in ``unit``'s, which must be in it), newest first."""
    statement = select(User).order_by(col(User.id).desc())  # the newest first
    root = unit_in_scope(session, admin, unit).path if unit else admin.unit_path
    if root is not None:
        in_units = select(Unit.code).where(col(Unit.path).startswith(root, autoescape=True))
        counties = select(Department.code).where(col(Department.county_code).in_(in_units))
        statement = statement.where(
            col(User.unit_code).in_(in_units) | col(User.department_code).in_(counties)
        )
    if role:
        statement = statement.where(User.role == role)
    if query:
        like = f"%{query}%"
        statement = statement.where(
            col(User.username).like(like) | col(User.display_name).like(like)
        )
    return list(session.exec(statement.limit(limit)))


class BootstrapRefused(Exception):
    """``linkage admin create`` would make a second first administrator."""


def bootstrap_admin(
    session: Session,
    actor: Principal,
    username: str,
    unit: str,
    password: str,
    *,
    force: bool = False,
) -> User:
    """The first administrator of a fresh database (``linkage admin create``).

    Raises:
        BootstrapRefused: an active admin exists and ``force`` is not set; the message names them.
        ProblemError: a field is wrong (the message names it).
    """
    existing = session.exec(
        select(User).where(User.role == Role.ADMIN.value, col(User.active).is_(True))
    ).all()
    if existing and not force:
        names = "、".join(f"{u.username}（{u.unit_code or '全部'}）" for u in existing[:5])
        raise BootstrapRefused(
            f"已有管理员：{names}。首个管理员只需创建一次，其他账号请由管理员在后台或用 "
            "`linkage users add` 创建；确需再建一个，请加 --force"
        )
    spec = NewAccount(
        username=username,
        display_name=f"{username}（系统管理员）",
        role=Role.ADMIN.value,
        unit=unit,
    )
    user, _ = create_account(session, actor, spec, password)
    return user


def problem_text(error: ProblemError) -> str:
    """One line for the command line: the detail, naming the field."""
    return (
        error.detail
        if error.field is None or error.field in error.detail
        else (f"{error.field}: {error.detail}")
    )
