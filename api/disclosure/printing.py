"""What every printed A4 sheet of Linkage shares: the Chinese font, the paragraph styles and the
page, for the 公示栏's notice and the households' slips alike.

The Chinese text is set in STSong-Light, one of the Adobe CID fonts every PDF reader supplies, so
the server needs no font file and a sheet prints the same from a fresh install.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def style(size: float, leading: float, bold: bool = False) -> ParagraphStyle:
    # CJK wrapping breaks lines between any two characters, as Chinese print does.
    return ParagraphStyle(
        f"s{size}{bold}", fontName=FONT, fontSize=size, leading=leading, wordWrap="CJK"
    )


TITLE, HEADING, BODY, SMALL = style(20, 26), style(14, 20), style(10.5, 15), style(9, 12)


def paragraph(text: str, of: ParagraphStyle = BODY) -> Paragraph:
    """Plain text (escaped: a name with ``<`` or ``&`` prints as written) in a style."""
    return Paragraph(escape(text), of)


def a4_pdf(story: list[Flowable], *, title: str, author: str, margin_mm: float = 20) -> bytes:
    """The story laid out on A4 pages, as PDF bytes."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=margin_mm * mm,
        rightMargin=margin_mm * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=author,
    )
    doc.build(story)
    return out.getvalue()
