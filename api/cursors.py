"""Keyset cursors for lists ordered newest first on (an instant, an id): a page never repeats or
skips rows while new ones arrive. One encoding for every list (issues, deliberations)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col

from api.inputs import within_range
from api.problems import invalid

# Issue and deliberation ids are uuid hex; a cursor carrying anything else was not ours.
ROW_ID = re.compile(r"^[0-9a-f]{32}$")


def encode_cursor(at: datetime, row_id: str) -> str:
    raw = json.dumps([at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (instant, id) a page ended at; anything but what ``encode_cursor`` writes (a lone
    surrogate, another shape, a time out of range) is a 422 naming ``cursor``, before any of it
    reaches SQL."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        if not (isinstance(decoded, list) and len(decoded) == 2):
            raise ValueError(cursor)
        at, row_id = decoded
        if not (isinstance(at, str) and isinstance(row_id, str) and ROW_ID.fullmatch(row_id)):
            raise ValueError(cursor)
        when = within_range(datetime.fromisoformat(at))
        if when.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise invalid("cursor", "无效的分页游标") from None
    return when, row_id


def after(cursor: str, at: Any, row_id: Any) -> ColumnElement[bool]:
    """The rows that come after ``cursor`` in the order (``at`` desc, ``row_id`` desc)."""
    last_at, last_id = decode_cursor(cursor)
    return or_(col(at) < last_at, and_(col(at) == last_at, col(row_id) < last_id))
