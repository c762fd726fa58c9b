"""Staff imported from the sheet a county keeps (CSV or XLSX): 姓名, 手机, 单位代码 or 单位名称,
角色.

Every row is checked before anything is written; one bad row and nothing is imported, and the
answer names every bad row by its line in the sheet and its column. A dry run checks the same way
and stops there. The username is the mobile number; each account gets its own temporary password,
returned once, to be changed at first login.
"""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from api.admin.accounts import NewAccount, build_account, snapshot
from api.admin.scope import audit, department_scope
from api.deps import Principal
from api.problems import FieldError, ProblemError, invalid
from api.security import hash_secret, temporary_password
from domain.administration import account_role, binding_problem, mobile_problem
from domain.models import Role
from store.tables import Department, Unit, User

MAX_ROWS = 5000
NAME, MOBILE, UNIT_CODE, UNIT_NAME, ROLE = "姓名", "手机", "单位代码", "单位名称", "角色"
ALIASES = {
    "手机号": MOBILE,
    "手机号码": MOBILE,
    "联系电话": MOBILE,
    "单位": UNIT_NAME,
    "职务": ROLE,
}


@dataclass
class StaffRow:
    line: int
    username: str
    name: str
    role: str
    unit: str | None
    department: str | None
    where: str
    scope: str
    temporary_password: str | None = None


@dataclass
class ImportReport:
    dry_run: bool
    rows: list[StaffRow] = field(default_factory=list)


def read_sheet(filename: str, content: bytes) -> list[dict[str, str]]:
    """The sheet's rows as dicts by header (the first row), in order; line n is list index n-2.

    Raises:
        ProblemError: 422 naming ``file`` when it is neither a readable CSV nor XLSX.
    """
    if filename.lower().endswith(".xlsx") or content[:2] == b"PK":
        return _xlsx_rows(content)
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise invalid("file", "无法识别的文件编码（请用 UTF-8 或 GBK 的 CSV，或 XLSX）")
    reader = csv.reader(io.StringIO(text))
    return _by_header([[c or "" for c in row] for row in reader])


def _xlsx_rows(content: bytes) -> list[dict[str, str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise invalid("file", f"不是有效的 XLSX 文件（{type(error).__name__}）") from None
    sheet = book.worksheets[0]
    rows = [
        ["" if v is None else _cell(v) for v in row] for row in sheet.iter_rows(values_only=True)
    ]
    book.close()
    return _by_header(rows)


def _cell(value: Any) -> str:
    # A mobile number typed into Excel is a number: 13800001234.0 must read as 13800001234.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _by_header(rows: list[list[str]]) -> list[dict[str, str]]:
    if not rows:
        raise invalid("file", "文件为空")
    header = [ALIASES.get(h.strip(), h.strip()) for h in rows[0]]
    missing = [h for h in (NAME, MOBILE, ROLE) if h not in header]
    if UNIT_CODE not in header and UNIT_NAME not in header:
        missing.append(f"{UNIT_CODE}或{UNIT_NAME}")
    if missing:
        raise invalid("file", f"第 1 行缺少列：{'、'.join(missing)}")
    if len(rows) - 1 > MAX_ROWS:
        raise invalid("file", f"一次最多导入 {MAX_ROWS} 行")
    return [
        {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
        for row in rows[1:]
    ]


class _Places:
    """The units and departments in the admin's subtree, by code and by name."""

    def __init__(self, session: Session, admin: Principal) -> None:
        statement = select(Unit).where(col(Unit.active).is_(True))
        if admin.unit_path is not None:
            statement = statement.where(col(Unit.path).startswith(admin.unit_path, autoescape=True))
        units = list(session.exec(statement))
        self.units = {u.code: u for u in units}
        self.unit_names: dict[str, list[Unit]] = {}
        for unit in units:
            self.unit_names.setdefault(unit.name, []).append(unit)
        departments = [
            d
            for d in session.exec(select(Department).where(col(Department.active).is_(True)))
            if admin.within(department_scope(session, d))
        ]
        self.departments = {d.code: d for d in departments}
        self.department_names = {d.name: d for d in departments} | {
            d.short_name: d for d in departments
        }
        self.session = session


def _resolve(places: _Places, role: Role, code: str, name: str) -> tuple[str, str, str, str]:
    """(unit or "", department or "", shown name, scope path) — or raise (column, message)."""
    column = UNIT_CODE if code else UNIT_NAME
    if role is Role.DEPARTMENT:
        department = places.departments.get(code) if code else places.department_names.get(name)
        if department is None:
            raise _RowError(column, "不是您辖区内的部门")
        return "", department.code, department.name, department_scope(places.session, department)
    if code:
        unit = places.units.get(code)
        if unit is None:
            raise _RowError(UNIT_CODE, "不是您辖区内的单位代码")
    else:
        found = places.unit_names.get(name, [])
        if not found:
            raise _RowError(UNIT_NAME, "不是您辖区内的单位名称")
        if len(found) > 1:
            raise _RowError(UNIT_NAME, f"有 {len(found)} 个同名单位，请填单位代码")
        unit = found[0]
    return unit.code, "", unit.name, unit.path


class _RowError(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def check_rows(
    session: Session, admin: Principal, rows: list[dict[str, str]]
) -> tuple[list[StaffRow], list[FieldError]]:
    """Every row checked: the accounts it would make, and every problem by line and column."""
    places = _Places(session, admin)
    taken = set(session.exec(select(User.username)))
    seen: dict[str, int] = {}
    accepted: list[StaffRow] = []
    errors: list[FieldError] = []
    for index, row in enumerate(rows):
        line = index + 2  # the header is line 1
        if not any(row.values()):
            continue  # a blank line at the end of a sheet is no row
        try:
            accepted.append(_check_row(places, row, line, taken, seen))
        except _RowError as error:
            errors.append(FieldError(field=f"rows.{line}.{error.column}", message=error.message))
    return accepted, errors


def _check_row(
    places: _Places, row: dict[str, str], line: int, taken: set[str], seen: dict[str, int]
) -> StaffRow:
    name = row.get(NAME, "")
    if not name or len(name) > 64:
        raise _RowError(NAME, "必填，且不超过 64 字")
    mobile = row.get(MOBILE, "").replace(" ", "").replace("-", "")
    why = mobile_problem(mobile)
    if why is not None:
        raise _RowError(MOBILE, why)
    if mobile in taken:
        raise _RowError(MOBILE, f"账号 {mobile} 已存在")
    if mobile in seen:
        raise _RowError(MOBILE, f"与第 {seen[mobile]} 行重复")
    role = account_role(row.get(ROLE, ""))
    if role is None:
        raise _RowError(ROLE, "须为 管理员、督查、负责人、经办人、部门 之一")
    code, unit_name = row.get(UNIT_CODE, ""), row.get(UNIT_NAME, "")
    if not code and not unit_name:
        raise _RowError(UNIT_CODE, f"{UNIT_CODE}和{UNIT_NAME}至少填一项")
    unit, department, where, scope = _resolve(places, role, code, unit_name)
    problem = binding_problem(role, unit or None, department or None)
    if problem is not None:
        raise _RowError(ROLE, problem[1])
    seen[mobile] = line
    return StaffRow(line, mobile, name, role.value, unit or None, department or None, where, scope)


def import_staff(
    session: Session, admin: Principal, filename: str, content: bytes, *, dry_run: bool = False
) -> ImportReport:
    """Check the whole sheet; unless it is a dry run and every row is good, create the accounts in
    one transaction.

    Raises:
        ProblemError: 422 naming ``file`` (unreadable) or every bad row (``rows.<line>.<column>``).
    """
    accepted, errors = check_rows(session, admin, read_sheet(filename, content))
    if errors:
        detail = "；".join(
            f"第 {e.field.split('.')[1]} 行「{e.field.split('.', 2)[2]}」：{e.message}"
            for e in errors[:20]
        )
        more = f"（共 {len(errors)} 处）" if len(errors) > 20 else ""
        raise ProblemError(
            422,
            f"未导入任何账号：{detail}{more}",
            field=errors[0].field,
            errors=errors,
            slug="import-rejected",
        )
    report = ImportReport(dry_run=dry_run, rows=accepted)
    if dry_run or not accepted:
        return report
    passwords = [temporary_password() for _ in accepted]
    # argon2 is slow by design (a fifth of a second); it releases the GIL, so hash side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        hashes = list(pool.map(hash_secret, passwords))
    for row, password, hashed in zip(accepted, passwords, hashes, strict=True):
        spec = NewAccount(row.username, row.name, row.role, row.unit, row.department, row.username)
        user = build_account(spec, Role(row.role), hashed, must_change=True)
        session.add(user)
        audit(session, admin, "user.import", "user", user.username, row.scope, after=snapshot(user))
        row.temporary_password = password
    session.commit()
    return report
