"""The phone pages at ``/m/``: small static pages (Chinese) with one script and one style sheet
of the app's own, no CDN, each page a few KB, for a cheap phone on a slow link. ``/m/sw.js`` is
the service worker that keeps the pages and the places for use without a signal; the field pages
queue their submissions in the phone's storage and send them when the signal returns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse

from api.problems import not_found

HERE = Path(__file__).resolve().parent
PAGES = {p.stem: p for p in (HERE / "pages").glob("*.html")}
STATIC = HERE / "static"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/m")
def bare() -> RedirectResponse:
    return RedirectResponse("/m/", status_code=308)


@router.get("/m/")
def home() -> FileResponse:
    return FileResponse(PAGES["index"], media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/m/sw.js")
def service_worker() -> FileResponse:
    # Served from /m/ so that its scope is the phone pages, and never cached stale.
    return FileResponse(STATIC / "sw.js", media_type=MEDIA_TYPES[".js"], headers=HEADERS)


@router.get("/m/static/{name}")
def static(name: Annotated[str, PathParam(max_length=64)]) -> FileResponse:
    files = {p.name: p for p in STATIC.iterdir() if p.suffix in MEDIA_TYPES and p.name != "sw.js"}
    if name not in files:
        raise not_found("文件不存在")
    return FileResponse(files[name], media_type=MEDIA_TYPES[files[name].suffix], headers=HEADERS)


@router.get("/m/{page}")
def page(page: Annotated[str, PathParam(max_length=32)]) -> FileResponse:
    if page not in PAGES or page == "index":
        raise not_found("页面不存在")
    return FileResponse(PAGES[page], media_type="text/html; charset=utf-8", headers=HEADERS)
