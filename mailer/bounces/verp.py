"""VERP: each letter's envelope sender names its delivery, so a bounce needs no guessing.

A letter of attempt 12 to client 345 leaves with the envelope sender
``bounces+12-345-<signature>@example.com`` (from ``MAIL_RETURN_PATH``
``bounces@example.com``), and its Message-ID carries the same token, so a
complaint quoting the letter's headers is matched too. The signature is an
HMAC of both numbers under the app's SECRET_KEY, cut to 80 bits and written in
lower-case base32 (mail servers may lower-case a local part): nobody can make
a token that names a delivery without the key.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Iterable

_SIGNATURE_CHARS = 16  # base32: 80 bits
TOKEN_RE = re.compile(r"(?<![0-9a-z])([0-9]{1,10})-([0-9]{1,10})-([a-z2-7]{16})(?![a-z2-7])",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Token:
    attempt_id: int
    client_id: int


def _signature(secret: str, attempt_id: int, client_id: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"verp:{attempt_id}:{client_id}".encode("ascii"),
                      hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:_SIGNATURE_CHARS]


def token(secret: str, attempt_id: int, client_id: int) -> str:
    return f"{attempt_id}-{client_id}-{_signature(secret, attempt_id, client_id)}"


def address(return_path: str, token_text: str) -> str:
    """``local+token@domain`` of the bare address ``return_path``."""
    local, _at, domain = return_path.rpartition("@")
    return f"{local}+{token_text}@{domain}"


@dataclass(frozen=True)
class Search:
    """What a look for tokens found: a genuine one, or only forged ones, or none."""

    found: Token | None
    forged: bool


def find(secret: str, texts: Iterable[str]) -> Search:
    """The first genuinely signed token in ``texts`` (addresses, Message-IDs)."""
    forged = False
    for text in texts:
        for match in TOKEN_RE.finditer(text or ""):
            attempt_id, client_id, signature = int(match[1]), int(match[2]), match[3].lower()
            if hmac.compare_digest(signature, _signature(secret, attempt_id, client_id)):
                return Search(Token(attempt_id, client_id), forged=False)
            forged = True
    return Search(None, forged)
