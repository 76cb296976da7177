"""the kiosk's speech model and its state in device health

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 13:00:00

- ``device_health.speech_model``: the model's name and archive SHA-256 prefix, as of the sample;
- ``device_health.speech_model_state``: installed, missing or failed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('device_health', schema=None) as batch_op:
        batch_op.add_column(sa.Column('speech_model', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('speech_model_state', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('device_health', schema=None) as batch_op:
        batch_op.drop_column('speech_model_state')
        batch_op.drop_column('speech_model')
