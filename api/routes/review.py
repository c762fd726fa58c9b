"""The review page (复核与议题) at ``/dashboard/review``, beside the dashboard: supervisors'
list of issues marked invalid (无效), with the reason, the issue a duplicate repeats and the
overturn/uphold buttons, and a village's list of the topics its villagers proposed.

One static page that signs in like the dashboard (the same token) and calls ``/api/v1``; its
script is served by the dashboard's static route.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.routes.dashboard import DASHBOARD, PAGE_HEADERS

PAGE = DASHBOARD / "templates" / "review.html"

router = APIRouter(include_in_schema=False)


@router.get("/dashboard/review")
def review_page() -> FileResponse:
    """The review page; it shows a sign-in form until a token is in sessionStorage."""
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
