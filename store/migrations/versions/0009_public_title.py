"""The title a handling unit's staff approved for publication on the 公示栏 (``issue.public_title``).

Null until approved: the public page then shows the category's neutral wording, never the
citizen's own title.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch rebuild: SQLite would drop the issue table's tally triggers.
    op.add_column(
        "issue", sa.Column("public_title", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("issue", "public_title")
