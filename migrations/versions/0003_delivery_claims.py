"""deliveries: who claimed a pending post, and when

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:00:00

With several processes on one database, a claimed-but-undelivered row (its message may
already be on Discord) must be re-sent by one process only, with its own nonce:
``claimed_by`` is the slot of the process that claimed it (or took it over), and
``claimed_at`` when. Both are empty for rows never claimed and for rows claimed before
this revision (those are re-sent by whichever process owns their server).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
