"""Placeholders in messages: ``{{ client.full_name }}``, ``{{ client.email }}``.

A message's subject and body are Jinja text with a deliberately small
language: the two placeholders, a few string filters and ``{% if %}``.
``check`` walks the parsed template and refuses anything else (loops,
includes, globals, arithmetic, other attributes), so a mistake is found when
the message is saved, not when it is sent, and no template can reach outside
or run long. Rendering also happens in Jinja's sandbox, as a second wall.
The text version is plain text: nothing is HTML-escaped. The HTML version
(``mailer.message_html``) is compiled with autoescaping from a document we
build around the checked source.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

PLACEHOLDERS = ("{{ client.full_name }}", "{{ client.email }}")
CLIENT_FIELDS = frozenset({"full_name", "email"})
FILTERS = frozenset(
    {"upper", "lower", "title", "capitalize", "trim", "default", "d", "replace", "truncate"}
)
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.If,
    nodes.CondExpr, nodes.And, nodes.Or, nodes.Not, nodes.Compare, nodes.Operand,
    nodes.Concat, nodes.Name, nodes.Getattr, nodes.Filter,
)


@dataclass(frozen=True)
class Recipient:
    """What a message may know about the client it is sent to."""

    email: str
    full_name: str


SAMPLE_RECIPIENT = Recipient(email="anna.petrova@example.com", full_name="Анна Петрова")


class TemplateProblem(ValueError):
    """Why a text cannot be used as a message.

    ``kind`` is ``syntax`` (``detail``: the line number), ``placeholder``
    (``detail``: what was written) or ``construct`` (``detail``: what it is),
    so the form can say it in the user's language.
    """

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class _MessageEnvironment(SandboxedEnvironment):
    """The sandbox, with a short way to the two client fields.

    A newsletter names its client a hundred times, and the sandbox's checks
    cost 4 µs a name: a fifth of a run's time for a 20 kB letter. A client's
    fields are plain strings on our own frozen class, safe to hand out as they are.
    """

    def getattr(self, obj, attribute):
        if type(obj) is Recipient and attribute in CLIENT_FIELDS:
            return obj.email if attribute == "email" else obj.full_name
        return super().getattr(obj, attribute)


_environment = _MessageEnvironment(undefined=StrictUndefined, autoescape=False,
                                   keep_trailing_newline=True)
_environment.globals.clear()
_html_environment = _MessageEnvironment(undefined=StrictUndefined, autoescape=True)
_html_environment.globals.clear()


def _parse(source: str) -> nodes.Template:
    try:
        return _environment.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem("syntax", str(error.lineno)) from None


def _check_node(node: nodes.Node) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        raise TemplateProblem("construct", type(node).__name__)
    if isinstance(node, nodes.Name) and node.name != "client":
        raise TemplateProblem("placeholder", node.name)
    if isinstance(node, nodes.Getattr):
        if not (isinstance(node.node, nodes.Name) and node.node.name == "client"
                and node.attr in CLIENT_FIELDS):
            raise TemplateProblem("placeholder", _dotted(node))
    if isinstance(node, nodes.Filter) and node.name not in FILTERS:
        raise TemplateProblem("construct", f"|{node.name}")
    for child in node.iter_child_nodes():
        _check_node(child)


def _dotted(node: nodes.Node) -> str:
    if isinstance(node, nodes.Getattr):
        return f"{_dotted(node.node)}.{node.attr}"
    return getattr(node, "name", "…")


def check(source: str) -> None:
    """Raise TemplateProblem unless ``source`` uses only what messages may use."""
    _check_node(_parse(source))
    # {% raw %} text is output as it is: in the HTML version it would pass the sanitizer by.
    if any(token == "raw_begin" for _line, token, _value in _environment.lexer.tokeniter(source, None)):
        raise TemplateProblem("construct", "raw")


@dataclass(frozen=True)
class Piece:
    """A stretch of a message: ``text`` as written, or one ``output`` ({{ }}) or ``block`` ({% %})."""

    kind: str
    source: str


def pieces(source: str) -> list[Piece]:
    """A checked ``source`` cut where Jinja's own lexer cuts it; comments are left out."""
    found: list[Piece] = []
    construct: list[str] = []
    for _line, token, value in _environment.lexer.tokeniter(source, None):
        if token == "data":
            found.append(Piece("text", value))
        elif token in ("variable_begin", "block_begin", "comment_begin"):
            construct = [value]
        elif token in ("variable_end", "block_end"):
            construct.append(value)
            found.append(Piece("output" if token == "variable_end" else "block", "".join(construct)))
        elif token != "comment_end":
            construct.append(value)
    return found


def compile(source: str) -> Callable[[Recipient], str]:  # noqa: A001 (the word fits)
    """Check and compile ``source`` once; the result renders it for one recipient.

    The sending engine compiles a message once per run and renders it per client.
    """
    check(source)
    template = _environment.from_string(source)

    def render_for(recipient: Recipient) -> str:
        try:
            return template.render(client=recipient)
        except TemplateError as error:
            raise TemplateProblem("construct", str(error)) from None

    return render_for


def compile_html(document: str) -> Callable[..., str]:
    """Compile an HTML document built by ``mailer.message_html``: its placeholders are a
    checked message's, its text already sanitized; every value is HTML-escaped."""
    template = _html_environment.from_string(document)

    def render_for(recipient: Recipient, **layout: str) -> str:
        try:
            return template.render(client=recipient, **layout)
        except TemplateError as error:
            raise TemplateProblem("construct", str(error)) from None

    return render_for


def render(source: str, recipient: Recipient) -> str:
    """``source`` with the recipient's placeholders filled in (checked first)."""
    return compile(source)(recipient)
