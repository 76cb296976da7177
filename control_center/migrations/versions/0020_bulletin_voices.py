"""text bulletins: their synthesised voice and how long kiosks show them

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 12:30:00

- ``bulletins.voice_sha256``: the media asset of a text bulletin's text spoken by the center's
  TTS (loudspeakers play it); NULL until the voice is ready. ``voice_error``: why making it
  failed.
- ``bulletins.shown_minutes`` / ``shown_until``: how long kiosks show a text notice after each
  occurrence's instant (minutes), or until a local time of day ("HH:MM"); both NULL: until the
  end of that day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voice_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('voice_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('shown_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('shown_until', sa.String(length=5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.drop_column('shown_until')
        batch_op.drop_column('shown_minutes')
        batch_op.drop_column('voice_error')
        batch_op.drop_column('voice_sha256')
