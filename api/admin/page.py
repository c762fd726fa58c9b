"""The admin pages (系统管理) at ``/dashboard/admin``, beside the dashboard: one static page that
signs in and calls ``/api/v1/admin/``; its script and style are served by the dashboard's
static route."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.routes.dashboard import DASHBOARD, PAGE_HEADERS

PAGE = DASHBOARD / "templates" / "admin.html"

router = APIRouter(include_in_schema=False)


@router.get("/dashboard/admin")
def admin_page() -> FileResponse:
    """The admin page; it shows a sign-in form until an admin's token is in sessionStorage."""
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
