"""The rules of administration, pure: which roles exist for people, what each is bound to, what a
password must be, and when repeated failed logins lock an account.

The API, the CLI and the staff import apply these same functions, so a rule is written once.
"""

from __future__ import annotations

import re
from datetime import timedelta

from domain.models import Role

# Roles an admin may give a person; citizens use a tracking code and PIN, never an account.
UNIT_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.LEADER, Role.CLERK)
ACCOUNT_ROLES = (*UNIT_ROLES, Role.DEPARTMENT)

PASSWORD_MIN_LENGTH = 10
LOGIN_ATTEMPTS = 5  # consecutive failures that lock an account
LOGIN_LOCKOUT = timedelta(minutes=15)

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)
# A mainland mobile number: what counties keep in their staff sheets, and the imported username.
MOBILE_PATTERN = r"^1[3-9]\d{9}$"
_MOBILE = re.compile(MOBILE_PATTERN)

# Names a county's staff sheet uses for roles, beside the codes themselves.
ROLE_NAMES: dict[str, Role] = {
    "管理员": Role.ADMIN,
    "系统管理员": Role.ADMIN,
    "督查": Role.SUPERVISOR,
    "督查员": Role.SUPERVISOR,
    "负责人": Role.LEADER,
    "领导": Role.LEADER,
    "书记": Role.LEADER,
    "主任": Role.LEADER,
    "经办人": Role.CLERK,
    "网格员": Role.CLERK,
    "办事员": Role.CLERK,
    "部门": Role.DEPARTMENT,
    **{role.value: role for role in ACCOUNT_ROLES},
}


def account_role(text: str) -> Role | None:
    """The account role a code or a sheet's Chinese name stands for; None for anything else."""
    return ROLE_NAMES.get(text.strip().lower()) or ROLE_NAMES.get(text.strip())


def binding_problem(role: Role, unit: str | None, department: str | None) -> tuple[str, str] | None:
    """(field, message) when a role's binding is wrong: staff belong to a unit, a department's
    account to a department, never both."""
    if role not in ACCOUNT_ROLES:
        return "role", "须为 admin、supervisor、leader、clerk 或 department"
    if role is Role.DEPARTMENT:
        if not department:
            return "department", "部门账号须指定所属部门"
        if unit:
            return "unit", "部门账号不属于单位，请只填 department"
        return None
    if not unit:
        return "unit", "须指定所属单位"
    if department:
        return "department", "单位工作人员不属于部门，请只填 unit"
    return None


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why a password is refused, or None: long enough, letters and digits, not the username."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"密码至少 {PASSWORD_MIN_LENGTH} 位"
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return "密码须同时包含字母和数字"
    if username and username.lower() in password.lower():
        return "密码不能包含用户名"
    if len(set(password)) < 4:
        return "密码过于简单"
    return None


def username_problem(username: str) -> str | None:
    if not _USERNAME.match(username):
        return "用户名为 2–64 位字母、数字或 . _ @ -，以字母或数字开头"
    return None


def mobile_problem(phone: str) -> str | None:
    return None if _MOBILE.match(phone) else "须为 11 位手机号"
