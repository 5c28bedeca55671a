"""Which servers a process answers for, as a Python test and as one SQL predicate.

A server lives on shard ``(guild_id >> 22) % shard_count`` (Discord's rule); process slot
``k`` of ``cluster_count`` runs the shards ``{s : s % cluster_count == k}`` and owns their
servers' interactions, polls and posts. The SQL form exists so that the ownership test
runs *inside* the query that selects due servers or pending posts, before any ``LIMIT``:
filtering in Python after a ``LIMIT`` lets one shard's backlog starve another's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression, true


@dataclass(frozen=True, slots=True)
class Ownership:
    """This process's share of the bot: slot ``slot`` of ``cluster_count``, over
    ``shard_count`` shards in all (the same numbers on every process)."""

    shard_count: int = 1
    cluster_count: int = 1
    slot: int = 0

    def __post_init__(self) -> None:
        if self.shard_count < 1 or self.cluster_count < 1:
            raise ValueError("shard_count and cluster_count must be at least 1")
        if self.cluster_count > self.shard_count:
            raise ValueError("cluster_count cannot exceed shard_count: a cluster would own no shard")
        if not 0 <= self.slot < self.cluster_count:
            raise ValueError(f"slot must be in 0..{self.cluster_count - 1}")

    @property
    def everything(self) -> bool:
        """One process owns every server: no filter is needed."""
        return self.cluster_count == 1

    @property
    def shard_ids(self) -> tuple[int, ...]:
        return tuple(s for s in range(self.shard_count) if s % self.cluster_count == self.slot)

    def shard_of(self, guild_id: int) -> int:
        return (guild_id >> 22) % self.shard_count

    def owns(self, guild_id: int | None) -> bool:
        """``None`` (a DM) belongs to shard 0, like Discord sends it."""
        if self.everything:
            return True
        shard = 0 if guild_id is None else self.shard_of(guild_id)
        return shard % self.cluster_count == self.slot

    def owns_sql(self, guild_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
        """The same test for a ``guild_id`` column, usable in ``WHERE`` on SQLite and
        PostgreSQL (``//`` is integer division on both; snowflakes are positive, so
        ``x // 2**22`` equals ``x >> 22``)."""
        if self.everything:
            return true()
        shard = (guild_id // (1 << 22)) % self.shard_count
        return (shard % self.cluster_count) == self.slot
