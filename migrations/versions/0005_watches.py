"""watches: members' own alerts by direct message

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:30:00

- ``guild_settings.watches_enabled``: the server's admins let members watch on its poll
  (``/setup watches on``); off for every existing server.
- ``watches``: a member's saved search in a server, its criteria as one JSON value.
- ``deliveries`` gain a second kind of destination, a member's DMs: ``user_id`` (the
  member), ``watch_id`` (the watch that recorded it), ``alert_id`` becomes optional. The
  unique (member, info hash) pair makes a second DM of one release to one member
  impossible, however many of their watches match it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("watches_enabled", sa.Boolean(), server_default="0", nullable=False))
    op.create_table(
        "watches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("personal", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("notice_pending", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_match_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watches")),
        sa.UniqueConstraint("guild_id", "user_id", "name", name=op.f("uq_watches_guild_id")),
    )
    with op.batch_alter_table("watches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watches_guild_id"), ["guild_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_watches_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("watch_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("user_id", sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_watch_id_watches"), "watches", ["watch_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index(batch_op.f("ix_deliveries_watch_id"), ["watch_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_deliveries_user_id"), ["user_id", "info_hash"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_deliveries_user_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_deliveries_watch_id"))
        batch_op.drop_constraint(batch_op.f("fk_deliveries_watch_id_watches"), type_="foreignkey")
        batch_op.drop_column("user_id")
        batch_op.drop_column("watch_id")
    # DM rows have no alert: they go before the column is required again.
    op.execute("DELETE FROM deliveries WHERE alert_id IS NULL")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("watches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watches_user_id"))
        batch_op.drop_index(batch_op.f("ix_watches_guild_id"))
    op.drop_table("watches")
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL), not a batch: on SQLite a batch
    # copies the table and drops the original, and with foreign keys on, dropping
    # guild_settings would cascade to every alert and delivery.
    op.drop_column("guild_settings", "watches_enabled")
