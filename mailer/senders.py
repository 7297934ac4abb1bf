"""Who a user's mailings come from: one rule, for the composer and the profile page.

A user may name a From address of their own, and a Reply-To. The address is
used only once a link sent to it was opened (so nobody sends as someone
else) and, when the deployment lists ``MAIL_SENDER_DOMAINS``, only on those
domains. Until then, and for users who set nothing, mailings come from
``MAIL_DEFAULT_SENDER``'s address under the user's name.
"""
from __future__ import annotations

from email.headerregistry import Address
from email.utils import parseaddr
from enum import Enum

from mailer.models import User


class SenderState(str, Enum):
    NONE = "none"  # nothing set: the default sender, with the user's name
    WAITING = "waiting"  # set, the confirmation link not yet opened
    NOT_ALLOWED = "not-allowed"  # confirmed, but its domain is not one the deployment allows
    CONFIRMED = "confirmed"  # in use


def allowed_domains(config) -> tuple[str, ...]:
    return tuple(d.strip().lower() for d in (config.get("MAIL_SENDER_DOMAINS") or "").split(",") if d.strip())


def domain_allowed(address: str, config) -> bool:
    domains = allowed_domains(config)
    return not domains or address.rpartition("@")[2].lower() in domains


def sender_state(user: User, config) -> SenderState:
    if not user.sender_email:
        return SenderState.NONE
    if user.sender_confirmed_at is None:
        return SenderState.WAITING
    return SenderState.CONFIRMED if domain_allowed(user.sender_email, config) else SenderState.NOT_ALLOWED


def from_header(user: User, config) -> str:
    """``Name <address>`` for the user's letters, as text (the composer encodes it)."""
    name = user.sender_name or user.full_name or ""
    if sender_state(user, config) is SenderState.CONFIRMED:
        return str(Address(display_name=name, addr_spec=user.sender_email))
    default_name, default_address = parseaddr(config["MAIL_DEFAULT_SENDER"])
    return str(Address(display_name=name or default_name, addr_spec=default_address))

