"""training with authority: officers are user accounts, courses have an owner unit, kiosk
attempts keep the center's score against the published answer keys

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00

- every officer without a user gets one: role ``learner`` (view only), the officer's name and
  unit, a user name derived from the officer code and an unusable password (an administrator
  sets one before the officer can sign in); ``training_officers`` then keeps only ``user_id``,
  ``code`` and ``role`` (name and unit come from the user);
- existing courses belong to the root unit;
- the answer keys of the bundles published so far are recorded (they equal the current quizzes:
  re-imports rebuild the bundles); kiosk attempts keep the kiosk's score as ``reported_score``.
"""

# ruff: noqa: E501

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNUSABLE_PASSWORD = "!unusable: an administrator sets a password"  # never an argon2 hash


def _username(code: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9._-]", "", code.lower()).lstrip("._-") or "hoc-vien"
    base = base if len(base) >= 2 else f"hv-{base}"
    name, n = base[:64], 1
    while name in taken:
        n += 1
        name = f"{base[:58]}-{n}"
    taken.add(name)
    return name


def _link_officers_to_users() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    taken = set(bind.execute(sa.text("SELECT username FROM users")).scalars())
    officers = bind.execute(sa.text(
        "SELECT id, code, name, unit_id FROM training_officers WHERE user_id IS NULL ORDER BY id"
    )).all()
    for officer_id, code, name, unit_id in officers:
        user_id = bind.execute(sa.text(
            "INSERT INTO users (username, full_name, role, unit_id, password_hash, active, "
            "failed_logins, created_at) VALUES (:username, :full_name, 'learner', :unit_id, "
            ":password_hash, :active, 0, :now) RETURNING id"),
            {"username": _username(code, taken), "full_name": name, "unit_id": unit_id,
             "password_hash": UNUSABLE_PASSWORD, "active": True, "now": now}).scalar_one()
        bind.execute(sa.text("UPDATE training_officers SET user_id = :u WHERE id = :o"),
                     {"u": user_id, "o": officer_id})


def _record_published_keys() -> None:
    bind = op.get_bind()
    bundles = bind.execute(sa.text(
        "SELECT DISTINCT bundle_sha256, course_id FROM training_kiosk_publications")).all()
    for sha, course_id in bundles:
        quizzes = bind.execute(sa.text(
            "SELECT id, pass_mark FROM training_quizzes WHERE course_id = :c"),
            {"c": course_id}).all()
        for quiz_id, pass_mark in quizzes:
            keys = [[key, json.loads(answer)] for key, answer in bind.execute(sa.text(
                "SELECT key, answer_json FROM training_questions WHERE quiz_id = :q "
                "ORDER BY position"), {"q": quiz_id})]
            bind.execute(sa.text(
                "INSERT INTO training_published_quizzes (bundle_sha256, quiz_id, pass_mark, "
                "keys_json) VALUES (:s, :q, :p, :k)"),
                {"s": sha, "q": quiz_id, "p": pass_mark, "k": json.dumps(keys)})


def upgrade() -> None:
    op.create_table('training_published_quizzes',
    sa.Column('bundle_sha256', sa.String(length=64), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=False),
    sa.Column('pass_mark', sa.Float(), nullable=False),
    sa.Column('keys_json', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['quiz_id'], ['training_quizzes.id'], name=op.f('fk_training_published_quizzes_quiz_id_training_quizzes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bundle_sha256', 'quiz_id', name=op.f('pk_training_published_quizzes'))
    )
    _record_published_keys()

    with op.batch_alter_table('training_courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_unit_id', sa.Integer(), nullable=True))
    op.execute("UPDATE training_courses SET owner_unit_id = "
               "(SELECT MIN(id) FROM admin_units WHERE parent_id IS NULL)")

    with op.batch_alter_table('training_kiosk_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_score', sa.Float(), nullable=True))
    op.execute("UPDATE training_kiosk_attempts SET reported_score = score")

    with op.batch_alter_table('training_officers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
    _link_officers_to_users()

    # foreign keys are off while migrating (control_center.db.upgrade_database): the
    # tables below are recreated without cascading into the tables that reference them
    with op.batch_alter_table('training_courses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_courses_owner_unit_id'), ['owner_unit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_training_courses_owner_unit_id_admin_units'), 'admin_units', ['owner_unit_id'], ['id'], ondelete='RESTRICT')
    with op.batch_alter_table('training_officers', schema=None) as batch_op:
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index(batch_op.f('ix_training_officers_unit_id'))
        batch_op.drop_constraint(batch_op.f('fk_training_officers_unit_id_admin_units'), type_='foreignkey')
        batch_op.drop_column('unit_id')
        batch_op.drop_column('name')
        batch_op.create_unique_constraint(batch_op.f('uq_training_officers_user_id'), ['user_id'])
        batch_op.create_foreign_key(batch_op.f('fk_training_officers_user_id_users'), 'users', ['user_id'], ['id'], ondelete='RESTRICT')


def downgrade() -> None:
    with op.batch_alter_table('training_officers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
    op.execute("UPDATE training_officers SET "
               "name = (SELECT CASE WHEN full_name = '' THEN username ELSE full_name END "
               "FROM users WHERE users.id = training_officers.user_id), "
               "unit_id = (SELECT unit_id FROM users WHERE users.id = training_officers.user_id)")
    # foreign keys are off while migrating (control_center.db.upgrade_database): the
    # tables below are recreated without cascading into the tables that reference them
    with op.batch_alter_table('training_officers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_training_officers_user_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_training_officers_user_id'), type_='unique')
        batch_op.drop_column('user_id')
        batch_op.alter_column('name', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('unit_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_training_officers_unit_id_admin_units'), 'admin_units', ['unit_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_index(batch_op.f('ix_training_officers_unit_id'), ['unit_id'], unique=False)
    with op.batch_alter_table('training_courses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_training_courses_owner_unit_id_admin_units'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_training_courses_owner_unit_id'))
        batch_op.drop_column('owner_unit_id')
    with op.batch_alter_table('training_kiosk_attempts', schema=None) as batch_op:
        batch_op.drop_column('reported_score')
    op.drop_table('training_published_quizzes')
