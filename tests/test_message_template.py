"""The message template language: placeholders in, everything else out."""
import pytest

from mailer.message_template import Recipient, TemplateProblem, check, render

ANNA = Recipient(email="anna@example.com", full_name="Анна Петрова")


@pytest.mark.parametrize("source, expected", [
    ("Hello {{ client.full_name }}!", "Hello Анна Петрова!"),
    ("{{ client.email }}", "anna@example.com"),
    ("{{ client.full_name|upper }}", "АННА ПЕТРОВА"),
    ('{{ client.full_name|default("friend", true) }}', "Анна Петрова"),
    ("{% if client.full_name %}Dear {{ client.full_name }}{% else %}Hello{% endif %}", "Dear Анна Петрова"),
    ("<b>{{ client.full_name }}</b> & co", "<b>Анна Петрова</b> & co"),
    ("no placeholders at all\n", "no placeholders at all\n"),
])
def test_allowed_templates_render(source, expected):
    assert render(source, ANNA) == expected


def test_empty_name_falls_back_with_default():
    assert render('Hello {{ client.full_name|default("friend", true) }}', Recipient("a@b.c", "")) == "Hello friend"


@pytest.mark.parametrize("source, kind", [
    ("{{ client.phone }}", "placeholder"),
    ("{{ user }}", "placeholder"),
    ("{{ client.__class__ }}", "placeholder"),
    ("{{ client.email.__class__.__mro__[1].__subclasses__() }}", "construct"),
    ("{{ ''.__class__.__base__ }}", "placeholder"),
    ("{{ cycler.__init__.__globals__.os }}", "placeholder"),
    ("{{ lipsum.__globals__ }}", "placeholder"),
    ("{{ self.__init__.__globals__ }}", "placeholder"),
    ("{{ config }}", "placeholder"),
    ("{{ range(100000) }}", "construct"),
    ("{{ 'x' * 1000000000 }}", "construct"),
    ("{{ 9 ** 9 ** 9 }}", "construct"),
    ("{{ client.email|center(999999999) }}", "construct"),
    ("{{ client.email|attr('__class__') }}", "construct"),
    ("{% for c in client.email %}{% endfor %}", "construct"),
    ("{% set x = client %}", "construct"),
    ("{% include 'secret.txt' %}", "construct"),
    ("{% import 'x' as y %}", "construct"),
    ("{% macro m() %}{% endmacro %}", "construct"),
    ("{{ client['email'] }}", "construct"),
    ("{{ client.full_name }", "syntax"),
    ("{% if client.email %}", "syntax"),
])
def test_everything_else_is_refused_before_rendering(source, kind):
    with pytest.raises(TemplateProblem) as problem:
        check(source)

    assert problem.value.kind == kind
    with pytest.raises(TemplateProblem):
        render(source, ANNA)


def test_syntax_error_names_the_line():
    with pytest.raises(TemplateProblem) as problem:
        check("line one\nline two {{ client.email }\nline three")

    assert problem.value.detail == "2"
