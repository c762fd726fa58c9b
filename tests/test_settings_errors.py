"""A setting at fault stops ``linkage`` with one line naming its variable, not a traceback; and
production leaves the demo accounts out unless asked (asking is refused)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from settings import Environment, get_settings, load_settings
from store.db import session_scope
from store.seed import seed
from store.tables import User

LINKAGE = Path(sys.executable).with_name("linkage")
SECRET = "s3cret-" * 6  # 42 characters
POSTGRES = "postgresql+psycopg://linkage@127.0.0.1:5432/linkage"
PRODUCTION = {
    "LINKAGE_ENVIRONMENT": "production",
    "LINKAGE_SECRET_KEY": SECRET,
    "LINKAGE_DATABASE_URL": POSTGRES,
}
# A command that reads the settings and needs nothing else: no database, no Temporal.
DEADLINE = ("deadline", "--from", "2026-09-30T10:00+08:00", "--duration", "PT4H")


def _linkage(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    # Only the settings given: none of the caller's LINKAGE_ variables, no .env of the checkout.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKAGE_")} | settings
    return subprocess.run(
        [str(LINKAGE), *DEADLINE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            PRODUCTION | {"LINKAGE_SECRET_KEY": "short-secret"},
            "linkage: LINKAGE_SECRET_KEY: must be at least 32 characters in production",
        ),
        (
            {"LINKAGE_ENVIRONMENT": "production", "LINKAGE_DATABASE_URL": POSTGRES},
            "linkage: LINKAGE_SECRET_KEY: must be set in production (32+ random characters)",
        ),
        (
            PRODUCTION | {"LINKAGE_DEMO_ACCOUNTS": "true"},
            "linkage: LINKAGE_DEMO_ACCOUNTS: must not be true in production "
            "(their password is demo)",
        ),
        (
            PRODUCTION | {"LINKAGE_DATABASE_URL": "sqlite:///linkage.db"},
            "linkage: LINKAGE_DATABASE_URL: must point at PostgreSQL in production",
        ),
        (
            {"LINKAGE_ENVIRONMENT": "prod"},
            "linkage: LINKAGE_ENVIRONMENT: input should be 'development', 'test' or 'production'",
        ),
        (
            {"LINKAGE_API_PORT": "eighty"},
            "linkage: LINKAGE_API_PORT: input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        (
            {"LINKAGE_COMPOSITE_WEIGHTS": "0.1,0.5,0.4"},
            "linkage: LINKAGE_COMPOSITE_WEIGHTS: is not valid JSON (a list is written [1, 2])",
        ),
        (
            {"LINKAGE_COMPOSITE_WEIGHTS": "[0.5, 0.5, 0.5]"},
            "linkage: LINKAGE_COMPOSITE_WEIGHTS: must be three non-negative shares summing to 1, "
            "got [0.5, 0.5, 0.5]",
        ),
    ],
    ids=[
        "short-secret",
        "development-secret",
        "demo-accounts-asked",
        "sqlite",
        "unknown-environment",
        "port-not-a-number",
        "weights-not-json",
        "weights-not-shares",
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    tmp_path: Path, settings: dict[str, str], line: str
) -> None:
    done = _linkage(tmp_path, **settings)

    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [line], done.stderr
    assert done.stdout == ""


def test_a_refused_secret_is_never_echoed(tmp_path: Path) -> None:
    secret = "tell-no-one"
    done = _linkage(tmp_path, **(PRODUCTION | {"LINKAGE_SECRET_KEY": secret}))

    assert done.returncode == 2, done.stderr
    assert "LINKAGE_SECRET_KEY" in done.stderr
    assert secret not in done.stderr + done.stdout


def test_production_runs_without_the_demo_accounts_flag(tmp_path: Path) -> None:
    done = _linkage(tmp_path, **PRODUCTION)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2026-09-30T14:00:00+08:00"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in [name for name in os.environ if name.startswith("LINKAGE_")]:
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_production_seeds_no_demo_accounts_by_default(
    environment: pytest.MonkeyPatch, tmp_path: Path, db_engine: Engine
) -> None:
    environment.chdir(tmp_path)
    for name, value in PRODUCTION.items():
        environment.setenv(name, value)

    settings = load_settings()
    # The read model of this test is SQLite; production's URL above only has to be PostgreSQL's.
    report = seed(db_engine, settings)

    assert settings.environment is Environment.PRODUCTION
    assert settings.demo_accounts is False
    assert report.users_added == 0 and not report.demo_accounts
    with session_scope(db_engine) as session:
        assert session.exec(select(func.count()).select_from(User)).one() == 0


def test_outside_production_demo_accounts_stay_on_by_default(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.chdir(tmp_path)
    environment.setenv("LINKAGE_ENVIRONMENT", "development")

    assert load_settings().demo_accounts is True


def test_production_may_say_no_demo_accounts_explicitly(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.chdir(tmp_path)
    for name, value in (PRODUCTION | {"LINKAGE_DEMO_ACCOUNTS": "false"}).items():
        environment.setenv(name, value)

    assert load_settings().demo_accounts is False
