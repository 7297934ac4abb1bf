"""Reading the counts the database keeps (``OwnerTally``, ``ServiceTally``): one row each,
however many clients there are. A user with no client has no row yet: all zeros."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from mailer.extensions import db
from mailer.models import OwnerTally, ServiceTally


@dataclass(frozen=True)
class ClientTally:
    clients: int = 0
    suppressed: int = 0
    unsubscribed: int = 0


def of_owners(owner_ids: list[int]) -> dict[int, ClientTally]:
    """Each of these users' client counts (users with no row are left out)."""
    if not owner_ids:
        return {}
    rows = db.session.execute(
        sa.select(OwnerTally.owner_id, OwnerTally.clients, OwnerTally.suppressed,
                  OwnerTally.unsubscribed).where(OwnerTally.owner_id.in_(owner_ids)))
    return {owner_id: ClientTally(*counts) for owner_id, *counts in rows}


def of_owner(owner_id: int) -> ClientTally:
    return of_owners([owner_id]).get(owner_id, ClientTally())


def unique_clients() -> int:
    """Addresses that are some user's client, each counted once."""
    return db.session.scalar(sa.select(ServiceTally.unique_clients)) or 0
