"""Engines, sessions and migrations for the read model: one code path for SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    ColumnElement,
    Engine,
    Table,
    cast,
    create_engine,
    event,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Seconds a SQLite writer waits for another's lock before "database is locked": the worker's
# activities and the API write the same file.
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_MMAP_BYTES = 256 * 1024 * 1024


def normalise_url(url: str) -> str:
    """Pick the psycopg 3 driver for PostgreSQL URLs given without one (``postgresql://``)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def make_engine(url: str, *, foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``: SQLite tuned for a worker and an API sharing one file, or PostgreSQL.

    Args:
        url: SQLAlchemy URL; ``postgresql://`` is read as ``postgresql+psycopg://``.
        foreign_keys: enforce SQLite foreign keys (migrations turn them off to rebuild tables).
        kwargs: passed to ``create_engine``.

    Returns:
        The engine; SQLite files get their parent directory created.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    connect_args = dict(kwargs.pop("connect_args", {}))
    # Sessions move between threads (sync activities, FastAPI's thread pool).
    connect_args.setdefault("check_same_thread", False)
    if in_memory:
        # One shared connection, or every session would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                # WAL lets the API read while an activity writes.
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # Reads map the file instead of copying pages through a small cache: the statistics'
            # index passes run about a quarter faster (sqlite.org/mmap.html).
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        finally:
            cursor.close()

    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back when it raises.

    Objects stay readable after the commit (``expire_on_commit=False``), so a function can return
    what it loaded.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def concurrently(session: Session, *tasks: Callable[[Session], Any]) -> list[Any]:
    """The results of read-only ``tasks``, in order, run at once: the first on ``session``, each
    other on a session of its own (its own connection) in a thread.

    The others see what is committed, not what ``session`` has written and not committed. On
    SQLite the tasks run one by one on ``session``: its work runs in this process, where threads
    only take turns (measured: slower at once than in turn).
    """
    engine = session.get_bind()
    if len(tasks) < 2 or not isinstance(engine, Engine) or engine.dialect.name == "sqlite":
        return [task(session) for task in tasks]

    def own(task: Callable[[Session], Any]) -> Any:
        with Session(engine) as separate:
            return task(separate)

    with ThreadPoolExecutor(len(tasks) - 1, thread_name_prefix="read") as pool:
        others = [pool.submit(own, task) for task in tasks[1:]]
        first = tasks[0](session)
        return [first, *(future.result() for future in others)]


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for our migrations, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        # An attribute, not sqlalchemy.url: the ini parser would choke on '%' in passwords.
        config.attributes["database_url"] = normalise_url(url)
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def upsert_insert(session: Session, table: Table) -> Any:
    """``INSERT`` that takes ``ON CONFLICT`` (the same clause in SQLite and PostgreSQL, two
    classes): what the recorder and the outbox write with."""
    return insert_for(session.get_bind().dialect.name, table)


def insert_for(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"Linkage writes SQLite and PostgreSQL, not {dialect}")


@functools.cache
def upsert_statement(
    dialect: str,
    table: Table,
    keys: tuple[str, ...],
    overwrite: tuple[str, ...] = (),
    newer: str | None = None,
    keep: tuple[str, ...] = (),
) -> Any:
    """``INSERT … ON CONFLICT (keys)``: ``DO UPDATE`` the ``overwrite`` columns, or ``DO NOTHING``.

    Built once per dialect and shape, and executed with the rows as parameters: building a
    statement's ``excluded`` costs more than a small write itself (0.6 ms), and a statement used
    again keeps its cache key and compiled form.

    Args:
        dialect: ``sqlite`` or ``postgresql``.
        table: the table written.
        keys: the columns of the unique index a clash is on.
        overwrite: the columns the new row overwrites.
        newer: a column (a workflow's ``last_seq``) the stored row must not exceed to be updated:
            an older snapshot arriving late leaves a newer row as it is.
        keep: columns whose stored value stays once set; a NULL one takes the new value.
    """
    stmt = insert_for(dialect, table)
    if not overwrite and not keep:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    excluded = stmt.excluded
    changes: dict[str, Any] = {name: excluded[name] for name in overwrite}
    changes.update({name: func.coalesce(table.c[name], excluded[name]) for name in keep})
    where = table.c[newer] <= excluded[newer] if newer is not None else None
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=changes, where=where)


def json_list_has(session: Session, column: Any, value: str) -> ColumnElement[bool]:
    """SQL for "the JSON list in ``column`` holds the string ``value``", in either database:
    PostgreSQL's containment (``@>``) on the value cast to jsonb, SQLite's ``json_each``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return cast(column, postgresql.JSONB).contains([value])
    if dialect == "sqlite":
        items = func.json_each(column).table_valued("value")
        return exists(select(literal(1)).select_from(items).where(items.c.value == value))
    raise NotImplementedError(f"Linkage reads SQLite and PostgreSQL, not {dialect}")
