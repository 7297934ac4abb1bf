"""Pages of a list whose total is already known (a tally), so no request counts the rows."""
from __future__ import annotations

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from mailer.extensions import db


def paginate_counted(query: sa.Select, page: int, per_page: int, total: int) -> Pagination:
    """Flask-SQLAlchemy's page of ``query``, with ``total`` for the count it would have run."""
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False, count=False)
    pagination.total = total
    return pagination
