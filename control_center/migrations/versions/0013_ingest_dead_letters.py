"""ingest dead letters, loop heartbeats and outbox figures in device health, emergency validity

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 12:00:00

- ``ingest_dead_letters``: MQTT messages the center acknowledged but could not store yet (a
  database error, or an unexpected failure of their handler); replayed and deleted once stored;
- ``device_health`` keeps the agent's loop heartbeats (JSON), outbox size, drops, dead letters
  and fault count of the latest sample;
- ``emergency_broadcasts.valid_minutes`` (how long a send's command stays valid; sends made
  before this revision had 2 minutes) and ``emergency_targets.expired_at`` (the device reported
  the command arrived too late).
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ingest_dead_letters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=300), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('first_failed_at', sa.DateTime(), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_dead_letters'))
    )
    with op.batch_alter_table('device_health', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeats', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('outbox_rows', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('outbox_dropped', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('dead_letters', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('faults', sa.Integer(), nullable=True))
    with op.batch_alter_table('emergency_broadcasts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('valid_minutes', sa.Integer(), nullable=True))
    with op.batch_alter_table('emergency_targets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expired_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE emergency_broadcasts SET valid_minutes = 2 WHERE kind = 'send'")


def downgrade() -> None:
    with op.batch_alter_table('emergency_targets', schema=None) as batch_op:
        batch_op.drop_column('expired_at')
    with op.batch_alter_table('emergency_broadcasts', schema=None) as batch_op:
        batch_op.drop_column('valid_minutes')
    with op.batch_alter_table('device_health', schema=None) as batch_op:
        batch_op.drop_column('faults')
        batch_op.drop_column('dead_letters')
        batch_op.drop_column('outbox_dropped')
        batch_op.drop_column('outbox_rows')
        batch_op.drop_column('heartbeats')
    op.drop_table('ingest_dead_letters')
