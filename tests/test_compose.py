"""The bytes a client receives: the fast path means exactly what ``EmailMessage`` would."""
from email import message_from_bytes, message_from_string, policy

from hypothesis import given, settings
from hypothesis import strategies as st

from mailer import message_html
from mailer.delivery.compose import Letter
from mailer.message_template import Recipient
from tests.wire import wire_problems

LINK = "http://mailer.test/unsubscribe/" + "t" * 90


def letter(subject: str, body: str, sender="Mailer <noreply@mailer.test>", html: bool = True) -> Letter:
    """``NAME`` stands for the client's name; with ``html``, the body is also Markdown."""
    version = message_html.build(
        body.replace("{", "(").replace("NAME", "{{ client.full_name }}"), lang="ru",
        footer="Вы получили это письмо, потому что вы в списке.", unsubscribe_label="Отписаться",
    ) if html else None
    return Letter(sender=sender, envelope_from="noreply@mailer.test", domain="mailer.test",
                  subject=lambda r: subject.replace("NAME", r.full_name),
                  body=lambda r: body.replace("NAME", r.full_name),
                  footer="Вы получили это письмо, потому что вы в списке. Отписаться:",
                  unsubscribe_link=lambda client_id: LINK, html=version)


def meaning(raw: bytes) -> dict:
    """What a mail program shows of a message: its headers, and each part's type and text."""
    parsed = message_from_bytes(raw, policy=policy.default)
    (to,) = parsed["To"].addresses
    return {
        "from": str(parsed["From"]), "to": (to.display_name, to.addr_spec),
        "subject": str(parsed["Subject"]), "list-unsubscribe": str(parsed["List-Unsubscribe"]),
        "one-click": str(parsed["List-Unsubscribe-Post"]), "type": parsed.get_content_type(),
        "parts": [(part.get_content_type(), part.get_content_charset(),
                   str(part["Content-Transfer-Encoding"]), part.get_content())
                  for part in parsed.walk() if not part.is_multipart()],
        "headers": sorted(parsed.keys()),
        "defects": [type(d).__name__ for part in parsed.walk() for d in part.defects],
    }


def both(the_letter: Letter, email: str, name: str, eight_bit: bool = True) -> tuple[bytes, bytes]:
    fast = the_letter.for_client(7, email, name, eight_bit=eight_bit)
    recipient_name = " ".join(name.split())
    recipient = Recipient(email, name)
    subject = " ".join(the_letter.subject(recipient).split())
    body = the_letter.text_for(recipient, LINK)
    html = the_letter.html.render(recipient, subject, LINK) if the_letter.html else None
    reference = the_letter.as_email_message(email, recipient_name, subject, body, LINK, eight_bit,
                                            html).as_bytes()
    return fast, reference


def same_meaning(fast: bytes, reference: bytes, eight_bit: bool = True, to: tuple | None = None,
                 subject: str | None = None) -> None:
    mine, theirs = meaning(fast), meaning(reference)
    assert mine == theirs
    if to is not None:
        assert mine["to"] == to, "the name reads back as it was given"
    if subject is not None:
        assert mine["subject"] == subject, "the subject reads back as it was given"
    assert wire_problems(fast, eight_bit) == []
    assert wire_problems(reference, eight_bit) == []


def test_a_russian_letter_means_the_same_and_is_sent_as_8bit():
    fast, reference = both(letter("Новости для NAME", "Здравствуйте, NAME!\n\nСкидки недели."),
                           "anna@example.com", "Анна Петрова")
    same_meaning(fast, reference)
    assert b"Content-Transfer-Encoding: 8bit" in fast
    assert "Здравствуйте, Анна Петрова!".encode() in fast


def test_a_letter_is_its_text_and_the_html_made_from_it_text_first():
    fast, reference = both(letter("Hi", "Hello **NAME** & co <b>\n\n* one\n* two"),
                           "anna@example.com", "Анна <Петрова>")
    same_meaning(fast, reference)
    parsed = message_from_bytes(fast, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = (part for part in parsed.iter_parts())
    assert text.get_content_type() == "text/plain"  # the last part is the one a reader prefers
    assert text.get_content().replace("\r\n", "\n").startswith("Hello **Анна <Петрова>** & co <b>\n")
    assert html.get_content_type() == "text/html"
    shown = " ".join(html.get_content().split())
    assert "Hello <strong>Анна &lt;Петрова&gt;</strong> &amp; co" in shown
    assert "<li>one</li>" in shown


def test_a_text_only_letter_is_one_plain_part():
    fast, reference = both(letter("Hi", "Hello NAME", html=False), "anna@example.com", "Анна")
    same_meaning(fast, reference)
    assert message_from_bytes(fast, policy=policy.default).get_content_type() == "text/plain"


def test_header_injection_through_a_name_or_subject_adds_no_header():
    fast, reference = both(letter("Hi NAME\r\nBcc: victim@example.com", "Hello"),
                           "a@example.com", "Eve\nBcc: x@example.com")
    same_meaning(fast, reference)
    assert b"\nBcc:" not in fast


def test_text_that_looks_like_an_encoded_word_is_shown_as_typed():
    fast, reference = both(letter("=?utf-8?q?Fake?= NAME", "x"), "a@example.com", "=?utf-8?b?QQ==?=")
    same_meaning(fast, reference)


def test_a_non_ascii_address_goes_through_email_message():
    fast, _reference = both(letter("Hi", "x"), "анна@пример.рф", "Анна")
    parsed = message_from_string(fast.decode("utf-8"), policy=policy.SMTPUTF8)
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Анна", "анна@пример.рф")


texts = st.text(max_size=300)


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=200), subject=texts, body=st.text(max_size=3000),
       long_line=st.integers(min_value=0, max_value=1500), eight_bit=st.booleans(), html=st.booleans())
def test_for_any_text_the_fast_path_means_what_email_message_means(name, subject, body, long_line,
                                                                  eight_bit, html):
    body = body + "\n" + "x" * long_line  # lines past 998 bytes need another transfer encoding
    fast, reference = both(letter(subject, body, html=html), "client@example.com", name, eight_bit)
    same_meaning(fast, reference, eight_bit, to=(" ".join(name.split()), "client@example.com"),
                 subject=" ".join(subject.replace("NAME", name).split()))


def test_for_a_server_without_8bitmime_russian_text_is_encoded_in_lines_of_76():
    fast, reference = both(letter("Новости для NAME", "Здравствуйте, NAME! " * 40), "anna@example.com",
                           "Анна Петрова", eight_bit=False)
    same_meaning(fast, reference, eight_bit=False)
    assert fast.isascii()
    parsed = message_from_bytes(fast, policy=policy.default)
    assert parsed.get_body(("plain",)).get_content().startswith("Здравствуйте, Анна Петрова!")
    assert "Здравствуйте, Анна Петрова!" in parsed.get_body(("html",)).get_content()


def test_long_subjects_and_names_are_folded_into_words_a_reader_joins_again():
    subject = "Большая весенняя распродажа для NAME: скидки до 50 % на всё, что вы любите 🎉🌸"
    name = "Анна-Мария Константиновна Петрова-Водкина-Соколова"
    fast, reference = both(letter(subject, "x"), "anna@example.com", name)
    same_meaning(fast, reference)
    parsed = message_from_bytes(fast, policy=policy.default)
    assert str(parsed["Subject"]) == subject.replace("NAME", name)
    assert parsed["To"].addresses[0].display_name == name
    subject_lines = fast.split(b"\r\nDate:")[0].split(b"Subject: ")[1].split(b"\r\n")
    assert len(subject_lines) > 1 and max(len(line) for line in subject_lines) <= 76
