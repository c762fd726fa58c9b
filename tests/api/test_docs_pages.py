"""/docs and /redoc come whole from the app: FastAPI's own pages pointed at the Swagger UI and
ReDoc assets vendored by the installed fastapi-offline package (the browser check is
tests/dashboard/test_isolated_network.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.docs import ASSETS, REDOC_LOGO
from api.main import TITLE, create_app
from settings import Environment, Settings

ROOT = "http://linkage.test"
PAGES = {"/docs": "Swagger UI", "/redoc": "ReDoc"}


def _app_settings(data: Path) -> Settings:
    return Settings(
        environment=Environment.TEST,
        data_dir=data,
        secret_key="docs-pages-" + "x" * 32,
        temporal_address="127.0.0.1:1",  # the documentation needs neither Temporal nor SQL
    )


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(_app_settings(tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ROOT) as client:
        yield client


def _linked(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


async def test_the_pages_link_only_the_apps_own_assets(http: httpx.AsyncClient) -> None:
    for path, kind in PAGES.items():
        page = await http.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert f"<title>{TITLE} - {kind}</title>" in page.text
        assert "http" not in page.text, path  # no CDN, no Google fonts, no outside favicon
        linked = _linked(page.text)
        assert len(linked) >= 2, (path, linked)  # the script, and the favicon
        for url in linked:
            asset = await http.get(url)
            assert asset.status_code == 200, url
    swagger = (await http.get("/docs")).text
    assert "url: '/api/v1/openapi.json'" in swagger and '"validatorUrl": null' in swagger
    assert 'spec-url="/api/v1/openapi.json"' in (await http.get("/redoc")).text


async def test_the_assets_are_the_vendored_ones(http: httpx.AsyncClient) -> None:
    for name, media in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")):
        asset = await http.get(f"/docs/static/{name}")
        assert media in asset.headers["content-type"]
        assert asset.content == (ASSETS / name).read_bytes()
    # ReDoc's, but for the logo it would load from Redocly's CDN.
    vendored = (ASSETS / "redoc.standalone.js").read_bytes()
    assert REDOC_LOGO.encode() in vendored
    redoc = await http.get("/redoc/redoc.standalone.js")
    assert "javascript" in redoc.headers["content-type"]
    assert REDOC_LOGO.encode() not in redoc.content and b"cdn.redoc.ly" not in redoc.content
    assert len(redoc.content) > 0.99 * len(vendored)
    for name in ("nope.js", "..%2F__init__.py", "../core.py"):
        assert (await http.get(f"/docs/static/{name}")).status_code == 404, name


async def test_the_chinese_descriptions_are_documented(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/api/v1/openapi.json")).json()
    assert spec["info"]["title"] == TITLE
    assert "县—乡镇—村三级联动" in spec["info"]["description"]
    tags = {tag["name"]: tag["description"] for tag in spec["tags"]}
    assert tags["auth"].startswith("登录与身份") and tags["units"].startswith("辖区单位")


async def test_behind_a_path_prefix_the_links_keep_it(tmp_path: Path) -> None:
    """A reverse proxy serving the app under /linkage (uvicorn --root-path) still gets pages
    whose every link resolves there."""
    app = create_app(_app_settings(tmp_path))
    transport = httpx.ASGITransport(app=app, root_path="/linkage")
    async with httpx.AsyncClient(transport=transport, base_url=ROOT) as http:
        for path in PAGES:
            page = await http.get(path)
            linked = _linked(page.text)
            assert linked and all(url.startswith("/linkage/") for url in linked), linked
            assert "/linkage/api/v1/openapi.json" in page.text
