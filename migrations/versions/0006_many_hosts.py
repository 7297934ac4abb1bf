"""many hosts: an attempt's clients in batches any worker claims, one send rate per relay
shared by all, and the hosts that carry the cron lines with the version they synced

An attempt still sending when this runs has no batches: the next worker plans them
from the clients it has not reached, so nothing is lost on the way up.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cron_hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance', sa.String(length=64), nullable=False),
    sa.Column('machine', sa.String(length=255), nullable=False),
    sa.Column('crontab', sa.String(length=1000), nullable=False),
    sa.Column('scripts_dir', sa.String(length=1000), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('synced_version', sa.BigInteger(), nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cron_hosts')),
    sa.UniqueConstraint('instance', 'machine', name=op.f('uq_cron_hosts_instance_machine'))
    )
    op.create_table('schedule_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_version'))
    )
    op.create_table('send_rates',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('next_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_send_rates'))
    )
    op.create_table('attempt_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('after_client_id', sa.Integer(), nullable=False),
    sa.Column('through_client_id', sa.Integer(), nullable=True),
    sa.Column('runner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempts.id'], name=op.f('fk_attempt_batches_attempt_id_attempts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempt_batches')),
    sa.UniqueConstraint('attempt_id', 'after_client_id', name=op.f('uq_attempt_batches_attempt_id_after_client_id'))
    )
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column('lease_until')
        batch_op.drop_column('runner')



def downgrade():
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('runner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column('planned_at')

    op.drop_table('attempt_batches')
    op.drop_table('send_rates')
    op.drop_table('schedule_version')
    op.drop_table('cron_hosts')
