"""Gateway logins (IDENTIFY) spaced per identify bucket across every process.

Discord accepts ``max_concurrency`` logins per 5 seconds, one per bucket
``shard_id % max_concurrency``; a faster one gets an invalid session (and counts against
the day's 1,000 session starts). discord.py spaces the logins of one process
(``before_identify_hook`` sleeps 5 s); processes sharing a bot must also space theirs
between them. The gate keeps, per bucket, the database time of the last login in
``bot_state`` and serialises the bucket's logins with a transaction lock: a login waits
until ``spacing`` after the previous one, whichever process made it (a killed process's
last login is still on record). The database clock is the one clock every machine shares.
Nothing here imports discord.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, cast, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.advisory import NS_IDENTIFY, xact_lock
from bot.db.models import BotState
from bot.db.types import utcnow

log = logging.getLogger("vigie.cluster")

#: Discord's 5 s, plus a margin for the time between recording a login and its IDENTIFY
#: frame leaving (the record is written just before the frame is sent).
IDENTIFY_SPACING = 5.25
#: How long a login may queue behind its bucket's lock before going ahead anyway.
LOCK_TIMEOUT_SECONDS = 120


def identify_bucket(shard_id: int | None, max_concurrency: int) -> int:
    return (shard_id or 0) % max(1, max_concurrency)


class IdentifyGate:
    """``await gate.wait_turn(shard_id, max_concurrency)`` right before an IDENTIFY."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, spacing: float = IDENTIFY_SPACING) -> None:
        self._sessions = sessions
        self.spacing = spacing

    async def wait_turn(self, shard_id: int | None, max_concurrency: int) -> float:
        """Wait until this shard's bucket may log in, and record the login; returns the
        seconds waited. Other processes' logins in the bucket queue behind this one."""
        bucket = identify_bucket(shard_id, max_concurrency)
        key = f"identify_at:{max(1, max_concurrency)}:{bucket}"
        async with self._sessions.begin() as session:
            await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'"))
            await xact_lock(session, NS_IDENTIFY, bucket)
            last = (await session.execute(select(BotState.value).where(BotState.key == key))).scalar()
            now = float((await session.execute(select(func.extract("epoch", func.clock_timestamp())))).scalar_one())
            waited = 0.0
            if last is not None:
                waited = max(0.0, min(float(last) + self.spacing - now, self.spacing))
                if waited:
                    log.debug("shard %s waits %.2f s for identify bucket %d", shard_id, waited, bucket)
                    await asyncio.sleep(waited)
            stamp = cast(func.extract("epoch", func.clock_timestamp()), String)
            statement = pg_insert(BotState).values(key=key, value=stamp, updated_at=utcnow())
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[BotState.__table__.c.key],
                    set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
                )
            )
        return waited


def session_start_warning(limits: Mapping[str, Any], own_shards: int) -> str | None:
    """A line for the log when the day's gateway session starts run low (fewer than 10 %
    of the total, or than two restarts of this process's shards), else None."""
    try:
        total = int(limits["total"])
        remaining = int(limits["remaining"])
        reset_after = float(limits.get("reset_after", 0)) / 1000
    except (KeyError, TypeError, ValueError):
        return None
    if remaining >= max(total * 0.10, 2 * own_shards):
        return None
    hours = reset_after / 3600
    when = f"{hours:.1f} h" if hours >= 1 else f"{reset_after / 60:.0f} min"
    return (
        f"Discord allows only {remaining} more gateway logins (of {total} a day; the count resets in {when}); "
        f"each start of this process uses {own_shards}. Avoid restarts until then: past zero, Discord resets the bot's token"
    )
