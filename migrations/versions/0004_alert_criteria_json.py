"""alerts: the criteria in one JSON column

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:30:00

An alert's criteria (``query``, ``categories``, ``tmdb_id``, ``min_size``, ``max_size``,
``min_seeders``, ``exclude``) move into one JSON column ``criteria``, as
``bot.criteria.Criteria.to_json()`` writes it: the criteria set, by name
(``{"query": "dune", "min_size": 700000000}``). A criterion added later is one more key,
not one more migration. ``name``, ``channel_id``, ``mention_role_id`` and the pause state
stay columns.

Both ways keep the data. A downgrade restores the seven columns from the JSON; a
criterion they cannot hold (added after this revision) is dropped by it, which makes
such an alert match more, never less.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The columns this revision folds into ``criteria``, with their types (as in 0001).
_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("query", sa.String(length=200)),
    ("categories", sa.JSON()),
    ("tmdb_id", sa.String(length=64)),
    ("min_size", sa.BigInteger()),
    ("max_size", sa.BigInteger()),
    ("min_seeders", sa.Integer()),
    ("exclude", sa.JSON()),
)
#: Lists stored NOT NULL (an empty list when unset).
_LISTS = ("categories", "exclude")


def _alerts(*names: str) -> sa.TableClause:
    types = dict(_COLUMNS) | {"criteria": sa.JSON()}
    return sa.table("alerts", sa.column("id", sa.Integer()), *(sa.column(n, types[n]) for n in names))


def _fold(row: sa.Row[Any]) -> dict[str, Any]:
    """The columns of one alert → its ``criteria`` (only the criteria set)."""
    out: dict[str, Any] = {}
    for name, _ in _COLUMNS:
        value = getattr(row, name)
        if name in _LISTS:
            value = [str(item) for item in (value or [])]
            if value:
                out[name] = value
        elif value is not None and value != "":
            out[name] = value
    return out


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("criteria", sa.JSON(), nullable=True))
    bind = op.get_bind()
    old = _alerts(*(name for name, _ in _COLUMNS))
    rows = [{"b_id": row.id, "b_criteria": _fold(row)} for row in bind.execute(sa.select(old))]
    if rows:
        target = _alerts("criteria")
        bind.execute(
            target.update().where(target.c.id == sa.bindparam("b_id")).values(criteria=sa.bindparam("b_criteria")),
            rows,
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("criteria", existing_type=sa.JSON(), nullable=False)
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for name, type_ in _COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    bind = op.get_bind()
    rows = []
    for row in bind.execute(sa.select(_alerts("criteria"))):
        criteria = row.criteria or {}
        values: dict[str, Any] = {"b_id": row.id}
        for name, _ in _COLUMNS:
            value = criteria.get(name)
            values["b_" + name] = [str(v) for v in (value or [])] if name in _LISTS else value
        rows.append(values)
    if rows:
        target = _alerts(*(name for name, _ in _COLUMNS))
        bind.execute(
            target.update()
            .where(target.c.id == sa.bindparam("b_id"))
            .values({name: sa.bindparam("b_" + name) for name, _ in _COLUMNS}),
            rows,
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for name in _LISTS:
            batch_op.alter_column(name, existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("criteria")
