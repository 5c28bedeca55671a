"""Names members give their alerts and watches: found whatever their case, and suggested
as they are typed. One rule for both, so ``/alert`` and ``/watch`` never disagree on
whether "Été" and "ÉTÉ" are the same name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession


class _Named(Protocol):
    id: Any
    name: Any


N = TypeVar("N", bound=_Named)

#: Discord shows at most 25 autocomplete choices.
SUGGESTIONS_MAX = 25


async def find_by_name(
    session: AsyncSession, model: type[N], scope: Sequence[ColumnElement[bool]], name: str
) -> N | None:
    """The row of ``model`` within ``scope`` named ``name``, the exact spelling first.

    The case is folded here, not with SQL ``lower()``: SQLite's folds ASCII only, so "ÉTÉ"
    would miss "Été" there (and a second one would be made) while PostgreSQL finds it. A
    scope holds few rows (a server's alerts, a member's watches in a server)."""
    wanted = name.strip()
    column: Any = model.name
    found = await session.scalar(select(model).where(*scope, column == wanted))
    if found is None:
        folded = wanted.lower()
        rows = await session.scalars(select(model).where(*scope).order_by(model.id))
        found = next((row for row in rows if row.name.lower() == folded), None)
    return found


def suggest_names(names: Sequence[str], typed: str) -> list[str]:
    """For autocomplete: names starting with what was typed, then names containing it,
    case-insensitively."""
    wanted = typed.strip().casefold()
    starts = [n for n in names if n.casefold().startswith(wanted)]
    contains = [n for n in names if wanted in n.casefold() and n not in starts]
    return (starts + contains)[:SUGGESTIONS_MAX]
