"""media pipeline: processing state and delivery renditions

Existing assets become ``ready`` with no renditions: they keep delivering their original file.

Revision ID: 0002
Revises: 0001
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('media_renditions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_sha256', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mime', sa.String(length=100), nullable=False),
    sa.Column('codec', sa.String(length=40), nullable=False),
    sa.Column('bitrate', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('loudness_lufs', sa.Float(), nullable=False),
    sa.Column('true_peak_dbtp', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_sha256'], ['media_assets.sha256'], name=op.f('fk_media_renditions_asset_sha256_media_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_renditions')),
    sa.UniqueConstraint('asset_sha256', 'format', name=op.f('uq_media_renditions_asset_sha256_format'))
    )
    with op.batch_alter_table('media_renditions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_renditions_asset_sha256'), ['asset_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_renditions_sha256'), ['sha256'], unique=False)

    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.Enum('processing', 'ready', 'failed', name='mediastate', native_enum=False, length=20), server_default='ready', nullable=False))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('source_lufs', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('source_true_peak', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('processed_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_media_assets_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_assets_state'))
        batch_op.drop_column('processed_at')
        batch_op.drop_column('source_true_peak')
        batch_op.drop_column('source_lufs')
        batch_op.drop_column('error')
        batch_op.drop_column('state')

    with op.batch_alter_table('media_renditions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_renditions_sha256'))
        batch_op.drop_index(batch_op.f('ix_media_renditions_asset_sha256'))

    op.drop_table('media_renditions')
