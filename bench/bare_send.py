"""The fastest this machine sends: ``smtplib.send_message`` in a loop over one connection.

``python -m bench.bare_send <port> <count>`` builds ``count`` personalised messages
shaped like the engine's (same headers, same body and footer, an unsubscribe link),
then sends them and prints the seconds the sending took.
"""
from __future__ import annotations

import smtplib
import sys
import time
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

POLICY = policy.default.clone(max_line_length=998)
LINK = "http://127.0.0.1:5000/unsubscribe/" + "x" * 96


def message(n: int) -> EmailMessage:
    name = f"Client {n}"
    letter = EmailMessage(policy=POLICY)
    letter["From"] = "Mailer <noreply@localhost>"
    letter["To"] = formataddr((name, f"client-{n}@example.com"))
    letter["Subject"] = f"News for {name}"
    letter["Date"] = formatdate(usegmt=True)
    letter["Message-ID"] = make_msgid(domain="127.0.0.1")
    letter["List-Unsubscribe"] = f"<{LINK}>"
    letter["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    letter.set_content(f"Dear {name},\n\nOur news of the week.\n\n-- \n"
                       f"You receive this because you are on Owner's list. To unsubscribe:\n{LINK}\n")
    return letter


def main(port: int, count: int) -> float:
    letters = [message(n) for n in range(1, count + 1)]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for letter in letters:
            smtp.send_message(letter, from_addr="noreply@localhost", to_addrs=[letter["To"].addresses[0].addr_spec])
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"{main(int(sys.argv[1]), int(sys.argv[2])):.6f}")
