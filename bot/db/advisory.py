"""PostgreSQL advisory locks: how processes sharing one database agree on who does what.

Every key is two 32-bit numbers: a namespace (one per purpose, below) and a key inside
it (a slot number, an identify bucket, a layout code, 0 for "the" job). The namespaces
start with ``0x5647`` ("VG") so that they stay clear of other applications' locks in a
shared database; each database has its own locks, so two Vigie installations in two
databases of one server never meet.

Two kinds are used:

- *session* locks (``pg_try_advisory_lock``) belong to one connection and last until it
  closes or dies, whatever transactions it runs: a cluster slot, the layout;
- *transaction* locks (``pg_advisory_xact_lock``) end with the transaction that took them:
  migrations, command sync, pruning, the identify gate.

They need each session to keep its own server backend: a direct connection or a pooler in
*session* mode. PgBouncer in *transaction* mode hands the next query to another backend,
so a session lock would seem taken and belong to nobody; the slot watchdog checks that its
lock is held by its own backend (``held_by_me``) and stops the process otherwise.

On SQLite (one process by definition) every helper here is a no-op that "gets" its lock.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

#: A process's cluster slot, key = slot number (session lock, shared connection of the slot).
NS_SLOT = 0x56470001
#: The layout a running process uses, key = ``layout_code(shard_count, cluster_count)``
#: (shared session lock: every process of one layout holds it together).
NS_LAYOUT = 0x56470002
#: Start-up: checking the layout and taking its lock happen under this one (transaction).
NS_START = 0x56470003
#: ``alembic upgrade`` (transaction lock around the whole migration).
NS_MIGRATE = 0x56470004
#: Application command sync (transaction lock).
NS_SYNC = 0x56470005
#: Pruning old deliveries and seen releases (transaction lock, tried, never waited for).
NS_PRUNE = 0x56470006
#: Gateway logins, key = identify bucket (``shard_id % max_concurrency``; transaction lock).
NS_IDENTIFY = 0x56470007


def _postgres(bind: AsyncConnection | AsyncSession) -> bool:
    return (
        bind.get_bind().dialect.name == "postgresql"
        if isinstance(bind, AsyncSession)
        else bind.dialect.name == "postgresql"
    )


async def xact_lock(bind: AsyncConnection | AsyncSession, namespace: int, key: int = 0) -> None:
    """Wait for the transaction lock ``(namespace, key)``; it is released when the
    current transaction ends (commit or rollback). A no-op on SQLite."""
    if _postgres(bind):
        await bind.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": namespace, "key": key})


async def try_xact_lock(bind: AsyncConnection | AsyncSession, namespace: int, key: int = 0) -> bool:
    """Take the transaction lock ``(namespace, key)`` if nobody holds it, without waiting:
    False means another transaction is doing the job right now. True on SQLite."""
    if not _postgres(bind):
        return True
    result = await bind.execute(text("SELECT pg_try_advisory_xact_lock(:ns, :key)"), {"ns": namespace, "key": key})
    return bool(result.scalar())


#: Advisory locks of this database in one namespace, as pg_locks shows them (the two-int
#: form has ``objsubid = 2``; ``classid`` is the namespace, ``objid`` the key, both as oid,
#: i.e. unsigned: the namespaces and keys used here are all below 2**31).
LOCKS_IN_NAMESPACE = """
SELECT objid::bigint AS key, pid, granted, mode FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 2 AND classid::bigint = $1
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""

#: Whether the asking backend itself holds the session lock ($1, $2).
HELD_BY_ME = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 2 AND classid::bigint = $1 AND objid::bigint = $2
  AND pid = pg_backend_pid() AND granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
