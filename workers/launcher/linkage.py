"""Linkage's own processes (``linkage worker``, ``linkage api``): their command and environment."""

from __future__ import annotations

import json
import os
import sys
from datetime import time as clock_time
from enum import Enum
from pathlib import Path

from settings import Settings

CLI_MODULE = "linkage_cli"


def linkage_command(role: str, *args: str) -> list[str]:
    """``linkage <role>`` run by this interpreter (the venv's, even when it is not activated)."""
    return [sys.executable, "-m", CLI_MODULE, role, *args]


def _env_value(value: object) -> str:
    """A setting as pydantic-settings reads it back from the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Path):
        # Absolute, so a child started from another directory finds the same files.
        return str(value.expanduser().resolve())
    if isinstance(value, clock_time):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return str(value)


def child_environment(settings: Settings, temporal_address: str) -> dict[str, str]:
    """The environment of a worker or an API: every setting of ``settings`` as ``LINKAGE_*``.

    Passing each setting explicitly (not just inheriting our environment) makes the children use
    exactly what the parent resolved from flags, environment and ``.env``; the database URL is the
    resolved absolute one so every process shares one read model.
    """
    env = dict(os.environ)
    for name in Settings.model_fields:
        key = f"LINKAGE_{name.upper()}"
        value = getattr(settings, name)
        if value is None:
            env.pop(key, None)
        else:
            env[key] = _env_value(value)
    env["LINKAGE_DATA_DIR"] = str(settings.data_dir.expanduser().resolve())
    env["LINKAGE_DATABASE_URL"] = settings.resolved_database_url
    env["LINKAGE_TEMPORAL_ADDRESS"] = temporal_address
    # Logs reach the console or the log file as they happen, not when a buffer fills.
    env["PYTHONUNBUFFERED"] = "1"
    return env
