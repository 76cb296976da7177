"""broker moves: devices on their way to another broker

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 11:00:00

- ``broker_moves``: per device being moved, the ``move_broker`` command's id, the brokers it
  leaves and joins, the hash of its password there, and when the command was sent and
  expires. The device's acknowledgement completes the move and removes the row.
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('broker_moves',
    sa.Column('device_id', sa.String(length=63), nullable=False),
    sa.Column('command_id', sa.String(length=100), nullable=False),
    sa.Column('from_broker', sa.String(length=32), nullable=False),
    sa.Column('to_broker', sa.String(length=32), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_broker_moves_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_broker_moves')),
    sa.UniqueConstraint('command_id', name=op.f('uq_broker_moves_command_id'))
    )


def downgrade() -> None:
    op.drop_table('broker_moves')
