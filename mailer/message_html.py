"""A message's HTML version: its Markdown made into a safe letter that mail programs render.

A body is Markdown (CommonMark with tables, strikethrough, bare links and line
breaks as typed; plain text stays valid Markdown). ``build`` runs once per
message and run:

1. the placeholders (Jinja's own lexer finds them) are set aside as opaque
   tokens, so that Markdown and the sanitizer never see template code;
2. Markdown becomes HTML (markdown-it-py), raw HTML included;
3. nh3 (the Rust ammonia sanitizer) keeps only what a letter needs: no script,
   style, event handler, form, iframe, or link other than http(s), mailto and
   tel; ``removed`` says what went, for the preview;
4. the fragment goes into our layout, whose CSS css-inline writes into style
   attributes (mail programs drop ``<style>``);
5. long text lines are broken at spaces, so that the letter goes as it is
   (8bit) rather than encoded;
6. the tokens become the placeholders again, compiled with autoescaping, so a
   client's name is always text in the HTML, never markup.
"""
from __future__ import annotations

import re
import secrets
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Callable
from urllib.parse import urlsplit

import css_inline
import nh3
from markdown_it import MarkdownIt
from markupsafe import escape

from mailer import message_template
from mailer.message_template import Recipient, TemplateProblem

WIDTH = 76
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
TAGS = frozenset(nh3.ALLOWED_TAGS) - {"area", "map", "details", "summary", "nav", "data", "time"}
ATTRIBUTES = {
    **{tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"style", "title", "lang", "dir"},
    "img": {"src", "alt", "width", "height", "align"},
}
# Properties a letter's own styling may set; not position, white-space or anything that
# reaches outside the letter.
STYLE_PROPERTIES = frozenset({
    "color", "background-color", "font-family", "font-size", "font-style", "font-weight",
    "line-height", "letter-spacing", "text-align", "text-decoration", "text-transform",
    "vertical-align", "width", "max-width", "height", "margin", "margin-top", "margin-bottom",
    "margin-left", "margin-right", "padding", "padding-top", "padding-bottom", "padding-left",
    "padding-right", "border", "border-top", "border-bottom", "border-left", "border-right",
    "border-color", "border-width", "border-style", "border-radius", "border-collapse",
})

_FONTS = "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
LAYOUT_CSS = f"""
body {{ margin: 0; padding: 0; background-color: #f3f4f6; }}
.frame {{ padding: 16px 8px; background-color: #f3f4f6; }}
.letter {{ max-width: 600px; margin: 0 auto; padding: 24px; background-color: #ffffff; color: #1f2328;
  font-family: {_FONTS}; font-size: 16px; line-height: 1.5; }}
.letter h1, .letter h2, .letter h3 {{ line-height: 1.25; margin: 24px 0 12px; }}
.letter p, .letter ul, .letter ol, .letter blockquote, .letter pre, .letter table {{ margin: 0 0 16px; }}
.letter img {{ max-width: 100%; height: auto; border: 0; }}
.letter a {{ color: #0b57d0; }}
.letter table {{ border-collapse: collapse; width: 100%; }}
.letter th, .letter td {{ border: 1px solid #d0d7de; padding: 6px 8px; text-align: left; }}
.letter blockquote {{ padding: 0 12px; border-left: 4px solid #d0d7de; color: #57606a; }}
.letter pre {{ padding: 12px; background-color: #f6f8fa; white-space: pre-wrap; font-size: 14px; }}
.letter code {{ font-family: SFMono-Regular, Consolas, 'Liberation Mono', monospace; }}
.footer {{ max-width: 600px; margin: 0 auto; padding: 16px 24px; color: #57606a;
  font-family: {_FONTS}; font-size: 12px; }}
.footer a {{ color: #57606a; }}
"""

# Plain blocks: no layout tables or obsolete attributes (the letter is valid HTML); where
# max-width is ignored (Outlook on Windows), the letter simply takes the window's width.
LAYOUT = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{subject}</title>
<style>{css}</style>
</head>
<body>
<div class="frame">
<div class="letter">
{content}
</div>
<div class="footer">
<p>{footer} <a href="{unsubscribe}">{unsubscribe_label}</a></p>
</div>
</div>
</body>
</html>
"""

_markdown = MarkdownIt("commonmark", {"html": True, "linkify": True, "breaks": True}).enable(
    ["table", "strikethrough", "linkify"])
_inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)
# A tag, its quoted attribute values allowed to hold ">" (the serializer leaves it as it is).
_TAG = re.compile(r"""<[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>""")
_KEEP_LINES = frozenset({"pre", "textarea"})


@dataclass(frozen=True)
class HtmlVersion:
    render: Callable[[Recipient, str, str], str]  # (recipient, subject, unsubscribe link) -> HTML
    removed: tuple[tuple[str, int], ...]  # what the sanitizer took out, and how many times


class _Inventory(HTMLParser):
    """What a fragment holds that the sanitizer may take away: elements, attributes, link schemes."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.found: Counter[str] = Counter()
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found[f"<{tag}>"] += 1
        for name, value in attrs:
            scheme = urlsplit((value or "").strip()).scheme.lower() if name in ("href", "src") else ""
            what = f"{scheme}:" if scheme and scheme not in URL_SCHEMES else f"{name}="
            self.found[f"{tag} {what}"] += 1

    handle_startendtag = handle_starttag


def removed_items(raw: str, clean: str) -> tuple[tuple[str, int], ...]:
    """``("<script>", 2)``, ``("onclick=", 1)``, ``("javascript:", 1)``: what ``clean`` lacks
    (an element's attributes are not counted again when the element itself went)."""
    gone = _Inventory(raw).found - _Inventory(clean).found
    counted: Counter[str] = Counter()
    for key, count in gone.items():
        tag, _space, what = key.partition(" ")
        if not what:
            counted[key] += count
        elif f"<{tag}>" not in gone:
            counted[what] += count
    return tuple(sorted(counted.items()))


def sanitize(html: str) -> str:
    return nh3.clean(html, tags=set(TAGS), attributes=ATTRIBUTES, url_schemes=set(URL_SCHEMES),
                     clean_content_tags={"script", "style"}, strip_comments=True,
                     filter_style_properties=set(STYLE_PROPERTIES))


def wrap_lines(html: str, width: int = WIDTH) -> str:
    """Break text at spaces so that lines stay near ``width``: a newline is white space
    in HTML as a space is, except in ``pre`` (left alone). Tags are never broken."""
    out: list[str] = []
    column = 0
    keep = 0
    position = 0
    for tag in [*_TAG.finditer(html), None]:
        text = html[position:tag.start() if tag else len(html)]
        if keep:
            out.append(text)
            column = _column_after(text, column)
        else:
            for index, word in enumerate(text.split(" ")):
                if index:
                    first = word.split("\n", 1)[0]
                    if column and column + 1 + len(first) > width:
                        out.append("\n")
                        column = 0
                    else:
                        out.append(" ")
                        column += 1
                out.append(word)
                column = _column_after(word, column)
        if tag is None:
            break
        markup = tag.group()
        name = markup[1:].lstrip("/").split(None, 1)[0].rstrip(">/").lower() if len(markup) > 2 else ""
        if name in _KEEP_LINES:
            keep += -1 if markup.startswith("</") else 1
            keep = max(keep, 0)
        out.append(markup)
        column = _column_after(markup, column)
        position = tag.end()
    return "".join(out)


def _column_after(text: str, column: int) -> int:
    newline = text.rfind("\n")
    return column + len(text) if newline < 0 else len(text) - newline - 1


def _protect(source: str, prefix: str) -> tuple[str, dict[str, message_template.Piece], list[str]]:
    """The source with each placeholder replaced by a token no text can contain: ``prefix``
    (random), ``t``, its number, ``z``; letters and digits only, so Markdown leaves it alone."""
    tokens: dict[str, message_template.Piece] = {}
    blocks: list[str] = []
    written: list[str] = []
    for index, piece in enumerate(message_template.pieces(source)):
        if piece.kind == "text":
            written.append(piece.source)
            continue
        token = f"{prefix}t{index}z"
        tokens[token] = piece
        if piece.kind == "block":
            blocks.append(token)
        written.append(token)
    return "".join(written), tokens, blocks


def _check_placement(html: str, blocks: list[str], prefix: str) -> None:
    """Every condition still there, in order; no link address that begins with a placeholder."""
    found = re.findall(rf"{prefix}t\d+z", html)
    if [token for token in found if token in blocks] != blocks:
        raise TemplateProblem("html", "condition")
    if re.search(rf"""(?:href|src)=["']\s*{prefix}t""", html):
        raise TemplateProblem("html", "link")


def build(source: str, *, lang: str, footer: str, unsubscribe_label: str) -> HtmlVersion:
    """The HTML version of a message body; raises TemplateProblem.

    ``footer`` and ``unsubscribe_label`` are ours (translated), put in as text."""
    message_template.check(source)
    prefix = f"mlr{secrets.token_hex(6)}"
    markdown, tokens, blocks = _protect(source, prefix)
    raw = _markdown.render(markdown)
    for token in blocks:  # a condition on a line of its own is no paragraph, nor a line break
        raw = raw.replace(f"<p>{token}</p>", token).replace(f"{token}<br />", token)
    clean = sanitize(raw)
    layout_tokens = {name: f"{prefix}L{name}z" for name in ("subject", "unsubscribe_link")}
    document = LAYOUT.format(
        lang=escape(lang), css=LAYOUT_CSS, content=clean, footer=escape(footer),
        unsubscribe_label=escape(unsubscribe_label), subject=layout_tokens["subject"],
        unsubscribe=layout_tokens["unsubscribe_link"])
    document = wrap_lines(_inliner.inline(document))
    _check_placement(document, blocks, prefix)
    template = document.replace("{", '{{ "{" }}')
    for token, piece in tokens.items():
        template = template.replace(token, piece.source)
    for name, token in layout_tokens.items():
        template = template.replace(token, f"{{{{ {name} }}}}")
    compiled = message_template.compile_html(template)

    def render(recipient: Recipient, subject: str, unsubscribe_link: str) -> str:
        return compiled(recipient, subject=subject, unsubscribe_link=unsubscribe_link)

    return HtmlVersion(render=render, removed=removed_items(raw, clean))
