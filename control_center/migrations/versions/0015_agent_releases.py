"""agent releases, rollouts and each rollout's devices

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:00:00

- ``agent_releases``: a version's signed release manifest (the envelope as served, its
  SHA-256) and its wheels' count and size (the wheels are files under
  ``<data_dir>/releases/<version>/``);
- ``rollouts``: a version offered to targets in waves, with its failure threshold and state;
- ``rollout_devices``: each device's wave, state, last reported stage, reason, command id,
  times and the durations the agent reported.
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agent_releases',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('actor_unit_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.String(length=2000), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_count', sa.Integer(), nullable=False),
    sa.Column('total_bytes', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_agent_releases'))
    )
    op.create_table('rollouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('waves', sa.JSON(), nullable=True),
    sa.Column('wave_units', sa.JSON(), nullable=True),
    sa.Column('wave_count', sa.Integer(), nullable=False),
    sa.Column('failure_threshold_pct', sa.Float(), nullable=False),
    sa.Column('confirm_within_s', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('running', 'halted', 'completed', name='rolloutstate', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('current_wave', sa.Integer(), nullable=False),
    sa.Column('failures_accepted', sa.Integer(), nullable=False),
    sa.Column('halted_at', sa.DateTime(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['version'], ['agent_releases.version'], name=op.f('fk_rollouts_version_agent_releases'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rollouts'))
    )
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rollouts_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_rollouts_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rollouts_version'), ['version'], unique=False)
    op.create_table('rollout_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rollout_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=63), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('wave', sa.Integer(), nullable=True),
    sa.Column('from_version', sa.String(length=100), nullable=False),
    sa.Column('state', sa.Enum('waiting', 'sent', 'confirmed', 'rolled_back', 'failed', 'timed_out', 'skipped', name='rolloutdevicestate', native_enum=False, create_constraint=False, length=20), nullable=False),
    sa.Column('stage', sa.Enum('downloaded', 'installed', 'restarting', 'confirmed', 'rolled_back', 'failed', name='updatestage', native_enum=False, create_constraint=False, length=20), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('command_id', sa.String(length=64), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('stage_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('download_ms', sa.Integer(), nullable=True),
    sa.Column('install_ms', sa.Integer(), nullable=True),
    sa.Column('restart_ms', sa.Integer(), nullable=True),
    sa.Column('confirm_ms', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_rollout_devices_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rollout_id'], ['rollouts.id'], name=op.f('fk_rollout_devices_rollout_id_rollouts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rollout_devices')),
    sa.UniqueConstraint('rollout_id', 'device_id', name=op.f('uq_rollout_devices_rollout_id_device_id'))
    )
    with op.batch_alter_table('rollout_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rollout_devices_command_id'), ['command_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rollout_devices_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rollout_devices_rollout_id'), ['rollout_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rollout_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rollout_devices_rollout_id'))
        batch_op.drop_index(batch_op.f('ix_rollout_devices_device_id'))
        batch_op.drop_index(batch_op.f('ix_rollout_devices_command_id'))
    op.drop_table('rollout_devices')
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rollouts_version'))
        batch_op.drop_index(batch_op.f('ix_rollouts_unit_id'))
        batch_op.drop_index(batch_op.f('ix_rollouts_state'))
    op.drop_table('rollouts')
    op.drop_table('agent_releases')
