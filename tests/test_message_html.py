"""The HTML version of a message: Markdown rendered, sanitized, laid out, placeholders escaped."""
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer import message_html
from mailer.message_template import Recipient, TemplateProblem
from tests.html_checker import nu_errors
from tests.letter_corpus import CORPUS

ANNA = Recipient(email="anna@example.com", full_name="Анна Петрова")
LINK = "https://mailer.test/unsubscribe/token?a=1&b=2"


def html_of(source: str, recipient: Recipient = ANNA, subject: str = "Новости") -> str:
    return version(source).render(recipient, subject, LINK)


def version(source: str) -> message_html.HtmlVersion:
    return message_html.build(source, lang="ru", footer="Вы в списке «Пекарни».",
                              unsubscribe_label="Отписаться")


class _Reader(HTMLParser):
    """What a reader of the letter gets: the elements, their attributes, and the text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.pre: list[str] = []
        self._in_pre = 0
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_pre += tag == "pre"
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_pre -= tag == "pre"
        self._in_title = False

    def handle_data(self, data):
        if not self._in_title:
            (self.pre if self._in_pre else self.text).append(data)

    def first(self, name: str) -> dict:
        return next(attrs for tag, attrs in self.tags if tag == name)

    def words(self) -> str:
        return " ".join("".join(self.text).split())

    def names(self) -> list[str]:
        return [tag for tag, _attrs in self.tags]


def test_markdown_becomes_the_letter_a_reader_sees():
    reader = _Reader(html_of(
        "# Весенний выпуск\n\nЗдравствуйте, **{{ client.full_name }}**!\nВторая строка.\n\n"
        "- Пирог — 350 ₽\n- Кофе — 120 ₽\n\n| Товар | Цена |\n|---|---:|\n| Пирог | 350 |\n\n"
        "![Баннер](https://cdn.example.com/banner.png)\n\nПодробнее: https://shop.example.com/offers\n\n"
        "> цитата\n\n~~старая цена~~"))
    names = reader.names()
    for tag in ("h1", "strong", "br", "ul", "li", "table", "th", "td", "img", "a", "blockquote", "s"):
        assert tag in names, tag
    assert "Здравствуйте, Анна Петрова! Вторая строка." in reader.words()
    image = reader.first("img")
    assert image["src"] == "https://cdn.example.com/banner.png" and image["alt"] == "Баннер"
    links = [attrs["href"] for tag, attrs in reader.tags if tag == "a"]
    assert "https://shop.example.com/offers" in links, "a bare address becomes a link"
    assert links[-1] == LINK, "the footer links to the unsubscribe page"
    assert reader.words().endswith("Вы в списке «Пекарни». Отписаться")


def test_plain_text_reads_the_same_in_html():
    reader = _Reader(html_of("Добрый день!\nЖдём вас по адресу: ул. Ленина, д. 1.\n\nС уважением,\nКоманда"))
    assert reader.words().startswith("Добрый день! Ждём вас по адресу: ул. Ленина, д. 1. С уважением, Команда")
    assert reader.names().count("br") == 2, "a line break as typed stays a line break"


def test_the_layout_css_is_written_into_the_elements():
    html = html_of("Текст\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    reader = _Reader(html)
    assert "style" not in reader.names(), "mail programs drop <style>: nothing is left to it"
    styled = {tag: attrs.get("style", "") for tag, attrs in reader.tags}
    assert "max-width: 600px" in styled["div"] or any(
        "max-width: 600px" in attrs.get("style", "") for tag, attrs in reader.tags if tag == "div")
    assert "border" in styled["td"] and "max-width: 100%" not in styled["td"]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.startswith("<!DOCTYPE html>") and '<html lang="ru">' in html


@pytest.mark.parametrize("name", [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "Tom & Jerry", "{{ 7*7 }}"])
def test_a_client_name_is_always_text_never_markup(name):
    html = html_of('Hi {{ client.full_name }}! <a href="https://x.example/?n={{ client.full_name }}">me</a>',
                   Recipient(email="a@example.com", full_name=name))
    reader = _Reader(html)
    assert "script" not in reader.names() and "img" not in reader.names()
    assert all("onerror" not in attrs for _tag, attrs in reader.tags)
    assert f"Hi {name}!" in reader.words()
    assert reader.first("a")["href"] == f"https://x.example/?n={name}"


def test_what_could_run_or_leak_is_removed_and_named():
    source = ("Hello\n\n<script>steal()</script><style>p{display:none}</style>"
              '<a href="javascript:alert(1)" onclick="x()">click</a> <img src="data:image/png;base64,AAAA">'
              '<iframe src="https://evil.example/"></iframe><form action="https://evil.example/"><input name="pw">'
              '</form><p onmouseover="y()" style="color: red; position: fixed">red</p>'
              '<a href="vbscript:msgbox(1)">vb</a> <object data="x.swf"></object>')
    built = version(source)
    html = built.render(ANNA, "s", LINK)
    reader = _Reader(html)
    for tag in ("script", "iframe", "form", "input", "object"):
        assert tag not in reader.names()
    assert "steal()" not in html and "display:none" not in html
    assert not re.search(r"\son\w+=", html), "no event handler is left"
    assert "javascript:" not in html and "vbscript:" not in html and "data:" not in html
    assert "position" not in html and "color:red" in html.replace(" ", "")
    assert dict(built.removed) == {
        "<script>": 1, "<style>": 1, "<iframe>": 1, "<form>": 1, "<input>": 1, "<object>": 1,
        "javascript:": 1, "vbscript:": 1, "data:": 1, "onclick=": 1, "onmouseover=": 1}


def test_a_clean_message_has_nothing_removed():
    assert version("Hello **{{ client.full_name }}**\n\n<b>bold</b> <a href='https://a.example'>a</a>").removed == ()


def test_conditions_and_filters_work_in_html_and_leave_no_empty_paragraphs():
    source = ("{% if client.full_name %}\nДорогой(ая) {{ client.full_name|upper }},\n{% else %}\n"
              "Здравствуйте,\n{% endif %}\n\nтекст")
    named = _Reader(html_of(source)).words()
    unnamed = _Reader(html_of(source, Recipient(email="x@example.com", full_name=""))).words()
    assert named.startswith("Дорогой(ая) АННА ПЕТРОВА, текст")
    assert unnamed.startswith("Здравствуйте, текст")
    assert "<p></p>" not in html_of("{% if client.full_name %}\n\nабзац\n\n{% endif %}")


def test_braces_in_text_are_text():
    words = _Reader(html_of('Цены {от 100 ₽} и {{ "{{" }} скобки }}')).words()
    assert "Цены {от 100 ₽} и {{ скобки }}" in words


@pytest.mark.parametrize("source, problem", [
    ('<a href="{{ client.email }}">me</a>', "link"),
    ("[site]({{ client.full_name }})", "link"),
    ("<script>{% if client.email %}</script>x{% endif %}", "condition"),
    ("{% raw %}<script>alert(1)</script>{% endraw %}", "raw"),
])
def test_placeholders_where_they_could_do_harm_are_refused(source, problem):
    with pytest.raises(TemplateProblem) as refused:
        version(source)
    assert refused.value.detail == problem


def test_a_placeholder_after_the_start_of_an_address_is_fine():
    reader = _Reader(html_of("[Ваш кабинет](https://shop.example.com/me?email={{ client.email }})"))
    assert reader.first("a")["href"] == "https://shop.example.com/me?email=anna@example.com"


@pytest.mark.parametrize("letter", CORPUS, ids=[letter.key for letter in CORPUS])
def test_every_corpus_letter_fits_the_wire_as_it_is(letter):
    """Long paragraphs are broken at spaces, so a letter goes as 8bit, not encoded; only what
    cannot be broken (a 5,000-character word, a 997-character one) stays long."""
    html = html_of(letter.body, Recipient(email="k@example.com", full_name=letter.clients[0][1]))
    long_lines = [line for line in html.splitlines() if len(line.encode()) > 998]
    unbreakable = {"unbroken-5000": "Z" * 5000, "qp-triggers": "c" * 997}
    if letter.key in unbreakable:
        assert len(long_lines) == 1 and unbreakable[letter.key] in long_lines[0]
    else:
        assert long_lines == []


words = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]) | st.just(" "), max_size=60)


@settings(max_examples=200, deadline=None)
@given(paragraphs=st.lists(words, max_size=8), code=words, width=st.integers(min_value=10, max_value=100))
def test_breaking_lines_changes_nothing_a_reader_sees(paragraphs, code, width):
    fragment = "".join(f"<p>{p}<b> {p}</b></p>" for p in paragraphs) + f"<pre>{code} {code}</pre>"
    clean = message_html.sanitize(fragment)
    wrapped = message_html.wrap_lines(clean, width)
    before, after = _Reader(clean), _Reader(wrapped)
    assert after.words() == before.words()
    assert after.pre == before.pre, "code keeps its lines"
    assert after.tags == before.tags


def test_every_corpus_letter_is_valid_html(html_checker, tmp_path):
    """Judged by the W3C Nu checker: our layout and what Markdown and the sanitizer make of
    every letter of the corpus (the demo newsletter among them)."""
    from mailer.cli.seed import DEMO_NEWSLETTER

    letters = {letter.key: (letter.body, letter.clients[0][1]) for letter in CORPUS}
    letters["demo-newsletter"] = (DEMO_NEWSLETTER, "Анна Петрова")
    for key, (body, name) in letters.items():
        html = html_of(body, Recipient(email="a@example.com", full_name=name))
        (tmp_path / f"{key}.html").write_text(html, encoding="utf-8")

    assert nu_errors(html_checker, tmp_path) == []
