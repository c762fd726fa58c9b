"""Compiled bytecode for the workflow modules, which the workflow sandbox imports again and again.

The sandbox runs each workflow instance on a fresh import of its workflow's module: every new
issue, and every issue that comes back after it left the sticky cache. Python reads a module's
compiled form from ``__pycache__`` when it is there and current. When it is not and may not be
written (PYTHONDONTWRITEBYTECODE, which our own image sets, or a read-only tree), every one of
those imports compiles ``workflows/issue.py`` from source: a sixth of the worker's CPU while
issues were being registered (py-spy on the intake bench, 2026-11-23). So the worker writes the
bytecode once when it starts, or says why it cannot.
"""

from __future__ import annotations

import importlib.util
import logging
import py_compile
import sys
from pathlib import Path

log = logging.getLogger("linkage.worker")

_HEADER = 16  # magic, flags, source mtime, source size (PEP 552)


def is_current(source: Path, cached: Path) -> bool:
    """Whether ``cached`` is bytecode the import system will take for ``source`` as it is now."""
    try:
        header = cached.read_bytes()[:_HEADER]
        stat = source.stat()
    except OSError:
        return False
    if len(header) < _HEADER or header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    flags = int.from_bytes(header[4:8], "little")
    if flags & 0b1:
        # Hash-based (PEP 552, e.g. compileall under SOURCE_DATE_EPOCH): taken unchecked, or
        # when the hash of the source matches.
        if not flags & 0b10:
            return True
        try:
            return header[8:16] == importlib.util.source_hash(source.read_bytes())
        except OSError:
            return False
    mtime = int.from_bytes(header[8:12], "little")
    size = int.from_bytes(header[12:16], "little")
    return mtime == int(stat.st_mtime) & 0xFFFFFFFF and size == stat.st_size & 0xFFFFFFFF


def cache_bytecode(*classes: type) -> list[Path]:
    """Write current bytecode for the modules that define ``classes`` where imports look for it.

    Returns the sources it could not cache, each logged with what to do; the worker runs either
    way, only slower.
    """
    failed: list[Path] = []
    for name in dict.fromkeys(cls.__module__ for cls in classes):
        origin = getattr(sys.modules[name], "__file__", None)
        if origin is None or not origin.endswith(".py"):
            continue
        source = Path(origin)
        cached = Path(importlib.util.cache_from_source(str(source)))
        if is_current(source, cached):
            continue
        try:
            # Timestamp-checked like the import system's own, whatever SOURCE_DATE_EPOCH says.
            py_compile.compile(
                str(source),
                cfile=str(cached),
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
            )
        except (OSError, py_compile.PyCompileError) as exc:
            log.warning(
                "cannot cache the bytecode of %s (%s): the workflow sandbox will compile it for "
                "every workflow it starts or replays; run `python -m compileall %s` where the "
                "code is installed",
                source,
                exc,
                source.parent,
            )
            failed.append(source)
        else:
            log.info("cached the bytecode of %s for the workflow sandbox", source)
    return failed
