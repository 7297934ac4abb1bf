"""What a recorded reply means, in the reader's language. The reply itself (the mail server's
words, or the run's own in English) is always shown beside it, as it was recorded.

A letter's reply is read by its class (RFC 5321: 2xx taken, 4xx try later, 5xx refused) and its
enhanced status code (RFC 3463, e.g. 5.1.1 no such mailbox); an attempt's by the words the
run records (``mailer.delivery.reasons``).
"""
from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import ngettext

from mailer.delivery import reasons
from mailer.models import Attempt, AttemptStatus, Delivery, DeliveryStatus

_ENHANCED = re.compile(r"\b[245]\.(\d{1,3})\.(\d{1,3})\b")


def _detail(subject: str, detail: str) -> str | None:
    """RFC 3463's meaning of X.subject.detail, in words a sender acts on."""
    specific = {
        ("1", "1"): _("no such mailbox"), ("1", "10"): _("the domain takes no mail"),
        ("1", "2"): _("no such domain"), ("2", "1"): _("mailbox disabled"),
        ("2", "2"): _("mailbox full"), ("2", "3"): _("letter too large"),
        ("3", "4"): _("letter too large"),
    }.get((subject, detail))
    return specific or {
        "1": _("a problem with the address"), "2": _("a problem with the mailbox"),
        "3": _("a problem with the receiving mail system"), "4": _("a network or routing problem"),
        "5": _("a mail protocol problem"), "6": _("the content was refused"),
        "7": _("refused by the receiving server's policy (spam filter or sender checks)"),
    }.get(subject)


def delivery_summary(delivery: Delivery) -> str:
    if delivery.status is DeliveryStatus.SENT:
        return _("taken by the mail server")
    reply = delivery.server_reply or ""
    if delivery.smtp_code is None:
        if reply.startswith(reasons.ADDRESS_UNSENDABLE):
            return _("not sent: the address holds spaces or control characters")
        if reply.startswith(reasons.NO_SMTPUTF8):
            return _("not sent: the mail server does not take international addresses")
        return _("not sent: the mail server could not be reached")
    kind = _("refused for now (the server asked to try later)") if 400 <= delivery.smtp_code < 500 \
        else _("refused")
    match = _ENHANCED.search(reply)
    detail = _detail(*match.groups()) if match else None
    return f"{kind}: {detail}" if detail else kind


def attempt_summary(attempt: Attempt) -> str | None:
    response = attempt.server_response or ""
    if attempt.status is AttemptStatus.SENDING:
        return _("sending now")
    if response == reasons.NOTHING_TO_SEND:
        return _("nothing to send: no subscribed clients")
    if response.startswith(reasons.STOPPED):
        return _stop_summary(response.removeprefix(reasons.STOPPED))
    if response.startswith(reasons.REFUSED):
        return ngettext("%(num)s letter refused", "%(num)s letters refused", attempt.failed_count)
    if attempt.status is AttemptStatus.SUCCESS:
        return _("every letter taken by the mail server")
    return None


def _stop_summary(reason: str) -> str:
    meanings = (
        (reasons.UNREACHABLE, _("stopped: the mail server could not be reached")),
        (reasons.NOT_SMTP, _("stopped: the mail server answered something that is not SMTP")),
        (reasons.LOGIN_REFUSED, _("stopped: the mail server refused our login")),
        (reasons.SENDER_REFUSED, _("stopped: the mail server refused the sender address")),
        (reasons.NOT_RENDERED, _("stopped: the message cannot be rendered")),
        (reasons.NO_LONGER_SENDING, _("stopped: the mailing was paused or stopped, or its owner "
                                      "blocked, during the run")),
    )
    return next((words for start, words in meanings if reason.startswith(start)), _("stopped early"))
