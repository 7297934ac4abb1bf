"""Text search helpers shared by the lists."""
from __future__ import annotations

import sqlalchemy as sa


def contains(q: str, *columns) -> sa.ColumnElement[bool]:
    """Case-insensitive "contains ``q``" over any of ``columns``; LIKE wildcards in ``q`` are literal."""
    q = q.replace("\x00", "")  # PostgreSQL refuses NUL in text; no stored text holds one
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return sa.or_(*(column.ilike(pattern, escape="\\") for column in columns))
