"""The issue row keeps the fingerprint of its registration request.

A retried registration with the same Idempotency-Key must be the same request, every field of it
(urgency, reporter, location, attachments, channel …), or it is refused naming the key; the
sha256 of the validated body is kept beside the key to compare. Rows registered before this
revision have none: their retries compare the fields the row holds, as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('issue', sa.Column('request_fingerprint', sa.String(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would drop the tally triggers.
    op.drop_column('issue', 'request_fingerprint')
