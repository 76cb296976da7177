"""live streams: relays of an upper station and live microphone sessions

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 11:15:00

- ``live_streams``: one stream devices pull signed segments of, with the secret their
  per-device tokens derive from; a relay bulletin's (``bulletin_id``, upstream ``source_url``,
  ``window_s``) or a microphone session's (``target_unit_id``, ``source_device_id``), its
  state, runs of the segmenter and the recording kept at the end.
- ``play_logs.heard_ms``: for live items, the milliseconds of the source a device played.
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('live_streams',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('relay', 'microphone', name='livekind', native_enum=False, length=20), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('priority', sa.Enum('normal', 'priority', 'emergency', name='priority', native_enum=False, length=20), nullable=False),
    sa.Column('state', sa.Enum('prepared', 'live', 'ended', name='livestate', native_enum=False, length=20), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('bulletin_id', sa.Integer(), nullable=True),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('window_s', sa.Integer(), nullable=True),
    sa.Column('source_device_id', sa.String(length=63), nullable=True),
    sa.Column('target_unit_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('delay_ms', sa.Integer(), nullable=False),
    sa.Column('gone_after_s', sa.Integer(), nullable=False),
    sa.Column('filler_sha256', sa.String(length=64), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('recording_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['bulletin_id'], ['bulletins.id'], name=op.f('fk_live_streams_bulletin_id_bulletins'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['filler_sha256'], ['media_assets.sha256'], name=op.f('fk_live_streams_filler_sha256_media_assets'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['source_device_id'], ['devices.id'], name=op.f('fk_live_streams_source_device_id_devices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_unit_id'], ['admin_units.id'], name=op.f('fk_live_streams_target_unit_id_admin_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_units.id'], name=op.f('fk_live_streams_unit_id_admin_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_streams')),
    sa.UniqueConstraint('bulletin_id', name=op.f('uq_live_streams_bulletin_id'))
    )
    with op.batch_alter_table('live_streams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_streams_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_streams_target_unit_id'), ['target_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_streams_unit_id'), ['unit_id'], unique=False)
    with op.batch_alter_table('play_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heard_ms', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('play_logs', schema=None) as batch_op:
        batch_op.drop_column('heard_ms')
    with op.batch_alter_table('live_streams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_streams_unit_id'))
        batch_op.drop_index(batch_op.f('ix_live_streams_target_unit_id'))
        batch_op.drop_index(batch_op.f('ix_live_streams_state'))
    op.drop_table('live_streams')
