"""links between centers: peers, the outbox and received messages, federated bulletins and
figures

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 14:30:00

- ``federation_peers``: the other centers (identity public key, URL, child or parent);
- ``federation_outbox``: signed messages until the peer acknowledges them;
- ``federation_received``: each message id applied once per peer;
- ``federated_bulletins``: bulletins sent to (or received from) a peer and their state;
- ``federated_figures``: a child center's daily figures per unit.
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('federation_peers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('center_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(), nullable=True),
    sa.Column('last_received_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_units.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('center_id')
    )
    with op.batch_alter_table('federation_peers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federation_peers_unit_id'), ['unit_id'], unique=False)

    op.create_table('federation_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_try_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['peer_id'], ['federation_peers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('federation_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_federation_outbox_pending', ['peer_id', 'delivered_at', 'id'], unique=False)

    op.create_table('federation_received',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['peer_id'], ['federation_peers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('peer_id', 'message_id')
    )

    op.create_table('federated_bulletins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('remote_ref', sa.String(length=36), nullable=False),
    sa.Column('bulletin_id', sa.Integer(), nullable=True),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('plays_completed', sa.Integer(), nullable=False),
    sa.Column('devices_targeted', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bulletin_id'], ['bulletins.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['peer_id'], ['federation_peers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('peer_id', 'remote_ref')
    )
    with op.batch_alter_table('federated_bulletins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federated_bulletins_bulletin_id'), ['bulletin_id'], unique=False)

    op.create_table('federated_figures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('unit_name', sa.String(length=200), nullable=False),
    sa.Column('parent_code', sa.String(length=64), nullable=True),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['peer_id'], ['federation_peers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('peer_id', 'unit_code', 'day')
    )


def downgrade() -> None:
    op.drop_table('federated_figures')
    with op.batch_alter_table('federated_bulletins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federated_bulletins_bulletin_id'))
    op.drop_table('federated_bulletins')
    op.drop_table('federation_received')
    with op.batch_alter_table('federation_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_federation_outbox_pending')
    op.drop_table('federation_outbox')
    with op.batch_alter_table('federation_peers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federation_peers_unit_id'))
    op.drop_table('federation_peers')
