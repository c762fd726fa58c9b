"""One duty run as people read it (the page the duties' notices link to): what the duty is, its
period and due instant, its status, the council's agenda or the meeting's report, its events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.deps import API_PREFIX
from api.schemas import ActorOut, UnitOut
from domain.duties import labels
from domain.duties.models import DUTY_LABELS, DutyKind
from store.duty_tables import DutyDocument, DutyEventRow, DutyRun
from store.tables import Unit

SYSTEM = ActorOut(user="system", role="system", name="系统")


class AgendaItemOut(BaseModel):
    source: str
    source_label: str
    ref: str
    title: str


class DocumentOut(BaseModel):
    id: str
    title: str
    html: str = Field(description="报告的 HTML 地址（需登录）")
    pdf: str = Field(description="报告的 PDF 地址（需登录）")


class DutyEventOut(BaseModel):
    seq: int
    type: str
    label: str
    at: datetime
    actor: ActorOut
    data: dict[str, Any] = Field(default_factory=dict)


class DutyRunOut(BaseModel):
    id: str
    kind: str
    kind_label: str
    description: str
    unit: UnitOut
    schedule_id: str | None
    period: str | None
    nominal_at: datetime | None
    due_at: datetime | None
    moved_from: datetime | None = Field(description="遇节假日顺延前的时间")
    status: str
    status_label: str
    outcome: str | None
    outcome_label: str | None
    on_time: bool | None
    fulfilled_at: datetime | None
    closed_at: datetime | None
    reminders: int
    deliberation_id: str | None = Field(description="议事会发起的协商议事")
    document: DocumentOut | None
    agenda: list[AgendaItemOut]
    events: list[DutyEventOut]


def document_links(doc: DutyDocument) -> DocumentOut:
    base = f"{API_PREFIX}/duties/documents/{doc.id}"
    return DocumentOut(
        id=doc.id, title=doc.title, html=f"{base}?format=html", pdf=f"{base}?format=pdf"
    )


def run_detail(session: Session, run: DutyRun) -> DutyRunOut:
    unit = session.get(Unit, run.unit_code)
    doc = session.get(DutyDocument, run.document_id) if run.document_id else None
    events = session.exec(
        select(DutyEventRow).where(DutyEventRow.duty_id == run.id).order_by(col(DutyEventRow.seq))
    ).all()
    kind = DutyKind(run.kind)
    return DutyRunOut(
        id=run.id,
        kind=run.kind,
        kind_label=DUTY_LABELS[kind],
        description=labels.DESCRIPTION[kind],
        unit=UnitOut(code=run.unit_code, name=unit.name if unit else run.unit_code),
        schedule_id=run.schedule_id,
        period=run.period,
        nominal_at=run.nominal_at,
        due_at=run.due_at,
        moved_from=run.moved_from,
        status=run.status,
        status_label=labels.STATUS.get(run.status, run.status),
        outcome=run.outcome,
        outcome_label=labels.OUTCOME.get(run.outcome, run.outcome) if run.outcome else None,
        on_time=run.on_time,
        fulfilled_at=run.fulfilled_at,
        closed_at=run.closed_at,
        reminders=run.reminders,
        deliberation_id=run.deliberation_id,
        document=document_links(doc) if doc else None,
        agenda=[
            AgendaItemOut(
                source=item.get("source", ""),
                source_label=labels.AGENDA_SOURCE.get(item.get("source", ""), ""),
                ref=str(item.get("ref", "")),
                title=str(item.get("title", "")),
            )
            for item in run.agenda
        ],
        events=[_event(e) for e in events],
    )


def _event(e: DutyEventRow) -> DutyEventOut:
    by = e.data.get("by") if e.type == "fulfilled" else None
    actor = ActorOut(user=str(by), role="clerk", name=str(by)) if by else SYSTEM
    return DutyEventOut(
        seq=e.seq,
        type=e.type,
        label=labels.EVENT.get(e.type, e.type),
        at=e.at,
        actor=actor,
        data=e.data,
    )
