"""Every upload attempt, in the database (``UploadRecord``): written before the request and
completed after it, so even a crash mid-upload leaves a trace in ``/uploads`` and tells the
next attempt of the same file to look on La Cale first."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import UploadRecord
from bot.db.types import utcnow
from bot.services.uploads.drafts import OUTCOME_SENDING, UploadDraft, UploadStatus, UploadSummary
from bot.services.uploads.limits import RECENT_LIMIT


class UploadRecords:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def earlier(self, hashes: Collection[str]) -> list[UploadRecord]:
        """Earlier attempts for this file (any member, under any of its *hashes*) that
        were, or may have been, stored."""
        outcomes = (UploadStatus.UPLOADED.value, UploadStatus.UNVERIFIED.value, OUTCOME_SENDING)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(UploadRecord)
                .where(UploadRecord.info_hash.in_(hashes), UploadRecord.outcome.in_(outcomes))
                .order_by(UploadRecord.id.desc())
                .limit(50)
            )
            return list(rows)

    async def start(self, draft: UploadDraft, *, outcome: str = OUTCOME_SENDING, detail: str | None = None) -> int:
        async with self._sessions.begin() as session:
            record = UploadRecord(
                guild_id=draft.guild_id,
                user_id=draft.user_id,
                key_fingerprint=draft.key_fingerprint,
                info_hash=draft.torrent.info_hash,
                title=draft.title[:300],
                category_id=draft.category_id[:64],
                outcome=outcome,
                detail=detail,
                source_fixed=draft.source_fixed,
                created_at=utcnow(),
            )
            session.add(record)
            await session.flush()
            return record.id

    async def finish(self, record_id: int, outcome: str, *, link: str | None = None, detail: str | None = None) -> None:
        values: dict[str, object] = {"outcome": outcome, "finished_at": utcnow()}
        if link is not None:
            values["link"] = link
        if detail is not None:
            values["detail"] = detail[:1000]
        async with self._sessions.begin() as session:
            await session.execute(update(UploadRecord).where(UploadRecord.id == record_id).values(**values))

    async def recent(self, user_id: int, *, limit: int = RECENT_LIMIT) -> list[UploadSummary]:
        """A member's latest attempts, newest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(UploadRecord)
                .where(UploadRecord.user_id == user_id)
                .order_by(UploadRecord.created_at.desc(), UploadRecord.id.desc())
                .limit(limit)
            )
            return [
                UploadSummary(
                    id=row.id,
                    title=row.title,
                    info_hash=row.info_hash,
                    outcome=row.outcome,
                    link=row.link,
                    key_fingerprint=row.key_fingerprint,
                    source_fixed=row.source_fixed,
                    created_at=row.created_at,
                    finished_at=row.finished_at,
                )
                for row in rows
            ]
