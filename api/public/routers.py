"""Every router of the citizens' and field workers' side, for ``api.main`` to include: open
reporting, topics, polls and places (``/api/v1/public/…``), the staff's topic list, the patrol
log, invalid marks on issues, and the phone pages (``/m/``)."""

from __future__ import annotations

from fastapi import APIRouter

from api.phone import patrols, places, routes
from api.public import polls, reporting, topics
from api.routes import invalid

# places and polls add their routes to the public router: imported for that.
_ = (places, polls)
ROUTERS: tuple[APIRouter, ...] = (
    reporting.router,
    topics.staff,
    patrols.router,
    invalid.router,
    routes.router,
)
