"""alerts: delivery batch nonce (crash-safe posts), alert updated_at (poller cache)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:00:00

A delivery claimed for a message carries the message's Discord ``nonce`` until it is
marked delivered: after a crash, the same batch is re-sent with the same nonce and
Discord (``enforce_nonce``) answers with the message it already created.

``alerts.updated_at`` versions an alert's row, so the poller reloads a server's alerts
only when one changed. Nullable: rows written before it have none (they count as
unchanged until their next edit, and the alert count and highest id still tell a
creation or a removal).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_nonce", sa.String(length=25), nullable=True))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("batch_nonce")
