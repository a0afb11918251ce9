"""HTML building blocks: escaping, tables, embedded PNG figures, the page (used by the report
and by the report sections of the controls)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Section", "esc", "html_table", "figure_img", "render_page"]


@dataclass
class Section:
    """One part of the report.

    Attributes
    ----------
    id : str
        HTML anchor (letters, digits, ``-``).
    title : str
        Heading (plain text, escaped on output).
    body : str
        HTML of the section's content (already escaped where needed).
    """

    id: str
    title: str
    body: str


def esc(text: object) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text), quote=True)


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, table_id: str = "",
               numeric: Sequence[int] = ()) -> str:
    """A ``<table>``; every cell is escaped; columns listed in ``numeric`` align right."""
    ident = f' id="{esc(table_id)}"' if table_id else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return (f"<table{ident}><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def figure_img(fig, alt: str, *, dpi: int = 100) -> str:
    """Render a matplotlib figure as an ``<img>`` with an embedded base64 PNG and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="figure" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:2em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#555;font-size:.9em}.note{color:#8a5300}
img.figure{max-width:100%;display:block;margin:.5em 0}
nav a{margin-right:1em}
"""


def render_page(title: str, intro: str, sections: Sequence[Section]) -> str:
    """A complete standalone HTML page (no external resources)."""
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    parts = [f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>'
             for s in sections]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>{intro}<nav>{nav}</nav>{''.join(parts)}</body></html>\n"
    )
