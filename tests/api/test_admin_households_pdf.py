"""The households' printable sheet as an A4 PDF in Chinese, read back by text extraction."""

from __future__ import annotations

import io

import pypdf
from reportlab.lib.pagesizes import A4

from tests.api.admin_helpers import footprint
from tests.api.conftest import Api, problem

VILLAGE = "611025105204"  # 元坪村委会: no other test issues its households


async def test_the_households_sheet_is_an_a4_pdf_with_every_code_in_chinese(api: Api) -> None:
    admin = await api.headers("county-admin")
    r = await api.http.post(
        "/admin/households", json={"village": VILLAGE, "count": 7}, headers=admin
    )
    assert r.status_code == 201, r.text
    codes = [h["code"] for h in r.json()["data"]]
    sheet = await api.http.get(
        "/admin/households/sheet.pdf", params={"village": VILLAGE}, headers=admin
    )
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"] == "application/pdf"
    assert sheet.headers["cache-control"] == "no-store"
    reader = pypdf.PdfReader(io.BytesIO(sheet.content))
    page = reader.pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (
        round(A4[0]),
        round(A4[1]),
    )
    text = "".join(p.extract_text() for p in reader.pages)
    assert f"元坪村委会（{VILLAGE}）投票户码，共 {len(codes)} 户" in text
    assert "每户一票" in text and "第 7 户" in text
    assert all(code in text for code in codes)


async def test_the_pdf_sheet_is_refused_outside_the_admins_subtree_and_to_non_admins(
    api: Api,
) -> None:
    before = footprint(api.engine)
    township_leader = await api.headers("township-611025001")
    r = await api.http.get(
        "/admin/households/sheet.pdf", params={"village": VILLAGE}, headers=township_leader
    )
    assert problem(r, 403)
    assert problem(
        await api.http.get("/admin/households/sheet.pdf", params={"village": VILLAGE}), 401
    )
    r = await api.http.get(
        "/admin/households/sheet.pdf",
        params={"village": "6110251052"},
        headers=await api.headers("county-admin"),
    )
    assert problem(r, 422)["field"] == "village"
    assert footprint(api.engine) == before
