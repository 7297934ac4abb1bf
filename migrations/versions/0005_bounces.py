"""bounces: suppression of clients, bounces on deliveries, the bounce messages read

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bounce_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('source_key', sa.String(length=200), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('outcome', sa.Enum('recorded', 'duplicate', 'not_bounce', 'unknown', 'forged', 'unreadable', name='outcome', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('kind', sa.Enum('hard', 'soft', 'complaint', name='kind', native_enum=False, create_constraint=True, length=20), nullable=True),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_bounce_messages_delivery_id_deliveries'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bounce_messages'))
    )
    with op.batch_alter_table('bounce_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bounce_messages_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bounce_messages_source_key'), ['source_key'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suppressed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suppressed_reason', sa.Text(), nullable=True))

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bounce', sa.Enum('hard', 'soft', 'complaint', name='bounce', native_enum=False, create_constraint=True, length=20), nullable=True))
        batch_op.add_column(sa.Column('bounce_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('bounced_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_deliveries_bounce'), type_='check')  # SQLite keeps it otherwise
        batch_op.drop_column('bounced_at')
        batch_op.drop_column('bounce_reason')
        batch_op.drop_column('bounce')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('suppressed_reason')
        batch_op.drop_column('suppressed_at')

    with op.batch_alter_table('bounce_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bounce_messages_source_key'))
        batch_op.drop_index(batch_op.f('ix_bounce_messages_delivery_id'))

    op.drop_table('bounce_messages')
