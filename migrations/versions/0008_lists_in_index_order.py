"""lists read in index order: an owner's mailings and everyone's newest first, an
owner's messages last changed first, an attempt's deliveries to the last tie

Each list page asks for its 25 rows in the order of an index, so PostgreSQL reads
those rows instead of sorting all of the owner's (or, for a manager, everyone's)
mailings to keep the first 25. The owner's mailings and messages were indexed by
owner alone; those indexes are now the first column of the new ones. The attempt
page's index gains the delivery id, its order's last key.

Revision ID: 0008
Revises: 0007
"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_mailings_owner_newest', 'mailings', ['owner_id', 'created_at', 'id'])
    op.create_index('ix_mailings_newest', 'mailings', ['created_at', 'id'])
    op.drop_index('ix_mailings_owner_id', table_name='mailings')
    op.create_index('ix_messages_owner_changed', 'messages', ['owner_id', 'updated_at', 'id'])
    op.drop_index('ix_messages_owner_id', table_name='messages')
    op.drop_index('ix_deliveries_listed', table_name='deliveries')
    op.create_index('ix_deliveries_listed', 'deliveries', ['attempt_id', 'status', 'email', 'id'])


def downgrade():
    op.drop_index('ix_deliveries_listed', table_name='deliveries')
    op.create_index('ix_deliveries_listed', 'deliveries', ['attempt_id', 'status', 'email'])
    op.create_index('ix_messages_owner_id', 'messages', ['owner_id'])
    op.drop_index('ix_messages_owner_changed', table_name='messages')
    op.create_index('ix_mailings_owner_id', 'mailings', ['owner_id'])
    op.drop_index('ix_mailings_newest', table_name='mailings')
    op.drop_index('ix_mailings_owner_newest', table_name='mailings')
