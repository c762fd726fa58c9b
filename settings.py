"""Settings of every Linkage process, read from the environment (prefix ``LINKAGE_``) once at start.

The API, the worker and the ``linkage`` command share this one class, so an address or a secret is
named in exactly one place. Production refuses the development defaults.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as UnparsedSetting

ROOT = Path(__file__).resolve().parent
"""The repository (or installed tree) root: policies/ and data/ live beside the packages."""

DEV_SECRET = "linkage-development-secret-not-for-production"


ENV_PREFIX = "LINKAGE_"


def variable_of(field: str) -> str:
    """The environment variable that sets a field."""
    return f"{ENV_PREFIX}{field.upper()}"


class SettingError(ValueError):
    """A value the settings refuse; its text names the variable, as the user must fix it."""

    def __init__(self, field: str, reason: str) -> None:
        self.variable = variable_of(field)
        self.reason = reason
        super().__init__(f"{self.variable}: {reason}")


class SettingsInvalid(Exception):
    """The environment's settings cannot be used: one line per variable at fault, naming it."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of a Linkage process; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(
        default=Path(".linkage"), description="SQLite files and Temporal's store"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under data_dir"
    )
    temporal_address: str | None = Field(
        default=None, description="host:port of a Temporal server; unset: `linkage up` embeds one"
    )
    temporal_namespace: str = "default"
    task_queue: str = "linkage-issues"
    worker_cached_issues: int = Field(
        default=1000,
        ge=1,
        description="issues a worker keeps in memory between their events (sticky cache)",
    )
    worker_sticky_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "how long a cached issue's next task waits for its own worker before any worker may "
            "take it and replay the whole history; longer spares replays in a burst of "
            "deadlines but holds the issues a crashed worker had in hand as long"
        ),
    )
    policy: str = Field(default="default", description="policy name under policies/ or a path")
    calendar_file: Path | None = Field(
        default=None, description="admin-supplied official holiday schedules (TOML)"
    )
    timezone: str = "Asia/Shanghai"
    office_close: time = time(18, 0)
    secret_key: str = DEV_SECRET
    access_token_minutes: int = 8 * 60
    demo_accounts: bool = Field(
        default=True, description="seed the demo accounts (password demo); production: off"
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="base of links sent in notifications"
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    county: str = Field(default="611025", description="division code of the county served")
    composite_weights: tuple[float, float, float] = Field(
        default=(0.1, 0.5, 0.4),
        description="三率 composite: weights of response, resolution and satisfaction (sum 1)",
    )
    division_file: Path | None = Field(
        default=None, description="division tree seeded at start; default: the demo county's"
    )
    callback_roles: tuple[str, ...] = Field(
        default=("supervisor", "admin", "leader", "clerk"),
        description=(
            "staff roles that may record a citizen's 回访 (phone callback); whatever the role, "
            "never a unit the issue stayed at (it would rate itself)"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _no_demo_accounts_in_production_unless_asked(cls, data: Any) -> Any:
        # Demo accounts share the password "demo": production leaves them out by default, and
        # the check below refuses them when asked for explicitly.
        if (
            isinstance(data, dict)
            and data.get("environment") == Environment.PRODUCTION
            and data.get("demo_accounts") is None
        ):
            return {**data, "demo_accounts": False}
        return data

    @model_validator(mode="after")
    def _weights_are_shares(self) -> Settings:
        weights = self.composite_weights
        if any(w < 0 for w in weights) or abs(sum(weights) - 1) > 1e-6:
            raise SettingError(
                "composite_weights",
                f"must be three non-negative shares summing to 1, got {list(weights)}",
            )
        return self

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> Settings:
        if self.environment is not Environment.PRODUCTION:
            return self
        if self.secret_key == DEV_SECRET:
            raise SettingError("secret_key", "must be set in production (32+ random characters)")
        if len(self.secret_key) < 32:
            raise SettingError("secret_key", "must be at least 32 characters in production")
        if self.demo_accounts:
            raise SettingError(
                "demo_accounts", "must not be true in production (their password is demo)"
            )
        if self.database_url is None or self.database_url.startswith("sqlite"):
            raise SettingError("database_url", "must point at PostgreSQL in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'linkage.db').resolve()}"

    @property
    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def resolved_division_file(self) -> Path:
        return self.division_file or ROOT / "data" / "divisions-611025-zhenan.json"

    # ---- open reporting and the phone pages without an account (api.public.throttle) ----------
    # limits' notation ("N per period"; several separated by ";"): see the limits package docs.
    public_limit_per_address: str = Field(
        default="20/hour;5/minute",
        description="submissions without an account (reports, topics, ballots) per client address",
    )
    public_limit_per_phone: str = Field(
        default="5/day;2/minute", description="reports and topics without an account per phone"
    )
    public_limit_storage: str = Field(
        default="memory://",
        description=(
            "where the counts live (limits storage URI): memory:// per API process; "
            "redis://host:6379 to share them between several API processes"
        ),
    )

    # ---- bounds on what the API takes and how long it waits (api.limits, api.registration) ----
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="largest request body the API reads (413 above)"
    )
    answer_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "longest an API request waits on the workers: registration then answers from what "
            "Temporal holds (201) or 503, an action 503, each with Retry-After"
        ),
    )
    worker_absent_after_seconds: float = Field(
        default=90.0,
        gt=0,
        description=(
            "/healthz reports the worker absent when no poller was seen on the task queue for "
            "this long (longer than the server's long poll, one minute by default)"
        ),
    )
    dispatch_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description=(
            "how often a worker's dispatcher looks for notices to fan out and deliveries due "
            "(a record in the same worker wakes it at once)"
        ),
    )


def _explain(error: ValidationError) -> list[str]:
    """One line per fault, naming the variable and never echoing its value (it may be secret)."""
    lines = []
    for fault in error.errors():
        cause = fault.get("ctx", {}).get("error")
        if isinstance(cause, SettingError):
            lines.append(str(cause))
            continue
        reason = fault["msg"].removeprefix("Value error, ")
        if not fault["loc"]:  # a check of the whole model that names no field
            lines.append(reason)
            continue
        field, *inner = fault["loc"]
        where = "".join(f"[{part}]" for part in inner)
        lines.append(f"{variable_of(str(field))}{where}: {reason[:1].lower()}{reason[1:]}")
    return lines


def load_settings() -> Settings:
    """Settings from the environment (and .env); faults raise SettingsInvalid naming variables."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsInvalid(_explain(error)) from error
    except UnparsedSetting as error:
        # pydantic-settings reads lists and tuples as JSON and names only the field it failed on.
        named = re.search(r'field "(\w+)"', str(error))
        variable = variable_of(named.group(1)) if named else "a LINKAGE_ variable"
        raise SettingsInvalid(
            [f"{variable}: is not valid JSON (a list is written [1, 2])"]
        ) from error


@lru_cache
def get_settings() -> Settings:
    """The process's settings, validated once."""
    return load_settings()
