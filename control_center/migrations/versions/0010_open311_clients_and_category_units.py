"""Open311 client keys, the client of each request, and the unit of each feedback category

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 23:10:00.000000

Existing categories belong to the root of the tree (the first unit without a parent); on a
database without units they keep no unit, which means the top of the tree.
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('open311_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=False),
    sa.Column('key_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_units.id'], name=op.f('fk_open311_clients_unit_id_admin_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_clients')),
    sa.UniqueConstraint('key_prefix', name=op.f('uq_open311_clients_key_prefix'))
    )
    with op.batch_alter_table('open311_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open311_clients_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_feedback_client_id'), ['client_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_feedback_client_id_open311_clients'), 'open311_clients', ['client_id'], ['id'], ondelete='RESTRICT')

    with op.batch_alter_table('feedback_categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_feedback_categories_unit_id'), ['unit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_feedback_categories_unit_id_admin_units'), 'admin_units', ['unit_id'], ['id'], ondelete='RESTRICT')

    connection = op.get_bind()
    root = connection.execute(sa.text(
        "SELECT id FROM admin_units WHERE parent_id IS NULL ORDER BY id LIMIT 1")).scalar()
    if root is not None:
        connection.execute(sa.text("UPDATE feedback_categories SET unit_id = :root"),
                           {"root": root})


def downgrade() -> None:
    with op.batch_alter_table('feedback_categories', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_feedback_categories_unit_id_admin_units'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_feedback_categories_unit_id'))
        batch_op.drop_column('unit_id')

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_feedback_client_id_open311_clients'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_feedback_client_id'))
        batch_op.drop_column('client_id')

    with op.batch_alter_table('open311_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_open311_clients_unit_id'))

    op.drop_table('open311_clients')
