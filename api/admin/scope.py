"""Who may administer what: admins only, each inside the subtree of their unit; and the audit
record every action writes in the transaction of the change itself.

A refusal raises before anything is added to the session, so it changes nothing. The command line
acts as an admin attached to no unit (``cli_admin``): whoever runs it on the server holds the
database anyway, and its records name the operating-system account. With ``--as`` it acts as one
administrator's account instead (``acting_admin``), inside that admin's subtree.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends
from sqlmodel import Session, select

from api.deps import CurrentPrincipal, Principal, principal_for_user
from api.inputs import CONTROL_CLASS
from api.problems import ProblemError, forbidden, invalid, not_found
from domain.models import Role, UnitKind
from store.tables import AuditRecord, Department, Unit, User

# Keys whose values never reach an audit record or an answer.
SECRET_KEYS = frozenset({"password", "password_hash", "secret", "key", "key_hash", "token"})
REDACTED = "***"
# A name: something besides spaces, and no control character (api.inputs refuses those).
NOT_BLANK = f"^[^{CONTROL_CLASS}]*[^\\s{CONTROL_CLASS}][^{CONTROL_CLASS}]*$"


def require_admin(principal: CurrentPrincipal) -> Principal:
    if principal.role is not Role.ADMIN:
        raise forbidden("仅系统管理员可以进行管理操作")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def cli_admin() -> Principal:
    """The command line's actor: every unit, named after the account that runs it."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        who = "unknown"
    return Principal(username=f"cli:{who}", role=Role.ADMIN, name="命令行")


def acting_admin(session: Session, username: str) -> Principal:
    """An administrator's account acting from the command line (``--as``): scoped to their
    unit's subtree and audited under their name, as if they used the admin pages.

    Raises:
        ProblemError: 422 naming ``as`` for an unknown or disabled account or one that is no
            administrator.
    """
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise invalid("as", "没有这个启用中的账号")
    if user.role != Role.ADMIN:
        raise invalid("as", "该账号不是管理员")
    return principal_for_user(session, user)


def unit_in_scope(session: Session, admin: Principal, code: str, field: str = "unit") -> Unit:
    """The active unit ``code``, when it lies in the admin's subtree.

    Raises:
        ProblemError: 422 for an unknown code, 403 for a unit outside the admin's subtree.
    """
    unit = session.get(Unit, code)
    if unit is None or not unit.active:
        raise invalid(field, "未知的单位代码")
    if not admin.within(unit.path):
        raise forbidden(f"{unit.name}不在您的管辖范围内", field=field)
    return unit


def department_scope(session: Session, department: Department) -> str:
    """A department's scope: the path of its county (its county's admins manage it)."""
    county = session.get(Unit, department.county_code)
    return county.path if county else f"/{department.county_code}/"


def department_in_scope(
    session: Session, admin: Principal, code: str, field: str = "department"
) -> Department:
    """The department ``code`` when its county lies in the admin's subtree (403 otherwise)."""
    department = session.get(Department, code)
    if department is None:
        raise invalid(field, "未知的部门代码")
    if not admin.within(department_scope(session, department)):
        raise forbidden(f"{department.name}不在您的管辖范围内", field=field)
    return department


def require_county_admin(session: Session, admin: Principal) -> str:
    """County-wide reference data (categories) is for admins of a county or above; returns the
    scope path their records carry ("" for an admin attached to no unit)."""
    if admin.unit_path is None:
        return ""
    unit = session.get(Unit, admin.unit_code) if admin.unit_code else None
    if unit is None or unit.kind not in (UnitKind.COUNTY, UnitKind.CITY, UnitKind.PROVINCE):
        raise forbidden("事项类别是全县的基础数据，仅县级及以上管理员可以修改")
    return unit.path


def redact(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy with secrets replaced (nested dicts too): what audit records and answers hold."""
    if values is None:
        return None
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECRET_KEYS and value not in (None, ""):
            out[key] = REDACTED
        elif isinstance(value, dict):
            out[key] = redact(value)
        else:
            out[key] = value
    return out


def audit(
    session: Session,
    admin: Principal,
    action: str,
    target_kind: str,
    target: str,
    scope_path: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add (not commit) the record of one action: it lands with the change or not at all."""
    record = AuditRecord(
        at=datetime.now(UTC),
        actor=admin.username,
        actor_role=admin.role.value,
        action=action,
        target_kind=target_kind,
        target=target,
        scope_path=scope_path,
        before=redact(before),
        after=redact(after),
    )
    session.add(record)
    return record


def conflict(field: str, detail: str) -> ProblemError:
    return ProblemError(409, detail, field=field, slug="conflict")


def missing(what: str) -> ProblemError:
    return not_found(f"{what}不存在")
