"""Pages of lists that may hold a hundred thousand rows (an owner's clients, an attempt's
letters, every mailing for a manager): each page is found from a neighbouring row through
the list's index (keyset pagination), so no request skips rows to reach it. A list that
shows its total takes it from a tally, or counts only what a search found."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from mailer.extensions import db
from mailer.models import is_row_id


@dataclass(frozen=True)
class Place:
    """Where in a list a page is asked for: the first or the last page, or the page after or
    before a row (its id), as the list's links say (``?after=17``, ``?before=17``, ``?at=last``)."""

    after: int | None = None
    before: int | None = None
    last: bool = False

    @classmethod
    def from_args(cls, args) -> "Place":
        def row_id(name: str) -> int | None:
            value = args.get(name, type=int)
            return value if value is not None and is_row_id(value) else None

        return cls(after=row_id("after"), before=row_id("before"), last=args.get("at") == "last")


@dataclass(frozen=True)
class KeysetPage:
    items: list
    total: int | None  # None: the list does not show one
    has_prev: bool
    has_next: bool

    @property
    def first_id(self) -> int | None:
        return self.items[0].id if self.items else None

    @property
    def last_id(self) -> int | None:
        return self.items[-1].id if self.items else None


def keyset_page(query: sa.Select, row_id: sa.ColumnElement, order: tuple[sa.ColumnElement, ...],
                place: Place, per_page: int, total: int | None = None, *,
                descending: bool = False, options: tuple = ()) -> KeysetPage:
    """A page of ``query`` in ``order`` (unique: it ends with ``row_id``; all ascending, or all
    ``descending``), found from its neighbour instead of counted past: the list's index is
    read from the row before the page (or after it, backwards), so the last page of 100,000
    rows costs what the first does. ``options``: the loader options of the rows shown.

    ``query`` selects one entity and holds the list's filter and scope; the row named by
    ``place`` is looked up through it, so a page is never found from someone else's row
    (an unknown or foreign row gives the first page).
    """
    forward, beyond = not place.last, None  # forward: the page follows the anchor (or starts)
    anchor_id = None if place.last else (place.after if place.after is not None else place.before)
    if anchor_id is not None:
        anchor = db.session.execute(
            query.with_only_columns(*order).where(row_id == anchor_id).limit(1)).first()
        if anchor is not None:
            forward = anchor_id == place.after
            key, at = sa.tuple_(*order), sa.tuple_(*anchor)
            beyond = key > at if forward != descending else key < at
    ascending = forward != descending
    ordered = query.options(*options).order_by(
        *(column if ascending else column.desc() for column in order))
    if beyond is not None:
        ordered = ordered.where(beyond)
    rows = list(db.session.scalars(ordered.limit(per_page + 1)).unique())
    more = len(rows) > per_page
    rows = rows[:per_page]
    if not forward:
        rows.reverse()
    return KeysetPage(
        items=rows, total=total,
        has_prev=more if not forward else beyond is not None,
        has_next=more if forward else beyond is not None,
    )
