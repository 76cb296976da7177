"""CAP 1.2 alerts: their senders and the alerts received

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 14:20:00

- ``cap_senders``: who may alert which unit subtree (CAP ``sender``, API key as a SHA-256,
  the emergency rule), revocable;
- ``cap_alerts``: each accepted alert (unique sender, identifier, sent) and what it did.
"""

# ruff: noqa: E501

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cap_senders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('authority', 'center', name='capsenderkind', native_enum=False, length=20), server_default='authority', nullable=False),
    sa.Column('sender', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('emergency_rule', sa.Enum('at_once', 'approval', name='emergencyrule', native_enum=False, length=20), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=True),
    sa.Column('key_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_units.id'], name=op.f('fk_cap_senders_unit_id_admin_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cap_senders')),
    sa.UniqueConstraint('key_prefix', name=op.f('uq_cap_senders_key_prefix'))
    )
    with op.batch_alter_table('cap_senders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cap_senders_sender'), ['sender'], unique=False)
        batch_op.create_index(batch_op.f('ix_cap_senders_unit_id'), ['unit_id'], unique=False)

    op.create_table('cap_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=255), nullable=False),
    sa.Column('identifier', sa.String(length=255), nullable=False),
    sa.Column('sent', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('msg_type', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('refs', sa.Text(), server_default='', nullable=False),
    sa.Column('priority', sa.Enum('normal', 'priority', 'emergency', name='priority', native_enum=False, length=20), nullable=False),
    sa.Column('unit_ids', sa.Text(), server_default='', nullable=False),
    sa.Column('bulletin_id', sa.Integer(), nullable=True),
    sa.Column('broadcast_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Enum('emergency_sent', 'emergency_waiting', 'submitted', 'updated', 'cancelled', name='capoutcome', native_enum=False, length=20), nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bulletin_id'], ['bulletins.id'], name=op.f('fk_cap_alerts_bulletin_id_bulletins'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sender_id'], ['cap_senders.id'], name=op.f('fk_cap_alerts_sender_id_cap_senders'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cap_alerts')),
    sa.UniqueConstraint('sender', 'identifier', 'sent', name=op.f('uq_cap_alerts_sender_identifier_sent'))
    )
    with op.batch_alter_table('cap_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cap_alerts_bulletin_id'), ['bulletin_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cap_alerts_sender_id'), ['sender_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('cap_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cap_alerts_sender_id'))
        batch_op.drop_index(batch_op.f('ix_cap_alerts_bulletin_id'))

    op.drop_table('cap_alerts')
    with op.batch_alter_table('cap_senders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cap_senders_unit_id'))
        batch_op.drop_index(batch_op.f('ix_cap_senders_sender'))

    op.drop_table('cap_senders')
