"""deliveries: whether the release is in an age-restricted category

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 11:00:00

La Cale's ``/meta`` has no age-restriction field; Vigie counts its « XXX » branch as
age-restricted (``bot/services/alerts/destinations.py``). The poll decides it when it
records a delivery, so the sender (which has no category tree) never posts such a release
to a channel that is not age-restricted. Rows recorded before this revision read as not
restricted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("age_restricted", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("age_restricted")
