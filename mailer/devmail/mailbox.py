"""The local mail sink's Maildir, read as a list of caught messages."""
from __future__ import annotations

import mailbox
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path


@dataclass
class CaughtMail:
    key: str
    sender: str
    recipients: str
    subject: str
    date: datetime | None
    headers: list[tuple[str, str]]
    body: str
    html: str | None = None  # the HTML version, when the letter has one


def _parse(key: str, raw: bytes) -> CaughtMail:
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    body_part = message.get_body(preferencelist=("plain", "html"))
    html_part = message.get_body(preferencelist=("html",))
    try:
        date = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    return CaughtMail(
        key=key,
        sender=str(message.get("From", "")),
        recipients=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        date=date,
        headers=[(name, str(value)) for name, value in message.items()],
        body=body_part.get_content() if body_part is not None else "",
        html=html_part.get_content() if html_part is not None else None,
    )


def _open(directory: str | Path) -> mailbox.Maildir | None:
    path = Path(directory)
    if not all((path / sub).is_dir() for sub in ("new", "cur", "tmp")):
        return None
    return mailbox.Maildir(path, factory=None, create=False)


def caught_mail(directory: str | Path, limit: int = 200) -> list[CaughtMail]:
    """The newest ``limit`` messages, newest first."""
    path = Path(directory)
    box = _open(path)
    if box is None:
        return []
    keys = sorted(box.keys(), key=lambda k: _received(path, k), reverse=True)[:limit]
    return [_parse(key, box.get_bytes(key)) for key in keys]


def one_mail(directory: str | Path, key: str) -> CaughtMail | None:
    box = _open(directory)
    if box is None:
        return None
    try:
        return _parse(key, box.get_bytes(key))
    except KeyError:
        return None


def _received(path: Path, key: str) -> float:
    for sub in ("new", "cur"):
        for candidate in (path / sub).glob(f"{key}*"):
            return candidate.stat().st_mtime
    return 0.0
