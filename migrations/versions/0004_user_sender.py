"""users' own sender: From name and address (confirmed by a link), Reply-To

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa



revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('sender_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('sender_confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reply_to', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('reply_to')
        batch_op.drop_column('sender_confirmed_at')
        batch_op.drop_column('sender_email')
        batch_op.drop_column('sender_name')
