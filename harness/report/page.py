"""The one set of HTML page helpers every page shares (report.html, trend.html, the suite index,
the sign-off page): the page shell and its style, escaping, tables, badges and their colours,
embedded images. Kept free of matplotlib so that pages without plots stay cheap to import."""

from __future__ import annotations

import base64
import html
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.analyze.verdict import INCONCLUSIVE, LEAK

if TYPE_CHECKING:
    from harness.report.plots import Plot

GREEN, RED, ORANGE, GREY = "#2e7d32", "#c62828", "#ef6c00", "#757575"
VERDICT_COLOURS = {LEAK: RED, INCONCLUSIVE: ORANGE}  # anything else (NO LEAK) is green
STATUS_COLOURS = {"PASS": GREEN, "FAIL": RED, "SKIP": GREY}
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#212121;
background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.4em;margin:0 0 4px}h2{font-size:1.15em;margin:28px 0 8px;border-bottom:1px
solid #ddd;padding-bottom:4px}
.badge{display:inline-block;padding:6px 14px;border-radius:4px;color:#fff;font-weight:700;
font-size:1.1em;margin-right:10px}
.banner{background:#fdecea;border-left:5px solid #c62828;padding:10px 14px;margin:12px 0}
.muted{color:#666}.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));
gap:10px;margin:12px 0}
.figure{background:#fff;border:1px solid #e0e0e0;border-radius:4px;padding:10px}
.figure b{display:block;font-size:1.15em}.figure span{color:#666;font-size:.85em}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9em}
th,td{border:1px solid #e0e0e0;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{color:#fff;font-weight:700;border-radius:3px;padding:1px 6px;white-space:nowrap}
img{max-width:100%;border:1px solid #e0e0e0;background:#fff}
figure{margin:12px 0}figcaption{color:#666;font-size:.85em}
code{font-size:.85em}details summary{cursor:pointer}
"""


def page(title: str, body: str, extra_style: str = "") -> str:
    """A self-contained HTML page: no script, no network, the shared style inline."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        f"<style>{STYLE}{extra_style}</style></head><body>{body}</body></html>\n"
    )


def esc(value: object) -> str:
    """Any value as HTML text, quotes included (it may land in an attribute)."""
    return html.escape(str(value), quote=True)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Collection[int] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """Cells are already escaped HTML; `numeric` columns are right-aligned, `row_classes` give
    each row a CSS class ('' for none)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = []
    for number, row in enumerate(rows):
        css = row_classes[number] if row_classes is not None else ""
        cells = "".join(
            f"<td class='num'>{cell}</td>" if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        lines.append(f"<tr class='{css}'>{cells}</tr>" if css else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def badge(text: str, colour: str) -> str:
    return f"<span class='status' style='background:{colour}'>{esc(text)}</span>"


def verdict_badge(verdict: str | None) -> str:
    if verdict is None:
        return badge("no verdict", GREY)
    return badge(verdict, VERDICT_COLOURS.get(verdict, GREEN))


def status_badge(status: str) -> str:
    """A checklist item's PASS / FAIL / SKIP."""
    return badge(status, STATUS_COLOURS.get(status, GREY))


def image(plot: Plot, path: Path) -> str:
    """A plot embedded in the page (data: URL), so the page needs no other file."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<figure><img alt='{esc(plot.title)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{esc(plot.title)}: {esc(plot.caption)}</figcaption></figure>"
    )
