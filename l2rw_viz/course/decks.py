"""Lecture decks: an executed notebook -> an offline reveal.js deck with one idea per slide and the figures large.

The notebook keeps the full text; a deck keeps the skeleton a lecturer talks over:

- a title slide: the notebook's title and the question it answers (the course table of ``notebooks/README.md``);
- one slide per section (``##`` heading): the first sentence of each of its paragraphs, as bullets, and its
  displayed formulas, while they fit in :data:`MAX_WORDS` words (a longer first sentence is cut at a word and
  marked with an ellipsis);
- one slide per figure the notebook drew: the section's heading, the figure at full slide width, and a caption
  (the first sentence of the paragraph before it, at most :data:`CAPTION_WORDS` words);
- where the notebook shows the step-through widget, a slide that links the site's kernel-free step-through.

Exercise sections and folded solutions are left to the notebook. A formula (``$...$``) counts as one word. Every
text comes from the notebook's markdown and is rendered by nbconvert's markdown filter after
:func:`l2rw_viz.course.site.escape_stray_html`; titles are HTML-escaped. The deck loads reveal.js, MathJax and plotly.js
from the site (``../reveal.js/``, ``../mathjax/``, ``../plotly.min.js``; see :mod:`l2rw_viz.course.assets`): no
network, no require.js, no jQuery.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field

from . import assets

MAX_WORDS = 60        # words on a text slide (the "at most about 60")
CAPTION_WORDS = 25    # words under a figure
FIGURE_SIZE = (1180, 560)   # px, in reveal's 1280 x 760 slide space
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STEPTHROUGH_PAGE = "stepthrough.html"   # the site's kernel-free step-through (l2rw_viz.course.site.STEPTHROUGH_PAGE)
STEPTHROUGH_TEXT = ("One L2RW step, stage by stage: the batch, per-example gradients, the look-ahead, the slopes, "
                    "clip, normalise and the weighted update.")
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
_SKIP_SECTIONS = re.compile(r"exercise|solution|check yourself|references?$", re.I)


@dataclass
class Slide:
    """One slide: ``kind`` ("title", "text", "figure", "link": the step-through page), its heading, markdown
    bullets or caption, a figure dict."""

    kind: str
    heading: str
    bullets: list[str] = field(default_factory=list)
    figure: dict | None = None
    caption: str = ""


def count_words(markdown: str) -> int:
    """Words of ``markdown`` (or of a slide's text) as a reader counts them: a formula is one word; markup
    characters and tokens without a letter or digit are not words."""
    text = _MATH.sub(" F ", markdown)
    text = re.sub(r"<[^>]+>|[*_`#>|]", " ", text)
    return sum(1 for token in text.split() if re.search(r"\w", token))   # "(", "…", "·" are not words


def _sentences(paragraph: str) -> list[str]:
    """Sentences of one markdown paragraph (formulas kept whole)."""
    protected, maths = paragraph, []

    def keep(m):
        maths.append(m.group(0))
        return f"\x00{len(maths) - 1}\x00"

    protected = _MATH.sub(keep, " ".join(paragraph.split()))
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z(*\"`$\x00])", protected)
    return [re.sub(r"\x00(\d+)\x00", lambda m: maths[int(m.group(1))], p) for p in parts if p.strip()]


def _cut(markdown: str, words: int) -> str:
    """``markdown`` cut to at most ``words`` words (a formula is one word), with an ellipsis when cut."""
    if count_words(markdown) <= words:
        return markdown
    tokens, out, n = re.split(r"(\$[^$]+\$|\s+)", markdown), [], 0
    for tok in tokens:
        if not tok or tok.isspace():
            out.append(tok or "")
            continue
        n += count_words(tok)
        if n > words:
            break
        out.append(tok)
    text = "".join(out).rstrip(" ,;:")
    # an emphasis left open by the cut would run on: drop unmatched markers (outside formulas, whose * and _ are
    # TeX)
    maths = _MATH.findall(text)
    plain = _MATH.sub("\x00", text)
    for mark in ("**", "*", "_", "`"):
        if plain.count(mark) % 2:
            plain = plain[::-1].replace(mark[::-1], "", 1)[::-1]
    text = re.sub("\x00", lambda _: maths.pop(0), plain)
    return text + " \u2026"


def _paragraphs(source: str) -> list[tuple[str, str]]:
    """``[(kind, text)]`` of a markdown cell: ``("h1"|"h2"|"h3", heading)``, ``("p", paragraph)`` or ``("math",
    $$...$$)``; lists, tables, quotes, code and HTML blocks are left out (they belong to the notebook)."""
    out = []
    for block in re.split(r"\n\s*\n", source.strip()):
        block = block.strip()
        if not block:
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", block.split("\n", 1)[0])
        if m:
            out.append((f"h{min(len(m.group(1)), 3)}", m.group(2).strip()))
            rest = block.split("\n", 1)[1].strip() if "\n" in block else ""
            if rest:
                out += _paragraphs(rest)
            continue
        if block.startswith("$$"):
            out.append(("math", block))   # a displayed formula: the deck shows it (it counts as one word)
            continue
        if re.match(r"^([-*+]\s|\d+[.)]\s|\||>|```|<)", block):
            continue
        out.append(("p", block))
    return out


def deck_slides(nb, title: str, question: str = "") -> list[Slide]:
    """The deck of an executed notebook ``nb`` (plotly outputs still as JSON), as :class:`Slide` s."""
    slides = [Slide("title", title, [question] if question else [])]
    heading, last_paragraph, skipping, section = title, "", False, None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for kind, text in _paragraphs(cell.source):
                if kind == "h1":
                    continue
                if kind in ("h2", "h3"):
                    heading = re.sub(r"[*_`]", "", text)
                    skipping = bool(_SKIP_SECTIONS.search(heading))
                    section = None
                    if kind == "h2" and not skipping:
                        section = Slide("text", heading)
                        slides.append(section)
                    continue
                if skipping or text.lstrip().startswith("<details"):
                    continue
                if kind == "math":
                    if section is not None and section.bullets and \
                            sum(count_words(b) for b in section.bullets) + count_words(section.heading) < MAX_WORDS:
                        section.bullets.append(text)
                    continue
                first = _sentences(text)[0] if _sentences(text) else ""
                last_paragraph = first
                if section is None and first:
                    section = Slide("text", heading)
                    slides.append(section)
                if section is not None and first:
                    used = sum(count_words(b) for b in section.bullets)
                    if not section.bullets:
                        section.bullets.append(_cut(first, MAX_WORDS - count_words(section.heading)))
                    elif used + count_words(first) + count_words(section.heading) <= MAX_WORDS:
                        section.bullets.append(first)
        elif cell.cell_type == "code" and not skipping:
            for out in cell.get("outputs", []):
                fig = out.get("data", {}).get(PLOTLY_MIME)
                if fig is None and WIDGET_MIME in out.get("data", {}) and "StepThrough(" in cell.source:
                    # the replay needs more room than a slide has: the deck links its page
                    slides.append(Slide("link", heading, [STEPTHROUGH_TEXT]))
                    section = None
                    continue
                if fig is not None:
                    slides.append(Slide("figure", heading, figure=fig,
                                        caption=_cut(last_paragraph, CAPTION_WORDS) if last_paragraph else ""))
                    section = None   # text after a figure starts a new slide
    return [s for s in slides if s.kind != "text" or s.bullets]


def _md(markdown: str) -> str:
    from nbconvert.filters.markdown import markdown2html

    from .site import escape_stray_html

    return markdown2html(escape_stray_html(markdown))


def _figure_div(fig: dict, div_id: str) -> str:
    import plotly.io as pio

    fig = json.loads(json.dumps(fig))   # a copy: the notebook page draws the original
    layout = fig.setdefault("layout", {})
    layout.update(width=FIGURE_SIZE[0], height=FIGURE_SIZE[1], autosize=False)
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, validate=False, div_id=div_id,
                       config={"displaylogo": False})


def deck_html(slides: list[Slide], title: str, page_link: str, prefix: str = "../") -> str:
    """The reveal.js deck: ``slides`` as ``<section>`` s, assets from ``prefix`` (the site's root)."""
    from .site import href, html_id

    sections = []
    for k, s in enumerate(slides):
        h = html.escape(s.heading)
        if s.kind == "title":
            sub = "".join(f"<p class='question'>{html.escape(b)}</p>" for b in s.bullets)
            sections.append(f"<section><h2>{h}</h2>{sub}<p class='small'><a href=\"{href(page_link)}\">the full "
                            f"notebook page</a> &middot; press <b>?</b> for keys</p></section>")
        elif s.kind == "text":
            items = "".join(f"<li class='math'>{_md(b)}</li>" if b.startswith("$$") else f"<li>{_md(b)}</li>"
                            for b in s.bullets)
            sections.append(f"<section><h3>{h}</h3><ul>{items}</ul></section>")
        elif s.kind == "link":
            sections.append(f"<section><h3>{h}</h3><p>{html.escape(s.bullets[0])}</p><p><a href=\"../"
                            f"{STEPTHROUGH_PAGE}\">open the step-through (no kernel)</a></p></section>")
        else:
            caption = f"<div class='caption'>{_md(s.caption)}</div>" if s.caption else ""
            sections.append(f"<section class='figure'><h4>{h}</h4>"
                            f"{_figure_div(s.figure, html_id(f'deck-{title}-{k}'))}{caption}</section>")
    body = "\n".join(sections)
    r, m = prefix + assets.REVEAL_DIR, prefix + assets.MATHJAX_URL
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} (slides)</title>
<link rel="stylesheet" href="{r}/dist/reset.css"><link rel="stylesheet" href="{r}/dist/reveal.css">
<link rel="stylesheet" href="{r}/dist/theme/white.css">
<style>
.reveal h2 {{ font-size: 1.6em; }} .reveal h3 {{ font-size: 1.2em; }} .reveal h4 {{ font-size: 0.8em; margin: 0; }}
.reveal ul {{ font-size: 0.8em; }} .reveal li {{ margin: 0.4em 0; }} .reveal li p {{ margin: 0; }}
.reveal li.math {{ list-style: none; }}
.reveal .question {{ font-size: 0.9em; color: #555; }} .reveal .small {{ font-size: 0.5em; }}
.reveal .caption {{ font-size: 0.5em; color: #444; }} .reveal .caption p {{ margin: 0.2em 0; }}
.reveal section.figure {{ top: 0 !important; }}
</style>
{assets.MATHJAX_CONFIG}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({{tex2jax: {{inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], processEscapes: true}}}});
</script>
<script src="{m}"></script>
<script src="{prefix}{assets.PLOTLY_JS}"></script>
<script src="{r}/dist/reveal.js"></script>
<script src="{r}/plugin/notes/notes.js"></script>
</head><body>
<div class="reveal"><div class="slides">
{body}
</div></div>
<script>
Reveal.initialize({{hash: true, width: 1280, height: 760, margin: 0.03, center: true, plugins: [RevealNotes]}});
// MathJax 2 cannot measure a hidden slide: typeset each slide again when it is shown
function typesetCurrent() {{
  if (window.MathJax && MathJax.Hub) MathJax.Hub.Queue(["Rerender", MathJax.Hub, Reveal.getCurrentSlide()]);
}}
Reveal.on("ready", typesetCurrent);
Reveal.on("slidechanged", typesetCurrent);
</script>
</body></html>
"""


def write_deck(nb, path, title: str, question: str, page_link: str) -> int:
    """Write the deck of executed notebook ``nb`` to ``path``; returns its number of slides."""
    slides = deck_slides(nb, title, question)
    with open(path, "w", encoding="utf-8") as f:
        f.write(deck_html(slides, title, page_link))
    return len(slides)
