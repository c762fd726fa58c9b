"""Duties on a calendar: runs of duties and their trail, meetings' documents, villages' 村务公开
publications and 片长's patrol check-ins (``store/duty_tables.py``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "duty_run",
        sa.Column("id", _TEXT(), nullable=False),
        sa.Column("kind", _TEXT(), nullable=False),
        sa.Column("unit_code", _TEXT(), nullable=False),
        sa.Column("unit_path", _TEXT(), nullable=False),
        sa.Column("schedule_id", _TEXT(), nullable=True),
        sa.Column("period", _TEXT(), nullable=True),
        sa.Column("nominal_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moved_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", _TEXT(), nullable=False),
        sa.Column("outcome", _TEXT(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("deliberation_id", _TEXT(), nullable=True),
        sa.Column("document_id", _TEXT(), nullable=True),
        sa.Column("agenda", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_run")),
    )
    for column in ("kind", "unit_code", "unit_path", "period", "due_at", "status"):
        op.create_index(op.f(f"ix_duty_run_{column}"), "duty_run", [column])
    op.create_table(
        "duty_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("duty_id", _TEXT(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", _TEXT(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["duty_id"], ["duty_run.id"], name=op.f("fk_duty_event_duty_id_duty_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_event")),
        sa.UniqueConstraint("duty_id", "seq", name="uq_duty_event_seq"),
    )
    op.create_index(op.f("ix_duty_event_duty_id"), "duty_event", ["duty_id"])
    op.create_table(
        "duty_document",
        sa.Column("id", _TEXT(), nullable=False),
        sa.Column("duty_id", _TEXT(), nullable=False),
        sa.Column("kind", _TEXT(), nullable=False),
        sa.Column("unit_code", _TEXT(), nullable=False),
        sa.Column("period", _TEXT(), nullable=False),
        sa.Column("title", _TEXT(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_document")),
    )
    op.create_index(op.f("ix_duty_document_duty_id"), "duty_document", ["duty_id"])
    op.create_index(op.f("ix_duty_document_unit_code"), "duty_document", ["unit_code"])
    op.create_table(
        "disclosure_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", _TEXT(), nullable=False),
        sa.Column("period", _TEXT(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", _TEXT(), nullable=False),
        sa.Column("note", _TEXT(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_disclosure_publication_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_publication")),
        sa.UniqueConstraint("unit_code", "period", name="uq_disclosure_publication_period"),
    )
    op.create_index(
        op.f("ix_disclosure_publication_unit_code"), "disclosure_publication", ["unit_code"]
    )
    op.create_table(
        "patrol_checkin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_code", _TEXT(), nullable=False),
        sa.Column("village_code", _TEXT(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("found", _TEXT(), nullable=False),
        sa.Column("issue_ids", sa.JSON(), nullable=True),
        sa.Column("checked_in_by", _TEXT(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_code"], ["unit.code"], name=op.f("fk_patrol_checkin_grid_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_checkin")),
    )
    for column in ("grid_code", "village_code", "day"):
        op.create_index(op.f(f"ix_patrol_checkin_{column}"), "patrol_checkin", [column])


def downgrade() -> None:
    op.drop_table("patrol_checkin")
    op.drop_table("disclosure_publication")
    op.drop_table("duty_document")
    op.drop_table("duty_event")
    op.drop_table("duty_run")
