"""Format a handover :class:`~itref.handover.doc.Page` as one standalone HTML page.

No external resource (styles inline, no script, no font, no image), every text through
``html.escape``, and a print style for A4 paper that reads in black and white: each main
section starts a new page, a numbered step never splits across pages, links show their target.
"""

from __future__ import annotations

from html import escape

from itref.handover.doc import (
    Bullets,
    Code,
    Fields,
    Line,
    Link,
    Page,
    Para,
    Section,
    Steps,
    Strong,
    Subsection,
    Table,
)

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 11pt;
  line-height: 1.4; color: #000; background: #fff; max-width: 52em; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 20pt; margin: 0 0 .4em; border-bottom: 2pt solid #000; padding-bottom: .2em; }
h2 { font-size: 15pt; margin: 1.6em 0 .6em; border-bottom: 1pt solid #000; }
h3 { font-size: 12.5pt; margin: 1.4em 0 .4em; }
p, li, td, th, dd { white-space: pre-line; }
p { margin: .4em 0; }
code { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace; font-size: 9.5pt;
  background: #f2f2f2; border: 1px solid #ccc; border-radius: 2px; padding: 0 .2em; white-space: pre-wrap;
  overflow-wrap: anywhere; }
strong { font-weight: bold; }
a { color: #000; }
a[href^="tel:"] { white-space: nowrap; }
.running { font-size: 8.5pt; color: #444; margin: 0; border-bottom: .5pt solid #999; }
.muted { color: #444; font-style: italic; }
.note { border-left: 4pt solid #000; padding: .3em .7em; background: #f6f6f6; }
.contents ol { margin: .3em 0; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border: 1px solid #555; padding: .25em .45em; text-align: left; vertical-align: top; }
th { background: #e8e8e8; }
dl.fields { display: grid; grid-template-columns: minmax(9em, 28%) 1fr; gap: .15em .8em; margin: .5em 0; }
dl.fields dt { font-weight: bold; }
dl.fields dd { margin: 0; }
ol.steps { list-style: none; padding: 0; margin: .6em 0; }
ol.steps > li { border: 1px solid #555; border-radius: 3px; padding: .4em .6em .4em 3.2em; margin: 0 0 .5em;
  position: relative; }
.num { position: absolute; left: .5em; top: .35em; font-weight: bold; font-size: 12pt; }
.box { position: absolute; left: .55em; top: 1.9em; width: 1.1em; height: 1.1em; border: 1.2pt solid #000; }
.step-title { font-weight: bold; }
ol.steps dl { margin: .3em 0 0; display: grid; grid-template-columns: 7em 1fr; gap: .1em .6em; font-size: 10pt; }
ol.steps dt { font-style: italic; }
ol.steps dd { margin: 0; }
@media screen { .running { display: none; } }
@page { size: A4; margin: 16mm 15mm 18mm 15mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  section.main.break { break-before: page; page-break-before: always; }
  h2, h3, .step-title { break-after: avoid; page-break-after: avoid; }
  ol.steps > li, tr, dl.fields, .note { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  code { background: none; border: none; padding: 0; }
  a { text-decoration: none; }
}
"""


def _inline(line: Line) -> str:
    out = []
    for part in line:
        if isinstance(part, Code):
            out.append(f"<code>{escape(part.text)}</code>")
        elif isinstance(part, Strong):
            out.append(f"<strong>{escape(part.text)}</strong>")
        elif isinstance(part, Link):
            out.append(f'<a href="{escape(part.href)}">{escape(part.text)}</a>')
        else:
            out.append(escape(part))
    return "".join(out)


def _block(b: object) -> str:
    if isinstance(b, Para):
        cls = f' class="{escape(b.style)}"' if b.style else ""
        return f"<p{cls}>{_inline(b.parts)}</p>"
    if isinstance(b, Fields):
        rows = "".join(f"<dt>{escape(label)}</dt><dd>{_inline(value)}</dd>" for label, value in b.rows)
        return f'<dl class="fields">{rows}</dl>'
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in b.items) + "</ul>"
    if isinstance(b, Steps):
        items = []
        for s in b.items:
            details = "".join(f"<dt>{escape(label)}</dt><dd>{_inline(value)}</dd>" for label, value in s.details)
            items.append(f'<li value="{s.number}"><span class="num">{s.number}.</span><span class="box"></span>'
                         f'<div class="step-title">{escape(s.title)}</div><div>{_inline(s.action)}</div>'
                         + (f"<dl>{details}</dl>" if details else "") + "</li>")
        return '<ol class="steps">' + "\n".join(items) + "</ol>"
    if isinstance(b, Table):
        head = "".join(f"<th>{escape(h)}</th>" for h in b.header)
        rows = "\n".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in b.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    raise TypeError(f"unknown block {b!r}")


def _subsection(sub: Subsection) -> str:
    blocks = "\n".join(_block(b) for b in sub.blocks)
    return f'<section id="{escape(sub.anchor)}"><h3>{escape(sub.number)} {escape(sub.title)}</h3>\n{blocks}</section>'


def _section(doc: Page, s: Section, first: bool) -> str:
    cls = "main break" if doc.page_breaks and not first else "main"
    running = f'<p class="running">{escape(doc.running)}</p>' if doc.page_breaks else ""
    parts = [f'<section class="{cls}" id="{escape(s.anchor)}">{running}<h2>{s.number}. {escape(s.title)}</h2>']
    parts += [_block(b) for b in s.blocks]
    parts += [_subsection(sub) for sub in s.subsections]
    parts.append("</section>")
    return "\n".join(parts)


def render(doc: Page) -> str:
    """Return the whole document as a standalone HTML page."""
    contents = "".join(f'<li><a href="#{escape(s.anchor)}">{s.number}. {escape(s.title)}</a></li>'
                       for s in doc.sections)
    body = [f"<h1>{escape(doc.title)}</h1>", *[_block(b) for b in doc.intro],
            f'<nav class="contents"><p><strong>{escape(doc.contents_title)}</strong></p>'
            f'<ol style="list-style: none; padding-left: 0">{contents}</ol></nav>']
    body += [_section(doc, s, i == 0) for i, s in enumerate(doc.sections)]
    return ("<!DOCTYPE html>\n"
            f'<html lang="{escape(doc.lang)}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
