"""feedback desk: priority, the unit of origin, the overdue escalation mark

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 12:30:00

- ``feedback.priority``: set at triage (normal, high, urgent); the officers' queue lists the
  most urgent first.
- ``feedback.origin_unit_id``: the unit it was submitted in (``unit_id`` is the unit handling
  it now, which escalation moves up the tree); filled from ``unit_id`` for existing rows.
- ``feedback.escalated_at``: when the overdue job passed it to the parent unit (once).
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_unit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('priority', sa.Enum('normal', 'high', 'urgent', name='feedbackpriority', native_enum=False, create_constraint=False, length=20), nullable=False, server_default='normal'))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_feedback_origin_unit_id_admin_units'), 'admin_units', ['origin_unit_id'], ['id'], ondelete='RESTRICT')
    op.execute("UPDATE feedback SET origin_unit_id = unit_id")
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.alter_column('priority', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_feedback_origin_unit_id_admin_units'), type_='foreignkey')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('priority')
        batch_op.drop_column('origin_unit_id')
