"""tallies kept by the database: each user's clients (and those suppressed or
unsubscribed), the service's unique client addresses, each mailing's recipients;
an attempt's clients not reached, counted when it ends; a trigram index for the
clients' search (PostgreSQL), the deliveries in the attempt page's order; small indexes of the clients mailings skip and of the deliveries that came back

Triggers keep the counts: on PostgreSQL one per statement, reading its
transition tables (so rows go in and change in multi-row statements,
``mailer.bulk``: an executemany is a statement per row); on SQLite, which has
no statement triggers, one per row, and none for an UPDATE of columns that are
not counted (a name, a comment);
on SQLite, which has no statement triggers, one per row. Either way the count
changes in the transaction that changes the rows, whatever wrote them: the app,
an import, a cascade from a deleted user or mailing.

A unique address is counted when its first client row appears and uncounted
when its last goes: ``client_emails`` holds, per address, how many users have
it. On PostgreSQL the upsert into it takes the address's row lock, so two
users adding the same new address at once count it once.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_POSTGRESQL_UP = r"""
-- Rows come as parallel arrays: owner, address, +1 (added) or -1 (taken away), and whether
-- the row is suppressed and unsubscribed (1 or 0).
CREATE FUNCTION tally_client_changes(owner_ids integer[], emails text[], signs integer[],
                                     suppressed integer[], unsubscribed integer[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    came_and_went integer;
BEGIN
    INSERT INTO owner_tallies AS t (owner_id, clients, suppressed, unsubscribed)
    SELECT c.owner_id, sum(c.sign), sum(c.sign * c.suppressed), sum(c.sign * c.unsubscribed)
    FROM unnest(owner_ids, signs, suppressed, unsubscribed) AS c(owner_id, sign, suppressed, unsubscribed)
    WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = c.owner_id)
    GROUP BY c.owner_id
    ORDER BY c.owner_id
    ON CONFLICT (owner_id) DO UPDATE SET
        clients = t.clients + EXCLUDED.clients,
        suppressed = t.suppressed + EXCLUDED.suppressed,
        unsubscribed = t.unsubscribed + EXCLUDED.unsubscribed;

    WITH changed AS (
        SELECT e.email, sum(e.sign)::integer AS delta
        FROM unnest(emails, signs) AS e(email, sign)
        GROUP BY e.email HAVING sum(e.sign) <> 0
    ), counted AS (
        INSERT INTO client_emails AS t (email, owners)
        SELECT email, delta FROM changed ORDER BY email
        ON CONFLICT (email) DO UPDATE SET owners = t.owners + EXCLUDED.owners
        RETURNING t.email, t.owners
    )
    SELECT coalesce(sum(CASE WHEN c.delta > 0 AND counted.owners = c.delta THEN 1
                             WHEN c.delta < 0 AND counted.owners <= 0 THEN -1
                             ELSE 0 END), 0)
    INTO came_and_went
    FROM counted JOIN changed c USING (email);

    DELETE FROM client_emails WHERE owners <= 0 AND email = ANY(emails);

    IF came_and_went <> 0 THEN
        INSERT INTO service_tallies AS t (id, unique_clients) VALUES (1, came_and_went)
        ON CONFLICT (id) DO UPDATE SET unique_clients = t.unique_clients + EXCLUDED.unique_clients;
    END IF;
END $$;

CREATE FUNCTION tally_clients_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tally_client_changes(
        array_agg(owner_id), array_agg(email::text), array_agg(1),
        array_agg((suppressed_at IS NOT NULL)::integer), array_agg((unsubscribed_at IS NOT NULL)::integer))
    FROM new_rows;
    RETURN NULL;
END $$;

CREATE FUNCTION tally_clients_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tally_client_changes(
        array_agg(owner_id), array_agg(email::text), array_agg(-1),
        array_agg((suppressed_at IS NOT NULL)::integer), array_agg((unsubscribed_at IS NOT NULL)::integer))
    FROM old_rows;
    RETURN NULL;
END $$;

-- A changed row counts as its old self taken away and its new self added; rows whose
-- owner, address, suppression and unsubscription are as they were are left out, and a
-- statement that changed none of those (a name, a comment) ends at the first look.
CREATE FUNCTION tally_clients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER tally_clients_added AFTER INSERT ON clients
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_clients_added();
CREATE TRIGGER tally_clients_removed AFTER DELETE ON clients
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_clients_removed();
CREATE TRIGGER tally_clients_changed AFTER UPDATE ON clients
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tally_clients_changed();

CREATE FUNCTION tally_recipients_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mailings m SET recipient_count = m.recipient_count + r.added
    FROM (SELECT mailing_id, count(*) AS added FROM new_rows GROUP BY mailing_id) r
    WHERE m.id = r.mailing_id;
    RETURN NULL;
END $$;

CREATE FUNCTION tally_recipients_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mailings m SET recipient_count = m.recipient_count - r.removed
    FROM (SELECT mailing_id, count(*) AS removed FROM old_rows GROUP BY mailing_id) r
    WHERE m.id = r.mailing_id;
    RETURN NULL;
END $$;

CREATE TRIGGER tally_recipients_added AFTER INSERT ON mailing_clients
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_recipients_added();
CREATE TRIGGER tally_recipients_removed AFTER DELETE ON mailing_clients
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_recipients_removed();
"""

_POSTGRESQL_DOWN = r"""
DROP TRIGGER tally_recipients_removed ON mailing_clients;
DROP TRIGGER tally_recipients_added ON mailing_clients;
DROP TRIGGER tally_clients_changed ON clients;
DROP TRIGGER tally_clients_removed ON clients;
DROP TRIGGER tally_clients_added ON clients;
DROP FUNCTION tally_recipients_removed();
DROP FUNCTION tally_recipients_added();
DROP FUNCTION tally_clients_changed();
DROP FUNCTION tally_clients_removed();
DROP FUNCTION tally_clients_added();
DROP FUNCTION tally_client_changes(integer[], text[], integer[], integer[], integer[]);
"""

# SQLite: the same counts, one row at a time. Its writers take turns, so there is no race.
_SQLITE_ADD = """
    INSERT OR IGNORE INTO owner_tallies (owner_id, clients, suppressed, unsubscribed)
        SELECT NEW.owner_id, 0, 0, 0 WHERE EXISTS (SELECT 1 FROM users WHERE id = NEW.owner_id);
    UPDATE owner_tallies SET clients = clients + 1,
        suppressed = suppressed + (NEW.suppressed_at IS NOT NULL),
        unsubscribed = unsubscribed + (NEW.unsubscribed_at IS NOT NULL)
        WHERE owner_id = NEW.owner_id;
    INSERT OR IGNORE INTO service_tallies (id, unique_clients) VALUES (1, 0);
    UPDATE service_tallies SET unique_clients = unique_clients + 1
        WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM client_emails WHERE email = NEW.email);
    INSERT OR IGNORE INTO client_emails (email, owners) VALUES (NEW.email, 0);
    UPDATE client_emails SET owners = owners + 1 WHERE email = NEW.email;
"""
_SQLITE_REMOVE = """
    UPDATE owner_tallies SET clients = clients - 1,
        suppressed = suppressed - (OLD.suppressed_at IS NOT NULL),
        unsubscribed = unsubscribed - (OLD.unsubscribed_at IS NOT NULL)
        WHERE owner_id = OLD.owner_id;
    UPDATE client_emails SET owners = owners - 1 WHERE email = OLD.email;
    UPDATE service_tallies SET unique_clients = unique_clients - 1
        WHERE id = 1 AND EXISTS (SELECT 1 FROM client_emails WHERE email = OLD.email AND owners <= 0);
    DELETE FROM client_emails WHERE email = OLD.email AND owners <= 0;
"""
_SQLITE_UP = [
    f"CREATE TRIGGER tally_clients_added AFTER INSERT ON clients BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER tally_clients_removed AFTER DELETE ON clients BEGIN {_SQLITE_REMOVE} END",
    "CREATE TRIGGER tally_clients_changed"
    " AFTER UPDATE OF owner_id, email, suppressed_at, unsubscribed_at ON clients"
    " WHEN OLD.owner_id IS NOT NEW.owner_id OR OLD.email IS NOT NEW.email"
    " OR (OLD.suppressed_at IS NULL) IS NOT (NEW.suppressed_at IS NULL)"
    " OR (OLD.unsubscribed_at IS NULL) IS NOT (NEW.unsubscribed_at IS NULL)"
    f" BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END",
    "CREATE TRIGGER tally_recipients_added AFTER INSERT ON mailing_clients BEGIN"
    " UPDATE mailings SET recipient_count = recipient_count + 1 WHERE id = NEW.mailing_id; END",
    "CREATE TRIGGER tally_recipients_removed AFTER DELETE ON mailing_clients BEGIN"
    " UPDATE mailings SET recipient_count = recipient_count - 1 WHERE id = OLD.mailing_id; END",
]
_SQLITE_DOWN = [f"DROP TRIGGER {name}" for name in (
    "tally_recipients_removed", "tally_recipients_added", "tally_clients_changed",
    "tally_clients_removed", "tally_clients_added")]

_BACKFILL = [
    "INSERT INTO owner_tallies (owner_id, clients, suppressed, unsubscribed)"
    " SELECT owner_id, count(*), count(suppressed_at), count(unsubscribed_at) FROM clients"
    " GROUP BY owner_id",
    "INSERT INTO client_emails (email, owners) SELECT email, count(*) FROM clients GROUP BY email",
    "INSERT INTO service_tallies (id, unique_clients) SELECT 1, count(*) FROM client_emails",
    "UPDATE mailings SET recipient_count ="
    " (SELECT count(*) FROM mailing_clients WHERE mailing_clients.mailing_id = mailings.id)",
    # Only an attempt stopped early ended with clients it never tried; they are counted as
    # the attempt page counted them until now.
    "UPDATE attempts SET not_reached = (SELECT count(*) FROM clients"
    " JOIN mailing_clients ON mailing_clients.client_id = clients.id"
    " WHERE mailing_clients.mailing_id = attempts.mailing_id"
    " AND clients.unsubscribed_at IS NULL AND clients.suppressed_at IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM deliveries WHERE deliveries.attempt_id = attempts.id"
    " AND deliveries.client_id = clients.id))"
    " WHERE status IN ('partial', 'failure')",
]


def upgrade():
    op.create_table('owner_tallies',
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('clients', sa.Integer(), nullable=False),
    sa.Column('suppressed', sa.Integer(), nullable=False),
    sa.Column('unsubscribed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_owner_tallies_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', name=op.f('pk_owner_tallies'))
    )
    op.create_table('client_emails',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('owners', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_client_emails'))
    )
    op.create_table('service_tallies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unique_clients', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_tallies'))
    )
    with op.batch_alter_table('mailings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_count', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_reached', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.create_index('ix_clients_suppressed', ['owner_id', 'email', 'id'], unique=False,
                              postgresql_where=sa.text('suppressed_at IS NOT NULL'),
                              sqlite_where=sa.text('suppressed_at IS NOT NULL'))
        batch_op.create_index('ix_clients_unsubscribed', ['owner_id', 'email', 'id'], unique=False,
                              postgresql_where=sa.text('unsubscribed_at IS NOT NULL'),
                              sqlite_where=sa.text('unsubscribed_at IS NOT NULL'))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_bounced', ['attempt_id'], unique=False,
                              postgresql_where=sa.text('bounce IS NOT NULL'),
                              sqlite_where=sa.text('bounce IS NOT NULL'))
        batch_op.create_index('ix_deliveries_listed', ['attempt_id', 'status', 'email'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension: the database's owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index('ix_clients_search', 'clients', ['email', 'full_name'], unique=False,
                        postgresql_using='gin',
                        postgresql_ops={'email': 'gin_trgm_ops', 'full_name': 'gin_trgm_ops'})

    for statement in _BACKFILL:
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRESQL_UP)
    else:
        for statement in _SQLITE_UP:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRESQL_DOWN)
    else:
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_clients_search', table_name='clients', postgresql_using='gin')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_listed')
        batch_op.drop_index('ix_deliveries_bounced',
                            postgresql_where=sa.text('bounce IS NOT NULL'),
                            sqlite_where=sa.text('bounce IS NOT NULL'))
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_index('ix_clients_unsubscribed',
                            postgresql_where=sa.text('unsubscribed_at IS NOT NULL'),
                            sqlite_where=sa.text('unsubscribed_at IS NOT NULL'))
        batch_op.drop_index('ix_clients_suppressed',
                            postgresql_where=sa.text('suppressed_at IS NOT NULL'),
                            sqlite_where=sa.text('suppressed_at IS NOT NULL'))
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_column('not_reached')
    with op.batch_alter_table('mailings', schema=None) as batch_op:
        batch_op.drop_column('recipient_count')
    op.drop_table('service_tallies')
    op.drop_table('client_emails')
    op.drop_table('owner_tallies')
