"""The fastest this machine sends: a loop over one connection.

``python -m bench.bare_send <port> <count>`` builds ``count`` personalised messages
shaped like the engine's (same headers, same text and HTML parts with the footer and
an unsubscribe link; the HTML made by the app's own ``message_html``),
then sends them with ``send_message`` (which serialises each as it goes) and prints
the seconds the sending took. ``--letter FILE`` sends the letter in FILE (bytes, as
the engine built it) to ``count`` addresses with ``sendmail``: nothing but SMTP is
left in the timed part.
"""
from __future__ import annotations

import smtplib
import sys
import time
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from mailer import message_html
from mailer.message_template import Recipient

POLICY = policy.default.clone(max_line_length=998)
LINK = "http://127.0.0.1:5000/unsubscribe/" + "x" * 96
FOOTER = "You receive this because you are on Owner's list."


def message(n: int, html: message_html.HtmlVersion) -> EmailMessage:
    name = f"Client {n}"
    letter = EmailMessage(policy=POLICY)
    letter["From"] = "Mailer <noreply@localhost>"
    letter["To"] = formataddr((name, f"client-{n}@example.com"))
    letter["Subject"] = f"News for {name}"
    letter["Date"] = formatdate(usegmt=True)
    letter["Message-ID"] = make_msgid(domain="127.0.0.1")
    letter["List-Unsubscribe"] = f"<{LINK}>"
    letter["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    letter.set_content(f"Dear {name},\n\nOur news of the week.\n\n-- \n{FOOTER} To unsubscribe:\n{LINK}\n")
    letter.add_alternative(html.render(Recipient(f"client-{n}@example.com", name), letter["Subject"], LINK),
                           subtype="html")
    return letter


def main(port: int, count: int) -> float:
    html = message_html.build("Dear {{ client.full_name }},\n\nOur news of the week.\n", lang="en",
                              footer=FOOTER, unsubscribe_label="Unsubscribe")
    letters = [message(n, html) for n in range(1, count + 1)]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for letter in letters:
            smtp.send_message(letter, from_addr="noreply@localhost", to_addrs=[letter["To"].addresses[0].addr_spec])
    return time.perf_counter() - started


def main_letter(port: int, count: int, letter: bytes) -> float:
    addresses = [f"client-{n}@example.com" for n in range(1, count + 1)]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for address in addresses:
            smtp.sendmail("noreply@localhost", [address], letter, mail_options=["BODY=8BITMIME"])
    return time.perf_counter() - started


if __name__ == "__main__":
    if sys.argv[3:4] == ["--letter"]:
        with open(sys.argv[4], "rb") as letter_file:
            seconds = main_letter(int(sys.argv[1]), int(sys.argv[2]), letter_file.read())
    else:
        seconds = main(int(sys.argv[1]), int(sys.argv[2]))
    print(f"{seconds:.6f}")
