"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served whole
from this application.

FastAPI's own pages load their script, style and favicon from public CDNs: on a county's
政务外网 or intranet, with no route to the internet, ``/docs`` is a blank page. The same Swagger UI
and ReDoc bundles come here from the installed ``fastapi-offline`` package (pinned in uv.lock),
which vendors swagger-ui-dist and ReDoc's standalone bundle; the pages are FastAPI's own HTML
pointed at them, so they look as before and show the same Chinese descriptions.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"
ASSETS_URL = f"{DOCS_URL}/static"
# swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png
ASSETS = Path(str(files("fastapi_offline") / "static"))
REDOC_JS_URL = f"{REDOC_URL}/redoc.standalone.js"
# ReDoc's side menu shows Redocly's logo from Redocly's CDN, with no option to turn it off
# (Redocly/redoc#2108): the bundle is served with that address swapped for an empty image.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"

# Swagger UI's validator badge asks validator.swagger.io about the spec on any host but localhost.
# FastAPI's layout shows no badge; with no validator, none can appear if the layout changes.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def install(app: FastAPI) -> None:
    """Serve the vendored assets under ``/docs/static`` and the two pages that use them.

    The app must be built with ``docs_url=None, redoc_url=None``, so FastAPI's CDN pages are off.
    """
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the documentation pages need the app's openapi_url")
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    def root(request: Request) -> str:
        """The prefix a reverse proxy serves the app under, so the pages' links still resolve."""
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        prefix = root(request)
        return get_swagger_ui_html(
            openapi_url=f"{prefix}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{prefix}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{prefix}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{prefix}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_JS_URL, include_in_schema=False)
    def redoc_js() -> Response:
        return Response(
            redoc_bundle(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        prefix = root(request)
        return get_redoc_html(
            openapi_url=f"{prefix}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{prefix}{REDOC_JS_URL}",
            redoc_favicon_url=f"{prefix}{ASSETS_URL}/favicon.png",
            # Montserrat and Roboto from Google's servers: ReDoc falls back to the system's fonts.
            with_google_fonts=False,
        )


@cache
def redoc_bundle() -> bytes:
    """ReDoc's standalone bundle as vendored, but for the logo it would fetch from Redocly."""
    return (
        (ASSETS / "redoc.standalone.js")
        .read_bytes()
        .replace(REDOC_LOGO.encode(), EMPTY_IMAGE.encode())
    )
