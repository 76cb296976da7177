"""device lifecycle (state, enrolment, credential rotation), enrolment codes, signing keys,
retired units

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 05:00:00

- ``devices``: ``state`` (active, retired, revoked; existing devices are active), when and why
  it changed, ``enrolled_at``, the hash of a password being rotated in and when the last
  rotation finished;
- ``enrolment_codes``: one-time codes (stored as SHA-256) with expiry, use and withdrawal;
- ``signing_keys``: the center's keys through rotation (next, current, retired);
- ``admin_units.retired_at``.
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.Enum('active', 'retired', 'revoked', name='devicestate', native_enum=False, create_constraint=False, length=20), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('state_changed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('state_reason', sa.String(length=500), server_default='', nullable=False))
        batch_op.add_column(sa.Column('enrolled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('pending_password_hash', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('credential_rotated_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('admin_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(), nullable=True))
    op.create_table('enrolment_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=63), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('used_from', sa.String(length=100), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_enrolment_codes_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_enrolment_codes_code_hash'))
    )
    with op.batch_alter_table('enrolment_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_codes_device_id'), ['device_id'], unique=False)
    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.Enum('next', 'current', 'retired', name='signingkeystate', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('activated_at', sa.DateTime(), nullable=True),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys'))
    )


def downgrade() -> None:
    op.drop_table('signing_keys')
    with op.batch_alter_table('enrolment_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolment_codes_device_id'))
    op.drop_table('enrolment_codes')
    with op.batch_alter_table('admin_units', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('credential_rotated_at')
        batch_op.drop_column('pending_password_hash')
        batch_op.drop_column('enrolled_at')
        batch_op.drop_column('state_reason')
        batch_op.drop_column('state_changed_at')
        batch_op.drop_column('state')
