"""the clients' tally trigger finds changed rows in linear time

``tally_clients_changed`` (0007) paired a statement's old and new rows with a join
on id. PostgreSQL has no statistics for transition tables, and for the trigger's
first look (``NOT EXISTS``, which hopes to stop at the first changed row) it chose a
nested loop: a statement changing only names (nothing counted) compared every old
row with every new one, 100,000,000 comparisons for 10,000 clients, 46 s of a bulk
upsert (bench/api_bulk.py). Now the changed rows are the difference of the two
sets of (id, owner, address, suppressed, unsubscribed): EXCEPT hashes each side once.

Revision ID: 0010
Revises: 0009
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_KEY = ("id, owner_id, email::text AS email, (suppressed_at IS NOT NULL)::integer AS suppressed, "
        "(unsubscribed_at IS NOT NULL)::integer AS unsubscribed")

_LINEAR = rf"""
CREATE OR REPLACE FUNCTION tally_clients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A row whose counted columns changed is in one set and not the other; the rest cancel.
    PERFORM tally_client_changes(
        array_agg(c.owner_id), array_agg(c.email), array_agg(c.sign),
        array_agg(c.suppressed), array_agg(c.unsubscribed))
    FROM (
        SELECT owner_id, email, -1 AS sign, suppressed, unsubscribed
            FROM (SELECT {_KEY} FROM old_rows EXCEPT SELECT {_KEY} FROM new_rows) AS went
        UNION ALL
        SELECT owner_id, email, 1 AS sign, suppressed, unsubscribed
            FROM (SELECT {_KEY} FROM new_rows EXCEPT SELECT {_KEY} FROM old_rows) AS came
    ) AS c
    HAVING count(*) > 0;
    RETURN NULL;
END $$;
"""

_PAIRED = r"""
CREATE OR REPLACE FUNCTION tally_clients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.owner_id, o.email, o.suppressed_at IS NULL, o.unsubscribed_at IS NULL)
              IS DISTINCT FROM (n.owner_id, n.email, n.suppressed_at IS NULL, n.unsubscribed_at IS NULL)
    ) THEN
        RETURN NULL;
    END IF;
    PERFORM tally_client_changes(
        array_agg(c.owner_id), array_agg(c.email), array_agg(c.sign),
        array_agg(c.suppressed), array_agg(c.unsubscribed))
    FROM (
        SELECT side.* FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES
            (o.owner_id, o.email::text, -1, (o.suppressed_at IS NOT NULL)::integer,
             (o.unsubscribed_at IS NOT NULL)::integer),
            (n.owner_id, n.email::text, 1, (n.suppressed_at IS NOT NULL)::integer,
             (n.unsubscribed_at IS NOT NULL)::integer)
        ) AS side(owner_id, email, sign, suppressed, unsubscribed)
        WHERE (o.owner_id, o.email, o.suppressed_at IS NULL, o.unsubscribed_at IS NULL)
              IS DISTINCT FROM (n.owner_id, n.email, n.suppressed_at IS NULL, n.unsubscribed_at IS NULL)
    ) AS c;
    RETURN NULL;
END $$;
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":  # SQLite's per-row triggers pair nothing
        op.execute(_LINEAR)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PAIRED)
