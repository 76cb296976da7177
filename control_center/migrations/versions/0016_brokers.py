"""several brokers: a unit's broker assignment and each device's broker

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 10:00:00

- ``admin_units.broker``: the broker (by its name in the center's configuration) of the
  devices under the unit; NULL inherits the parent's, and none at all means ``main``;
- ``devices.broker``: the broker the device's account lives on, recorded when it is
  registered and again when it is enrolled (docs/devices.md, "Several brokers").
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('admin_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('broker', sa.String(length=32), nullable=True))
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('broker', sa.String(length=32), server_default='main', nullable=False))
        batch_op.create_index(batch_op.f('ix_devices_broker'), ['broker'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_broker'))
        batch_op.drop_column('broker')
    with op.batch_alter_table('admin_units', schema=None) as batch_op:
        batch_op.drop_column('broker')
