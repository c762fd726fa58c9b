"""Reference data: the unit tree, departments, categories, people and their keys, households, the
channels units are reached on, and the audit record of what administrators changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Index,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from store.columns import UTCDateTime, json_column, prefix_index


class Unit(SQLModel, table=True):
    """A node of the jurisdiction tree, keyed by its statistical division code."""

    __tablename__ = "unit"
    __table_args__ = (prefix_index("ix_unit_path", "path"),)

    code: str = Field(primary_key=True)
    name: str
    kind: str  # domain.models.UnitKind value
    parent_code: str | None = Field(default=None, foreign_key="unit.code", index=True)
    # "/61/6101/611025/" — a subtree is every path LIKE the root's path || '%', one index scan.
    path: str
    depth: int
    active: bool = True


class Department(SQLModel, table=True):
    __tablename__ = "department"

    code: str = Field(primary_key=True)  # e.g. "zhenan-zhujian"
    name: str  # 镇安县住房和城乡建设局
    short_name: str  # 住建
    county_code: str = Field(index=True)
    # Retired departments keep their rows (issues and keys name them) but take no new work.
    active: bool = True


class Category(SQLModel, table=True):
    __tablename__ = "category"

    code: str = Field(primary_key=True)  # e.g. "neighbour_dispute"
    name: str  # 邻里纠纷
    departments: list[str] = Field(default_factory=list, sa_column=json_column(list))
    # Whether the departments hear of an issue as soon as it enters a level, not only on 吹哨.
    notify_departments: bool = False
    # A category issues were registered under is retired, never deleted: registration refuses it.
    active: bool = True


class ChannelTarget(SQLModel, table=True):
    """Where a unit's or department's notifications go besides the inbox."""

    __tablename__ = "channel_target"
    __table_args__ = (Index("ix_channel_target_owner", "owner_kind", "owner_code"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_kind: str  # unit | department
    owner_code: str
    channel: str  # webhook | dingtalk | wecom | email
    config: dict[str, Any] = Field(
        default_factory=dict, sa_column=json_column(dict)
    )  # url, address …
    secret: str | None = None  # HMAC key (webhook) or signing secret (DingTalk)
    enabled: bool = True


class User(SQLModel, table=True):
    # Not "user": that is a reserved word in PostgreSQL and a trap in hand-written SQL.
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True)
    password_hash: str
    display_name: str
    role: str  # clerk | leader | supervisor | department | admin
    unit_code: str | None = Field(default=None, foreign_key="unit.code", index=True)
    department_code: str | None = Field(default=None, foreign_key="department.code", index=True)
    phone: str | None = None
    email: str | None = None
    active: bool = True  # disabled, never deleted: the audit trail names its users
    # Set by an admin's password reset: no token until the user chose a new password.
    must_change_password: bool = False
    # Consecutive failed logins, and the lockout they caused (api.security.login).
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A department's machine client; the key is shown once and only its hash is kept."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(unique=True)  # the public first characters, to find the row
    key_hash: str
    department_code: str = Field(foreign_key="department.code", index=True)
    name: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Refreshed at most once a minute (api.security): a busy client must not write on every call.
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Household(SQLModel, table=True):
    """A household of a village, by the code the village hands out: one ballot per code in a poll.

    The code is random and carries nothing about the household; the village keeps who got which
    sheet, the system never does.
    """

    __tablename__ = "household"
    __table_args__ = (UniqueConstraint("village_code", "number", name="uq_household_number"),)

    code: str = Field(primary_key=True)
    village_code: str = Field(foreign_key="unit.code", index=True)
    number: int  # 1, 2, … within the village: the line of the printed sheet
    created_at: datetime = Field(sa_type=UTCDateTime)
    active: bool = True


class AuditRecord(SQLModel, table=True):
    """One administrative action: who, when, what, before → after (secrets redacted).

    Append-only like the issue events. ``scope_path`` is the path of the unit the action concerns
    (a department's county for department matters, empty for county-wide reference data): an
    admin reads the records of their subtree.
    """

    __tablename__ = "audit_record"
    __table_args__ = (prefix_index("ix_audit_record_scope_path", "scope_path"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str
    actor_role: str
    action: str = Field(index=True)  # user.create, api_key.revoke, channel.test …
    target_kind: str
    target: str
    scope_path: str = ""
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
