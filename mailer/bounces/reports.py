"""What a message that reached the bounce address says: a failure, a complaint, or nothing.

In order of authority:

1. An ARF feedback report (RFC 5965: ``multipart/report; report-type=feedback-report``)
   of type abuse, fraud, virus or other is a complaint about the quoted letter.
2. A delivery status notification (RFC 3464: a ``message/delivery-status`` part)
   says per recipient what happened: ``Action: failed`` with a 5.x.x Status is a
   permanent failure; ``delayed``, or ``failed`` with a 4.x.x Status (given up
   after retrying a temporary fault), is a temporary one; ``delivered``,
   ``relayed`` and ``expanded`` are no failure at all.
3. Anything else is handed to flufl.bounce (Mailman's bounce detectors), which
   knows the home-made formats of Exim, qmail, Exchange, Yahoo, AOL and others;
   a status code (RFC 3463) in the text, if any, says permanent or temporary.

What none of them recognises (vacation replies, challenges, a person's reply,
read receipts) is no bounce, and changes nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from flufl.bounce import all_failures

from mailer.models import Bounce

COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})
_STATUS_RE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REASON_LIMIT = 500


@dataclass(frozen=True)
class Report:
    """One recipient's part of a message: what happened to it and why, in the server's words."""

    kind: Bounce | None
    recipient: str | None = None
    status: str | None = None
    reason: str = ""

    @property
    def is_bounce(self) -> bool:
        return self.kind is not None


NOTHING = Report(None)


def read(message: Message, for_address: str | None = None) -> Report:
    """What ``message`` says, about ``for_address`` when it names several recipients."""
    complaint = _feedback_report(message)
    if complaint is not None:
        return complaint
    statuses = _delivery_statuses(message)
    if statuses is not None:
        return _pick(statuses, for_address)
    return _heuristic(message, for_address)


# --- ARF -------------------------------------------------------------------------------

def _feedback_report(message: Message) -> Report | None:
    part = _first_part(message, "message/feedback-report")
    if part is None:
        return None
    fields = _fields(part)
    if not fields:
        return None
    feedback_type = (fields[0].get("Feedback-Type") or "").strip().lower()
    if feedback_type not in COMPLAINT_TYPES:
        return NOTHING
    recipient = _address(fields[0].get("Original-Rcpt-To")) or _quoted_recipient(message)
    who = fields[0].get("Reporting-MTA") or fields[0].get("User-Agent") or message.get("From") or ""
    reason = f"complaint ({feedback_type}) reported by {_one_line(str(who))}"
    return Report(Bounce.COMPLAINT, recipient, None, reason[:_REASON_LIMIT])


def _quoted_recipient(message: Message) -> str | None:
    for content_type in ("message/rfc822", "text/rfc822-headers"):
        part = _first_part(message, content_type)
        if part is None:
            continue
        headers = _quoted_headers(part)
        if headers is not None and headers.get("To"):
            return _address(str(headers["To"]))
    return None


def quoted_headers(message: Message) -> Message | None:
    """The headers of the letter a report quotes (its Message-ID, Return-Path, To)."""
    for content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
        part = _first_part(message, content_type)
        if part is not None:
            headers = _quoted_headers(part)
            if headers is not None:
                return headers
    return None


def _quoted_headers(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload[0] if payload and isinstance(payload[0], Message) else None
    text = _text_of(part)
    return HeaderParser().parsestr(text) if text else None


# --- DSN -------------------------------------------------------------------------------

def _delivery_statuses(message: Message) -> list[Report] | None:
    part = _first_part(message, "message/delivery-status")
    if part is None:
        return None
    blocks = _fields(part)
    reports = [_recipient_report(block) for block in blocks[1:]] if len(blocks) > 1 else []
    # Some MTAs omit the per-message block: a lone block may be a recipient's.
    if not reports and blocks and blocks[0].get("Action"):
        reports = [_recipient_report(blocks[0])]
    return reports


def _recipient_report(block: Message) -> Report:
    action = (block.get("Action") or "").strip().lower()
    status_match = _STATUS_RE.search(str(block.get("Status") or ""))
    status = status_match.group(0) if status_match else None
    recipient = _address(block.get("Final-Recipient")) or _address(block.get("Original-Recipient"))
    diagnostic = _after_type(block.get("Diagnostic-Code"))
    reason = _one_line(" ".join(part for part in (status, diagnostic) if part)) or action
    if action == "failed":
        kind = Bounce.SOFT if status and status.startswith("4") else Bounce.HARD
    elif action == "delayed":
        kind = Bounce.SOFT
    else:  # delivered, relayed, expanded: no failure
        kind = None
    return Report(kind, recipient, status, reason[:_REASON_LIMIT])


def _pick(reports: list[Report], for_address: str | None) -> Report:
    failures = [report for report in reports if report.is_bounce]
    if not failures:
        return NOTHING
    if for_address:
        own = [report for report in failures if report.recipient == for_address.lower()]
        if own:
            return own[0]
    hard = [report for report in failures if report.kind is Bounce.HARD]
    return (hard or failures)[0]


# --- anything else: flufl.bounce ------------------------------------------------------------

def _heuristic(message: Message, for_address: str | None) -> Report:
    temporary, permanent = all_failures(message)
    temporary = {_decoded(address) for address in temporary}
    permanent = {_decoded(address) for address in permanent}
    if not (temporary or permanent):
        return NOTHING
    wanted = (for_address or "").lower()
    if wanted in permanent or (wanted not in temporary and permanent):
        kind, recipient = Bounce.HARD, wanted if wanted in permanent else sorted(permanent)[0]
    else:
        kind, recipient = Bounce.SOFT, wanted if wanted in temporary else sorted(temporary)[0]
    text = _all_text(message)
    status = _status_near(text, recipient)
    if status and kind is Bounce.HARD and status.startswith("4"):
        kind = Bounce.SOFT
    line = _line_with(text, recipient) or _one_line(str(message.get("Subject") or ""))
    reason = _one_line(" ".join(part for part in (status, line) if part))
    return Report(kind, recipient, status, reason[:_REASON_LIMIT])


def _status_near(text: str, address: str) -> str | None:
    """The RFC 3463 code nearest after the address's first mention (or the first in the text)."""
    at = text.lower().find(address) if address else -1
    match = _STATUS_RE.search(text, at if at >= 0 else 0) or _STATUS_RE.search(text)
    return match.group(0) if match and match.group(1) != "2" else None


def _line_with(text: str, address: str) -> str:
    """The line naming ``address``, with the next one when it holds little more than that."""
    lines = [line.strip() for line in text.splitlines()]
    for index, line in enumerate(lines):
        if address and address in line.lower():
            if len(line) > len(address) + 8:
                return line
            following = next((later for later in lines[index + 1:] if later), "")
            return f"{line} {following}".strip()
    return ""


# --- MIME helpers ---------------------------------------------------------------------------

def _first_part(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _fields(part: Message) -> list[Message]:
    """The header blocks of a report part: parsed by the library, or parsed here from text."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = _text_of(part)
    blocks = [block for block in re.split(r"\r?\n[ \t]*\r?\n", text) if block.strip()]
    return [HeaderParser().parsestr(block.strip() + "\n") for block in blocks]


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _all_text(message: Message) -> str:
    return "\n".join(_text_of(part) for part in message.walk()
                     if part.get_content_maintype() == "text")


def _after_type(value) -> str:
    """``rfc822; someone@example.com`` -> ``someone@example.com``."""
    text = _one_line(str(value or ""))
    return text.split(";", 1)[1].strip() if ";" in text else text


def _address(value) -> str | None:
    text = _after_type(value).strip().strip("<>").strip()
    match = re.search(r"[^\s<>\"';,]+@[^\s<>\"';,]+", text)
    return match.group(0).lower().rstrip(".") if match else None


def _decoded(address) -> str:
    text = address.decode("utf-8", "replace") if isinstance(address, bytes) else str(address)
    return text.strip().strip("<>").lower()


def _one_line(text: str) -> str:
    return " ".join(text.split())
