"""The issue row carries its feedback window and who recorded the feedback.

The API reads every issue from the read model now (the live workflow is the supervisors' /live),
so the row holds what only the workflow held: the feedback window of an issue awaiting feedback.
Who recorded a feedback (the citizen, or staff on a phone 回访) marks it in the statistics.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('issue', sa.Column('feedback_deadline', sa.DateTime(timezone=True), nullable=True))
    op.add_column('issue', sa.Column('feedback_by_role', sa.String(), nullable=True))
    # Feedback recorded before this revision came from the citizen or from staff alike; the
    # events say which (actor_role), so fill it from there.
    op.execute(
        "UPDATE issue SET feedback_by_role = (SELECT e.actor_role FROM issue_event e "
        "WHERE e.issue_id = issue.id AND e.type = 'feedback' ORDER BY e.seq DESC LIMIT 1) "
        "WHERE feedback_at IS NOT NULL"
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would drop the tally triggers.
    op.drop_column('issue', 'feedback_by_role')
    op.drop_column('issue', 'feedback_deadline')
