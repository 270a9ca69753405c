"""One self-contained HTML page: inline CSS and SVG figures, no script, no external resource,
so it opens offline and from a file. Thin rendering of a :class:`Page` the builder filled."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reports.tables import cell_text

__all__ = ["Block", "Page", "Section", "render"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1200px;padding:1rem 1.5rem;color:#222;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #ddd;
padding-bottom:.2rem;margin-top:2rem}h3{font-size:1.05rem;margin-top:1.4rem}
.meta{color:#666;font-size:.9rem}nav a{margin-right:.8rem;font-size:.9rem}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.15rem .45rem;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td.t,th.t{text-align:left}tr.hl td{background:#fdecea}
.scroll{overflow-x:auto;max-width:100%}figure{margin:1rem 0}
figure svg{max-width:100%;height:auto}figcaption{font-size:.85rem;color:#444}
details{margin:.5rem 0}summary{cursor:pointer;font-size:.9rem}.note{color:#555;font-size:.9rem}
"""


@dataclass
class Block:
    """A piece of a section: ``kind`` is ``text`` (escaped), ``table`` (a DataFrame), ``figure``
    (inline SVG) or ``details`` (a collapsed table)."""

    kind: str
    text: str = ""
    table: pd.DataFrame | None = None
    svg: str = ""
    ident: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, relative path)
    highlight: str = ""  # table: a boolean column whose true rows are highlighted
    max_rows: int = 500


@dataclass
class Section:
    ident: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


@dataclass
class Page:
    title: str
    meta: str
    sections: list[Section] = field(default_factory=list)


def _table(df: pd.DataFrame, *, highlight: str, max_rows: int) -> str:
    cols = list(df.columns)
    textual = {c for c in cols if not (pd.api.types.is_numeric_dtype(df[c])
                                       or pd.api.types.is_bool_dtype(df[c]))}
    head = "".join(f'<th class="{"t" if c in textual else ""}">{html.escape(str(c))}</th>'
                   for c in cols)
    rows = []
    for i, row in enumerate(df.itertuples(index=False)):
        if i >= max_rows:
            break
        values: list[Any] = list(row)
        hl = bool(highlight and values[cols.index(highlight)])
        cells = "".join(f'<td class="{"t" if c in textual else ""}">{html.escape(cell_text(v))}'
                        "</td>" for c, v in zip(cols, values, strict=True))
        rows.append(f'<tr class="{"hl" if hl else ""}">{cells}</tr>')
    more = (f'<p class="note">{len(df) - max_rows:,} more rows in the CSV.</p>'
            if len(df) > max_rows else "")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>'
            f'{"".join(rows)}</tbody></table></div>{more}')


def _links(links: list[tuple[str, str]]) -> str:
    return " · ".join(f'<a href="{html.escape(path)}">{html.escape(label)}</a>'
                      for label, path in links)


def _block(b: Block) -> str:
    if b.kind == "text":
        return f'<p class="{html.escape(b.ident)}">{html.escape(b.text)}</p>'
    if b.kind in ("table", "details"):
        assert b.table is not None
        body = _table(b.table, highlight=b.highlight, max_rows=b.max_rows)
        links = f'<p class="note">{_links(b.links)}</p>' if b.links else ""
        caption = f"<p>{html.escape(b.text)}</p>" if b.text and b.kind == "table" else ""
        if b.kind == "details":
            return (f"<details><summary>{html.escape(b.text)}</summary>{body}{links}"
                    "</details>")
        return caption + body + links
    if b.kind == "figure":
        links = f" — {_links(b.links)}" if b.links else ""
        return (f'<figure id="{html.escape(b.ident)}" class="figure">{b.svg}'
                f"<figcaption>{html.escape(b.text)}{links}</figcaption></figure>")
    raise ValueError(f"unknown block kind {b.kind!r}")


def render(page: Page) -> str:
    """The page as one HTML document."""
    nav = "".join(f'<a href="#{html.escape(s.ident)}">{html.escape(s.title)}</a>'
                  for s in page.sections if s.level == 2)
    body = []
    for s in page.sections:
        tag = f"h{s.level}"
        body.append(f'<section id="{html.escape(s.ident)}"><{tag}>{html.escape(s.title)}'
                    f"</{tag}>" + "".join(_block(b) for b in s.blocks) + "</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(page.title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(page.title)}</h1>"
            f'<p class="meta">{html.escape(page.meta)}</p><nav>{nav}</nav></header>'
            + "".join(body) + "</body></html>\n")
