"""The supervisors' dashboard (督查看板) at ``/dashboard``: one static page that reads the API.

Everything it needs is served from here — the page, its script and style, and plotly.js from the
installed ``plotly`` package — so it works on a network with no internet. The page holds no data
of its own: it signs in against ``/api/v1/auth/token`` and shows what the API lets the reader see.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from api.problems import not_found

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard"
PAGE = DASHBOARD / "templates" / "index.html"
STATIC = DASHBOARD / "static"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

# The page, its own script and plotly; styles inline in plotly's SVG need 'unsafe-inline'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def plotly_js() -> Path:
    """plotly.min.js inside the installed Python package (found without importing plotly)."""
    spec = find_spec("plotly")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "package_data" / "plotly.min.js"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("plotly.min.js: the plotly package is not installed")


def _page() -> FileResponse:
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/dashboard")
def dashboard() -> FileResponse:
    """The dashboard page; it shows a sign-in form until a token is in sessionStorage."""
    return _page()


@router.get("/dashboard/issues/{issue_id}")
def dashboard_issue(issue_id: Annotated[str, PathParam(max_length=64)]) -> FileResponse:
    """The same page, opening one issue's timeline (the links in notifications point here)."""
    return _page()


@router.get("/dashboard/deliberations")
def dashboard_deliberations() -> FileResponse:
    """The same page on its deliberations view (协商议事): open, awaiting decision, implementing,
    awaiting evaluation."""
    return _page()


@router.get("/dashboard/deliberations/{deliberation_id}")
def dashboard_deliberation(
    deliberation_id: Annotated[str, PathParam(max_length=64)],
) -> FileResponse:
    """The same page, opening one deliberation's timeline (links from issues and notices)."""
    return _page()


@router.get("/dashboard/duties")
def dashboard_duties() -> FileResponse:
    """The same page on its duties view (值班职责): on-time shares, 村务公开, patrols, meetings."""
    return _page()


@router.get("/dashboard/duties/{duty_id}")
def dashboard_duty(duty_id: Annotated[str, PathParam(max_length=200)]) -> FileResponse:
    """The same page, opening one duty run (the links in the duties' notices point here)."""
    return _page()


@router.get("/dashboard/static/vendor/plotly.min.js")
def plotly() -> FileResponse:
    return FileResponse(
        plotly_js(),
        media_type=MEDIA_TYPES[".js"],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/dashboard/static/{name}")
def static(name: Annotated[str, PathParam(max_length=64)]) -> FileResponse:
    """The page's own script and style; nothing outside ``api/dashboard/static``."""
    files = {p.name: p for p in STATIC.iterdir() if p.suffix in MEDIA_TYPES}
    if name not in files:
        raise not_found("文件不存在")
    return FileResponse(
        files[name],
        media_type=MEDIA_TYPES[files[name].suffix],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
