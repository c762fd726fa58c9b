"""The dashboard's files are served by the app itself (no CDN), and nothing else is."""

from __future__ import annotations

import httpx

from api.routes.dashboard import plotly_js

ROOT = "http://testserver"


async def test_the_page_and_its_deep_links_are_served_with_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/dashboard", "/dashboard/issues/" + "a" * 32):
        r = await client.get(ROOT + path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert "督查看板" in r.text and 'id="login-form"' in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
        # Every script and style comes from this server.
        assert "http" not in r.text.split("<body>")[0]


async def test_script_style_and_plotly_come_from_the_app(client: httpx.AsyncClient) -> None:
    js = await client.get(ROOT + "/dashboard/static/dashboard.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "/stats/alerts" in js.text and "sessionStorage" in js.text
    css = await client.get(ROOT + "/dashboard/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    plotly = await client.get(ROOT + "/dashboard/static/vendor/plotly.min.js")
    assert plotly.status_code == 200
    assert plotly.content == plotly_js().read_bytes() and b"plotly.js v" in plotly.content[:200]


async def test_nothing_outside_the_static_folder_is_served(client: httpx.AsyncClient) -> None:
    for name in ("index.html", "..%2F..%2Fsettings.py", "nope.js", "dashboard.py"):
        r = await client.get(f"{ROOT}/dashboard/static/{name}")
        assert r.status_code == 404, name
    assert "/dashboard" not in (await client.get("/openapi.json")).text
