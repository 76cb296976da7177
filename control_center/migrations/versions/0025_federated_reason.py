"""the reason a child center gave for a bulletin's state (declined, or refused as failed)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('federated_bulletins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=500), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('federated_bulletins', schema=None) as batch_op:
        batch_op.drop_column('reason')
