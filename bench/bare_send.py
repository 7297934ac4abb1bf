"""The fastest this machine sends: a loop over one connection.

``python -m bench.bare_send <port> <count>`` builds ``count`` personalised messages
shaped like the engine's (same headers, same body and footer, an unsubscribe link),
then sends them with ``send_message`` (which serialises each as it goes) and prints
the seconds the sending took. ``--bytes BODY_FILE`` builds the letters as bytes
beforehand, each with that body, and sends them with ``sendmail``: nothing but SMTP
is left in the timed part.
"""
from __future__ import annotations

import smtplib
import sys
import time
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

POLICY = policy.default.clone(max_line_length=998)
WIRE = policy.SMTP.clone(max_line_length=998)
LINK = "http://127.0.0.1:5000/unsubscribe/" + "x" * 96


def message(n: int, body: str | None = None) -> EmailMessage:
    name = f"Client {n}"
    letter = EmailMessage(policy=POLICY)
    letter["From"] = "Mailer <noreply@localhost>"
    letter["To"] = formataddr((name, f"client-{n}@example.com"))
    letter["Subject"] = f"News for {name}"
    letter["Date"] = formatdate(usegmt=True)
    letter["Message-ID"] = make_msgid(domain="127.0.0.1")
    letter["List-Unsubscribe"] = f"<{LINK}>"
    letter["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = (body or "Our news of the week.").replace("{{ client.full_name }}", name)
    letter.set_content(f"Dear {name},\n\n{text}\n\n-- \n"
                       f"You receive this because you are on Owner's list. To unsubscribe:\n{LINK}\n")
    return letter


def main(port: int, count: int) -> float:
    letters = [message(n) for n in range(1, count + 1)]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for letter in letters:
            smtp.send_message(letter, from_addr="noreply@localhost", to_addrs=[letter["To"].addresses[0].addr_spec])
    return time.perf_counter() - started


def main_bytes(port: int, count: int, body: str) -> float:
    letters = [(f"client-{n}@example.com", message(n, body).as_bytes(policy=WIRE)) for n in range(1, count + 1)]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for address, data in letters:
            smtp.sendmail("noreply@localhost", [address], data, mail_options=["BODY=8BITMIME"])
    return time.perf_counter() - started


if __name__ == "__main__":
    if sys.argv[3:4] == ["--bytes"]:
        seconds = main_bytes(int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[4], encoding="utf-8").read())
    else:
        seconds = main(int(sys.argv[1]), int(sys.argv[2]))
    print(f"{seconds:.6f}")
