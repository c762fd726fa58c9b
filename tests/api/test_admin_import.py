"""Staff import from the sheets counties keep: all rows or none, every bad row named."""

from __future__ import annotations

import csv
import io
import random

from openpyxl import Workbook
from sqlmodel import Session, col, select

from store.tables import User
from tests.api.admin_helpers import footprint
from tests.api.conftest import TOWNSHIP, VILLAGE, Api, problem

HEADER = ["姓名", "手机", "单位代码", "单位名称", "角色"]


def mobiles(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"1{rng.choice('3589')}{rng.randrange(10**9):09d}" for _ in range(count)]


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


async def upload(api: Api, content: bytes, filename: str, *, dry_run: bool = False) -> object:
    return await api.http.post(
        "/admin/users/import",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (filename, content)},
        headers=await api.headers("county-admin"),
    )


async def test_two_hundred_rows_with_one_bad_import_nothing_and_name_it(api: Api) -> None:
    numbers = mobiles(200, seed=1)
    rows = [[f"网格员{i}", number, VILLAGE, "", "网格员"] for i, number in enumerate(numbers)]
    rows[136][1] = "1380000"  # line 138 of the sheet (the header is line 1): a short mobile
    before = footprint(api.engine)
    for dry_run in (True, False):
        r = await upload(api, csv_bytes(rows), "staff.csv", dry_run=dry_run)
        body = problem(r, 422)  # type: ignore[arg-type]
        assert body["field"] == "rows.138.手机"
        assert [e["field"] for e in body["errors"]] == ["rows.138.手机"]
        assert "第 138 行「手机」" in body["detail"]
    assert footprint(api.engine) == before
    with Session(api.engine) as session:
        found = session.exec(select(User).where(col(User.username).in_(numbers))).all()
    assert found == []


async def test_every_bad_row_is_named(api: Api) -> None:
    good = mobiles(3, seed=2)
    rows = [
        ["张三", good[0], VILLAGE, "", "经办人"],
        ["", good[1], VILLAGE, "", "经办人"],  # line 3: no name
        ["李四", good[0], VILLAGE, "", "经办人"],  # line 4: the mobile of line 2 again
        ["王五", good[2], "611025101001", "", "经办人"],  # line 5: fine for the county admin
        ["赵六", "13912345678", "", "不存在的村", "经办人"],  # line 6: unknown name
        ["钱七", "13912345679", VILLAGE, "", "村长"],  # line 7: no such role
        ["孙八", "13912345670", "", "永乐街道", "部门"],  # line 8: a department role at a unit
    ]
    body = problem(await upload(api, csv_bytes(rows), "staff.csv"), 422)  # type: ignore[arg-type]
    assert [e["field"] for e in body["errors"]] == [
        "rows.3.姓名",
        "rows.4.手机",
        "rows.6.单位名称",
        "rows.7.角色",
        "rows.8.单位名称",
    ]


async def test_a_good_xlsx_imports_every_row_with_its_own_temporary_password(api: Api) -> None:
    numbers = mobiles(4, seed=3)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "手机号", "单位名称", "角色"])  # another header shape counties use
    sheet.append(["周书记", int(numbers[0]), "永乐街道", "负责人"])  # Excel keeps a number
    sheet.append(["吴经办", numbers[1], "新城社区居委会", "clerk"])
    sheet.append(["郑督查", numbers[2], "永乐街道", "督查"])
    sheet.append(["水利联络员", numbers[3], "水利", "部门"])
    buffer = io.BytesIO()
    book.save(buffer)

    dry = await upload(api, buffer.getvalue(), "staff.xlsx", dry_run=True)
    assert dry.status_code == 200, dry.text  # type: ignore[attr-defined]
    assert dry.json()["count"] == 4 and dry.json()["dry_run"]  # type: ignore[attr-defined]
    with Session(api.engine) as session:
        assert not session.exec(select(User).where(col(User.username).in_(numbers))).all()

    r = await upload(api, buffer.getvalue(), "staff.xlsx")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    data = r.json()["data"]  # type: ignore[attr-defined]
    passwords = [row["temporary_password"] for row in data]
    assert all(passwords) and len(set(passwords)) == 4
    assert [(row["line"], row["role"], row["unit"] or row["department"]) for row in data] == [
        (2, "leader", TOWNSHIP),
        (3, "clerk", VILLAGE),
        (4, "supervisor", TOWNSHIP),
        (5, "department", "zhenan-shuili"),
    ]
    with Session(api.engine) as session:
        users = session.exec(select(User).where(col(User.username).in_(numbers))).all()
    assert len(users) == 4 and all(u.must_change_password for u in users)
    login = await api.http.post(
        "/auth/token", data={"username": numbers[1], "password": passwords[1]}
    )
    assert problem(login, 403)["type"].endswith("password-change-required")


async def test_a_township_admin_cannot_import_outside_its_township(api: Api) -> None:
    # county-admin made no township admin here; use the API to make one for this test.
    from tests.api.admin_helpers import STRONG, bearer, token

    r = await api.http.post(
        "/admin/users",
        headers=await api.headers("county-admin"),
        json={
            "username": "import-yl-admin",
            "display_name": "永乐管理员",
            "role": "admin",
            "unit": TOWNSHIP,
            "password": STRONG,
        },
    )
    assert r.status_code == 201, r.text
    headers = bearer(await token(api.http, "import-yl-admin"))
    rows = [["外镇人", mobiles(1, seed=4)[0], "611025101001", "", "经办人"]]
    before = footprint(api.engine)
    r = await api.http.post(
        "/admin/users/import", files={"file": ("s.csv", csv_bytes(rows))}, headers=headers
    )
    assert problem(r, 422)["field"] == "rows.2.单位代码"
    assert footprint(api.engine) == before
