"""Administration under ``/api/v1/admin/``: accounts, API keys, channel targets, reference data,
households and the audit record. Admins only, each inside the subtree of their unit
(``api.admin.scope``); the ``linkage`` admin commands call the same functions.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.admin import audit, channels, households, keys, page, reference, users

router = APIRouter()
for module in (users, keys, channels, reference, households, audit, page):
    router.include_router(module.router)
