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
   knows the home-made formats of Exim, qmail, Exchange, Yahoo, AOL and others.
4. Last, a notice from a mail system (From MAILER-DAEMON or postmaster) quoting a
   server's refusal (an RFC 3463 status or an SMTP reply code, 5 permanent, 4
   temporary) next to an address. Hotmail's own complaint format (JMRP: the
   quoted letter carries X-HmXmrOriginalRecipient) is a complaint.

What none of them recognises (vacation replies, challenges, a person's reply,
read receipts) is no bounce, and changes nothing.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from flufl.bounce import all_failures

from mailer.models import Bounce

log = logging.getLogger(__name__)
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
    final_recipient: str | None = None  # a DSN's Final-Recipient, when it differs

    @property
    def is_bounce(self) -> bool:
        return self.kind is not None


NOTHING = Report(None)


def read(message: Message, for_address: str | None = None) -> Report:
    """What ``message`` says, about ``for_address`` when it names several recipients."""
    complaint = _feedback_report(message)
    if complaint is not None:
        return complaint
    statuses = _delivery_statuses(message) or []
    if any(report.is_bounce for report in statuses):
        return _pick(statuses, for_address)
    if statuses and any(report.reason in _SUCCESS_ACTIONS for report in statuses):
        return NOTHING  # a delivery (or relay) notification: good news
    return (_heuristic(message, for_address) or _hotmail_complaint(message)
            or _system_notice(message, for_address) or NOTHING)


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
    headers = quoted_headers(message)
    return _address(str(headers["To"])) if headers is not None and headers.get("To") else None


def quoted_headers(message: Message) -> Message | None:
    """The headers of the letter a report quotes (its Message-ID, Return-Path, To)."""
    for content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
        part = _first_part(message, content_type)
        if part is not None:
            headers = _quoted_headers(part)
            if headers is not None:
                return headers
    return None


_TOKEN_HEADER_RE = re.compile(r"^(?:return-path|message-id|references|in-reply-to):.*$",
                              re.IGNORECASE | re.MULTILINE)


def quoted_token_lines(message: Message, limit: int = 65536) -> list[str]:
    """Return-Path and Message-ID lines anywhere in a quoted letter, for reports whose quote
    is broken (RFC 5965's own example has a blank line inside the quoted headers)."""
    lines: list[str] = []
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers",
                                       "message/rfc822-headers"):
            lines += _TOKEN_HEADER_RE.findall(_quoted_text(part)[:limit])
    return lines


def _quoted_text(part: Message) -> str:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _text_of(part)
    try:
        return payload[0].as_string() if payload else ""
    except (UnicodeError, LookupError, ValueError):  # a quote the library cannot write back
        return ""


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


_SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded"})


def _recipient_report(block: Message) -> Report:
    action = ((block.get("Action") or "").split() or [""])[0].lower()  # "failed (Bad ...)"
    status_match = _STATUS_RE.search(str(block.get("Status") or ""))
    status = status_match.group(0) if status_match else None
    final = _address(block.get("Final-Recipient"))
    original = _address(block.get("Original-Recipient"))
    diagnostic = _after_type(block.get("Diagnostic-Code"))
    reason = _one_line(" ".join(part for part in (status, diagnostic) if part)) or action
    if action in _SUCCESS_ACTIONS or (status or "").startswith("2"):
        kind = None
    elif action == "delayed" or (status or "").startswith("4"):
        kind = Bounce.SOFT
    elif action == "failed" or status:  # "failed", or a nonstandard word with a 5.x.x status
        kind = Bounce.HARD
    else:
        kind = None
    return Report(kind, original or final, status, reason[:_REASON_LIMIT],
                  final_recipient=final if final != (original or final) else None)


def _pick(reports: list[Report], for_address: str | None) -> Report:
    failures = [report for report in reports if report.is_bounce]
    if not failures:
        return NOTHING
    if for_address:
        wanted = for_address.lower()
        own = [report for report in failures if wanted in (report.recipient, report.final_recipient)]
        if own:
            return own[0]
    hard = [report for report in failures if report.kind is Bounce.HARD]
    return (hard or failures)[0]


# --- anything else: flufl.bounce ------------------------------------------------------------

def _heuristic(message: Message, for_address: str | None) -> Report | None:
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector tripping over a malformed message (no From, say) knows nothing
        log.info("flufl.bounce could not read the message", exc_info=True)
        return None
    temporary = {address for address in map(_decoded, temporary) if _ADDRESS_RE.fullmatch(address)}
    permanent = {address for address in map(_decoded, permanent) if _ADDRESS_RE.fullmatch(address)}
    if not (temporary or permanent):
        return None
    wanted = (for_address or "").lower()
    if wanted in permanent or (wanted not in temporary and permanent):
        kind, recipient = Bounce.HARD, wanted if wanted in permanent else sorted(permanent)[0]
    else:
        kind, recipient = Bounce.SOFT, wanted if wanted in temporary else sorted(temporary)[0]
    text = _all_text(message)
    status = _status_near(text, recipient)
    line = _line_with(text, recipient) or _one_line(str(message.get("Subject") or ""))
    reason = _one_line(" ".join(part for part in (status, line) if part))
    return Report(kind, recipient, status, reason[:_REASON_LIMIT])


_ADDRESS_RE = re.compile(r"[^@\s\"'{}\[\]<>(),;:]+@[a-z0-9.-]+\.[a-z0-9-]+")
_SYSTEM_SENDER_RE = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mdaemon)@", re.IGNORECASE)
# A refusal quoted in a notice: an RFC 3463 status, or an SMTP reply code before its text.
_REFUSAL_RE = re.compile(r"(?<![\d.])(?:([45])\.\d{1,3}\.\d{1,3}|([45])\d\d(?=[ -][A-Za-z<#]))")
_WARNING_RE = re.compile(r"warning message only|will be retried|will keep trying|"
                         r"not yet been delivered|delayed", re.IGNORECASE)
# Where a notice starts quoting the returned letter: "--- Below this line is a copy of the
# message.", "Below is a copy of the original message:", "----- Original message -----".
_QUOTE_START_RE = re.compile(r"^[\s>-]*(below (this line )?is a copy|this is a copy of the message|"
                             r"original message|returned message)", re.IGNORECASE | re.MULTILINE)


def _system_notice(message: Message, for_address: str | None) -> Report | None:
    """A mail system's notice of a refusal, in words no detector knows."""
    sender = _address(str(message.get("From") or "")) or ""
    if not _SYSTEM_SENDER_RE.match(sender):
        return None
    text = _notice_text(message)
    refusal = _REFUSAL_RE.search(text)
    warning = _WARNING_RE.search(text)
    if refusal is None and warning is None:
        return None
    end = refusal.end() + 200 if refusal else len(text)
    addresses = [address.lower() for address in _ADDRESS_RE.findall(text[:end])
                 if address.lower() != sender]
    wanted = (for_address or "").lower()
    recipient = wanted if wanted in addresses else (addresses[0] if addresses else None)
    if recipient is None:
        return None
    temporary = refusal is None or (refusal.group(1) or refusal.group(2)) == "4" or warning
    status = _STATUS_RE.search(text)
    line = _line_with(text, recipient) or (refusal.group(0) if refusal else "")
    reason = _one_line(" ".join(part for part in (status and status.group(0), line) if part))
    return Report(Bounce.SOFT if temporary else Bounce.HARD, recipient,
                  status.group(0) if status else None, reason[:_REASON_LIMIT])


def _notice_text(message: Message) -> str:
    """The notice's own words: its first text part, cut where the returned letter begins."""
    text = next((_text_of(part) for part in message.walk()
                 if part.get_content_type() == "text/plain"), None)
    if text is None:  # a multipart whose boundary is not the one its parts use: read it all
        payload = message.get_payload()
        text = payload if isinstance(payload, str) else ""
    quote = _QUOTE_START_RE.search(text)
    return text[:quote.start()] if quote else text


def _hotmail_complaint(message: Message) -> Report | None:
    """Hotmail/Outlook.com's JMRP: the quoted letter names the complaining recipient."""
    quoted = quoted_headers(message)
    recipient = _address(quoted.get("X-HmXmrOriginalRecipient")) if quoted is not None else None
    if recipient is None:
        return None
    return Report(Bounce.COMPLAINT, recipient, None,
                  f"complaint reported by {_one_line(str(message.get('From') or 'Hotmail'))}")


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
