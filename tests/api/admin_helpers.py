"""Helpers of the administration tests: sign in with any password, count what a refusal must not
change."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from store.tables import ApiKey, AuditRecord, Category, ChannelTarget, Department, Household, User

STRONG = "Linkage2026pass"


async def token(http: httpx.AsyncClient, username: str, password: str = STRONG) -> str:
    r = await http.post("/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    value: str = r.json()["access_token"]
    return value


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def footprint(engine: Engine) -> dict[str, Any]:
    """Everything an admin action may write, summarised: equal before and after a refusal."""
    with Session(engine) as session:
        users = session.exec(
            select(
                User.username,
                User.role,
                User.unit_code,
                User.active,
                User.password_hash,
                User.must_change_password,
            )
        ).all()
        counts = {
            table.__name__: session.exec(select(func.count()).select_from(table)).one()
            for table in (ApiKey, AuditRecord, ChannelTarget, Household)
        }
        keys = session.exec(select(ApiKey.prefix, ApiKey.revoked_at)).all()
        targets = session.exec(select(ChannelTarget.id, ChannelTarget.config)).all()
        categories = session.exec(
            select(Category.code, Category.name, Category.active, Category.departments)
        ).all()
        departments = session.exec(select(Department.code, Department.name)).all()
    return {
        "users": sorted(map(tuple, users)),
        "counts": counts,
        "keys": sorted(map(tuple, keys)),
        "targets": sorted((t[0], repr(t[1])) for t in targets),
        "categories": sorted(repr(tuple(c)) for c in categories),
        "departments": sorted(map(tuple, departments)),
    }
