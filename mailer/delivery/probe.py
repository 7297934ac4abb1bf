"""Is the mail server usable? One connection opened as a run opens it, for ``flask doctor``.

It connects (TLS or STARTTLS as configured), greets, logs in when there are credentials, and
says what the server offers; every step waits at most ``MAIL_TIMEOUT``. Each finding names
the setting to change when something is wrong.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from typing import Iterator, NamedTuple

from mailer.delivery.sender import reply_text

OK, WARNING, FAILURE = "ok", "warning", "failure"
OFFERS = ("starttls", "auth", "8bitmime", "smtputf8", "size", "pipelining")


class Finding(NamedTuple):
    check: str
    status: str
    seen: str
    fix: str = ""


def probe_mail_server(config) -> Iterator[Finding]:
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], float(config["MAIL_TIMEOUT"])
    where = f"{host}:{port}"
    try:
        connection = (smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
                      if config["MAIL_USE_SSL"] else smtplib.SMTP(host, port, timeout=timeout))
    except smtplib.SMTPConnectError as error:
        yield _refusal(where, error.smtp_code, error.smtp_error)
        return
    except (OSError, smtplib.SMTPException) as error:
        yield Finding("mail server", FAILURE, f"{where}: {_network_problem(error, timeout)}",
                      "check MAIL_SERVER and MAIL_PORT, and that the server is running")
        return
    try:
        yield from _conversation(connection, config, where, timeout)
    finally:
        try:
            connection.close()
        except OSError:
            pass


def _conversation(connection: smtplib.SMTP, config, where: str, timeout: float
                  ) -> Iterator[Finding]:
    try:
        code, reply = connection.ehlo()
        if code != 250:
            yield _refusal(where, code, reply)
            return
        offers = _offers(connection)
        if config["MAIL_USE_TLS"]:
            connection.starttls(context=ssl.create_default_context())
            connection.ehlo()
            offers = _offers(connection) + ["TLS in use"]
        if config.get("MAIL_USERNAME") and config.get("MAIL_PASSWORD"):
            connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            offers.append("login accepted")
        yield Finding("mail server", OK, f"{where} offers {', '.join(offers) or 'nothing beyond SMTP'}")
        if not connection.has_extn("8bitmime"):
            yield Finding("mail server 8BITMIME", WARNING,
                          "no 8BITMIME: letters go in 7 bits, a third larger",
                          "a modern relay (Postfix) offers it")
    except smtplib.SMTPAuthenticationError as error:
        yield Finding("mail server", FAILURE,
                      f"{where} refused the login: {reply_text(error.smtp_code, error.smtp_error)}",
                      "check MAIL_USERNAME and MAIL_PASSWORD")
    except smtplib.SMTPResponseException as error:
        yield _refusal(where, error.smtp_code, error.smtp_error)
    except (OSError, smtplib.SMTPException) as error:
        yield Finding("mail server", FAILURE, f"{where}: {_network_problem(error, timeout)}",
                      "check the server; MAIL_TIMEOUT is the most any step waits")


def _offers(connection: smtplib.SMTP) -> list[str]:
    found = []
    for name in OFFERS:
        if connection.has_extn(name):
            value = connection.esmtp_features.get(name, "").strip()
            found.append(f"{name.upper()} {value}".strip())
    return found


def _refusal(where: str, code: int, reply) -> Finding:
    if code == -1:
        return Finding("mail server", FAILURE, f"{where} answered something that is not SMTP: "
                       f"{reply_text(0, reply)[:120]!r}", "MAIL_PORT points at another kind of server")
    return Finding("mail server", FAILURE, f"{where} refused us: {reply_text(code, reply)}",
                   "check MAIL_SERVER, MAIL_PORT and that this host may relay")


def _network_problem(error: BaseException, timeout: float) -> str:
    if isinstance(error, (socket.timeout, TimeoutError)) or "timed out" in str(error):
        return f"no answer within {timeout:g} s (MAIL_TIMEOUT)"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return (str(error).strip().splitlines() or [""])[0] or type(error).__name__
