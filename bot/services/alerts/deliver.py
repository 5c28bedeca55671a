"""Posting pending deliveries: oldest first, each release once per channel, never twice.

This module is the sender loop and its pacing; the pieces it runs are beside it: what it
hands to Discord in :mod:`~bot.services.alerts.posting`, the planning of messages in
:mod:`~bot.services.alerts.batches`, the SQL steps (pending rows, claims, marks) in
:mod:`~bot.services.alerts.claims`. All their names are importable from here too.

The sender talks to Discord through :class:`AlertPoster` (implemented with discord.py in
``bot/ui/alert_posts.py``; a recording fake in tests), so this module has no Discord
import and can be tested and benchmarked alone.

Crash safety, step by step:

1. **claim**: the batch's rows get a deterministic ``batch_nonce``, the claimer's slot
   (``claimed_by``) and the time (``claimed_at``), all of them or none (a savepoint per
   batch: if any row was claimed meanwhile, the batch is rolled back and skipped);
2. **send** with that nonce: discord.py sets ``enforce_nonce``, so Discord answers a
   repeat within a few minutes with the message it already created instead of posting
   again;
3. **mark** the rows delivered with the message id.

A crash between 1 and 3 leaves claimed pending rows: at the next start they are re-sent
as the same batch with the same nonce (the message appears once). A crash before 1
leaves unclaimed rows: nothing was sent. Rows are marked delivered only after Discord
accepted the message.

Several processes (see ``bot/cluster/ownership.py``): each sender loads only the rows of
the servers its slot owns, in SQL, before the ``LIMIT`` (one shard's backlog never hides
another's rows). A claimed row is re-sent only by the process owning its server: with an
agreed layout that is the slot that claimed it (held by one process at a time; after a
takeover, the new holder). A row claimed by another slot, or before claims had owners,
can only belong to a server this process owns after a layout change, which every process
agrees on before starting: it is taken over at once (``claimed_by`` rewritten, same
nonce), without a staleness delay, because the re-send carries the row's own nonce (a
previous claimer still finishing its request gets the same message back from Discord)
and because waiting would push the re-send past Discord's nonce memory (a few minutes),
turning a harmless repeat into a visible double.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cluster.ownership import Ownership
from bot.db.models import Delivery, DeliveryStatus
from bot.db.types import utcnow
from bot.observability.metrics import Metrics
from bot.services.alerts.batches import (
    EMBED_BUDGET,
    MAX_EMBEDS,
    PendingRow,
    PlannedBatch,
    batch_nonce,
    card_weight,
    plan_batches,
)
from bot.services.alerts.claims import (
    FLUSH_LIMIT,
    claim,
    mark_delivered_many,
    note_failure,
    pause_channel_alerts,
    pending_rows,
    take_over,
)
from bot.services.alerts.posting import (
    AdminNotice,
    AgeRestricted,
    AlertPoster,
    ChannelUnavailable,
    GapNotice,
    PostedRelease,
    PostError,
    PostRejected,
    RecipientUnavailable,
    ReleasePost,
    RetryLater,
    notice_nonce,
)
from bot.services.alerts.watching import pause_member_watches
from bot.states import NoticeKind, PauseReason, WatchPause

#: Re-exported: the pipeline's pieces were defined here before they had modules of their own.
__all__ = [
    "EMBED_BUDGET",
    "FLUSH_LIMIT",
    "MAX_EMBEDS",
    "MAX_REJECTIONS",
    "AdminNotice",
    "AgeRestricted",
    "AlertPoster",
    "ChannelUnavailable",
    "DeliverySender",
    "FlushReport",
    "GapNotice",
    "PendingRow",
    "PlannedBatch",
    "PostError",
    "PostPacer",
    "PostRejected",
    "PostedRelease",
    "RecipientUnavailable",
    "ReleasePost",
    "RetryLater",
    "batch_nonce",
    "card_weight",
    "claim",
    "mark_delivered_many",
    "note_failure",
    "notice_nonce",
    "pause_channel_alerts",
    "pending_rows",
    "plan_batches",
    "take_over",
]

log = logging.getLogger("vigie.alerts.deliver")

#: A message Discord keeps refusing (a 400: our bug, or a card it dislikes) is dropped
#: after this many tries, so that one bad release cannot block a channel forever.
MAX_REJECTIONS = 5
#: Seconds between two writes of "delivered" marks during a flush (a crash loses at most
#: that many seconds of marks; those posts are re-sent with their nonce: no repeat).
MARK_EVERY = 0.1


# -- pacing ---------------------------------------------------------------------------------------
class PostPacer:
    """At most ``rate`` posts per second from this process (a token bucket holding
    ``burst`` tokens, one by default: posts evenly spaced ``1/rate`` apart).

    ``DISCORD_REST_RATE`` is the whole bot's budget; each of ``CLUSTER_COUNT`` processes
    gets an equal share, so together they stay within it without talking to each other
    (Discord's global limit, 50 requests/s, counts every process of the bot). A burst
    of one is the conservative choice: over any second, a process sends at most its
    share, plus the one post that may sit exactly on the second's edge.
    """

    def __init__(self, rate: float, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._burst = max(1.0, burst)
        self._tokens = self._burst
        self._clock = clock
        self._last = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for this post's turn (first come, first served)."""
        async with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens < 1.0:
                await asyncio.sleep((1.0 - self._tokens) / self.rate)
                now = self._clock()
                self._tokens = min(self._burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
            self._tokens = max(0.0, self._tokens - 1.0)


# -- the sender ----------------------------------------------------------------------------------
@dataclass(slots=True)
class FlushReport:
    messages: int = 0
    deliveries: int = 0
    failed_channels: int = 0
    paused_alerts: int = 0
    dropped: int = 0
    #: True when the flush stopped at ``FLUSH_LIMIT`` rows: flush again at once.
    more: bool = False
    retry_after: float | None = None
    errors: list[str] = field(default_factory=list)


class DeliverySender:
    """Posts pending deliveries; one instance per process, started with the bot.

    ``ownership`` restricts it to the servers of this process's shards (two processes
    must never post the same row); its slot is written on the rows it claims. ``rate``
    (posts per second, this process's share of ``DISCORD_REST_RATE``) paces its posts;
    ``None`` leaves pacing to discord.py's rate limits. ``concurrency`` channels are
    served at once; within a channel, messages go out one after the other, oldest first.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        poster: AlertPoster,
        *,
        ownership: Ownership = Ownership(),
        rate: float | None = None,
        concurrency: int = 8,
        idle_seconds: float = 60.0,
        retry_seconds: float = 5.0,
        flush_limit: int = FLUSH_LIMIT,
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._poster = poster
        self._metrics = metrics or Metrics()
        #: Set before :meth:`run` starts (the cog may learn its slot after building it).
        self.ownership = ownership
        self.pacer = PostPacer(rate) if rate is not None else None
        self._flush_limit = max(1, flush_limit)
        self._concurrency = max(1, concurrency)
        self._idle = idle_seconds
        self._retry = retry_seconds
        self._now = clock
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._sent: list[tuple[tuple[int, ...], int]] = []

    def wake(self) -> None:
        """New pending deliveries were recorded: flush now rather than at the next tick."""
        self._wake.set()

    async def run(self) -> None:
        """Flush at start (pending deliveries of a previous run go first), then whenever
        woken, and every ``idle_seconds`` as a safety net; failures are retried."""
        while True:
            self._wake.clear()
            delay = self._idle
            try:
                report = await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alert delivery flush failed")
                delay = self._retry
            else:
                if report.more:
                    continue
                if report.retry_after is not None or report.failed_channels:
                    delay = min(self._idle, max(self._retry, report.retry_after or 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def flush(self) -> FlushReport:
        """Send what is pending now; returns what happened.

        Every new batch is claimed in one transaction before anything is sent, and rows
        are marked delivered a few messages at a time (every ``MARK_EVERY`` seconds and
        at the end): a crash in between leaves claimed rows, re-sent with their nonce.
        """
        async with self._lock:
            async with self._sessions() as session:
                rows, more = await pending_rows(session, ownership=self.ownership, limit=self._flush_limit)
            report = FlushReport(more=False)
            if not rows:
                return report
            batches = await self._claim_all(plan_batches(rows))
            by_channel: defaultdict[tuple[int, int | None], list[PlannedBatch]] = defaultdict(list)
            for batch in batches:
                by_channel[batch.destination].append(batch)
            semaphore = asyncio.Semaphore(self._concurrency)
            self._sent = []

            async def serve(channel_batches: list[PlannedBatch]) -> None:
                async with semaphore:
                    for batch in channel_batches:
                        if not await self._send(batch, report):
                            report.failed_channels += 1
                            return

            done = asyncio.Event()
            marker = asyncio.ensure_future(self._mark_periodically(done))
            try:
                await asyncio.gather(*(serve(b) for b in by_channel.values()))
            finally:
                # Not cancelled: a write interrupted half-way would leave its connection
                # holding SQLite's write lock. It stops between two writes.
                done.set()
                await asyncio.gather(marker, return_exceptions=True)
                await self._mark_sent()
            report.more = more and report.failed_channels == 0
            return report

    async def _claim_all(self, batches: list[PlannedBatch]) -> list[PlannedBatch]:
        """Give each new batch its nonce and this slot, in one transaction, each batch
        whole or not at all (a savepoint each). A batch whose rows changed meanwhile (an
        alert removed, another sender) waits for the next flush. A claimed batch of one of
        this slot's servers, claimed by another slot (a layout change) or before claims
        had owners, is taken over with its own nonce (see the module's docstring)."""
        slot = self.ownership.slot
        fresh = [b for b in batches if b.nonce is None]
        foreign = [b for b in batches if b.nonce is not None and any(r.claimed_by != slot for r in b.rows)]
        if not fresh and not foreign:
            return batches
        claimed: dict[int, str] = {}
        taken_over: set[int] = set()
        now = self._now()
        async with self._sessions.begin() as session:
            for batch in foreign:
                if batch.nonce is None:
                    raise RuntimeError("batch.nonce is set at this point")
                if await take_over(session, batch.ids, batch.nonce, slot=slot, now=now):
                    taken_over.add(id(batch))
                else:
                    log.info("channel %s: claimed posts changed meanwhile; left for the next flush", batch.channel_id)
            for batch in fresh:
                nonce = batch_nonce(batch.ids)
                if await claim(session, batch.ids, nonce, slot=slot, now=now):
                    claimed[id(batch)] = nonce
        out = []
        for batch in batches:
            if batch.nonce is not None:
                if id(batch) in taken_over or all(r.claimed_by == slot for r in batch.rows):
                    out.append(batch)
            elif id(batch) in claimed:
                out.append(batch.again(nonce=claimed[id(batch)]))
        return out

    async def _mark_periodically(self, done: asyncio.Event) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=MARK_EVERY)
            try:
                await self._mark_sent()
            except Exception:
                log.warning("could not mark posts delivered yet; retried", exc_info=True)

    async def _mark_sent(self) -> None:
        sent, self._sent = self._sent, []
        if not sent:
            return
        try:
            async with self._sessions.begin() as session:
                await mark_delivered_many(session, sent, self._now())
        except BaseException:
            # Still claimed: marked by the next write, or re-sent with their nonce.
            self._sent = sent + self._sent
            raise

    async def _send(self, batch: PlannedBatch, report: FlushReport, *, resend: bool = False) -> bool:
        """One message; False stops this channel for this flush. ``resend``: part of a
        batch tried earlier in this flush (see :attr:`ReleasePost.resend`)."""
        ids = batch.ids
        nonce = batch.nonce
        if nonce is None:  # a batch split after a refusal: claimed on its own
            nonce = batch_nonce(ids)
            async with self._sessions.begin() as session:
                if not await claim(session, ids, nonce, slot=self.ownership.slot, now=self._now()):
                    return False
        post = ReleasePost(
            batch.guild_id,
            batch.channel_id,
            batch.locale,
            nonce,
            batch.releases(),
            batch.role_ids(),
            resend=resend or batch.claimed_before,
            not_before=batch.recorded_since(),
            user_id=batch.user_id,
        )
        if self.pacer is not None:
            await self.pacer.acquire()
        try:
            try:
                message_id = await self._poster.send_releases(post)
            except PostError as exc:
                if exc.posted:
                    # Part of it is on Discord (forum posts): those rows are delivered; the
                    # error applies to the rest, which keeps the batch's nonce.
                    batch = self._record_posted(batch, exc.posted, report)
                    ids = batch.ids
                    if not ids:
                        return True
                raise
        except ChannelUnavailable as exc:
            self._metrics.post_failed("channel_unavailable")
            await self._channel_unavailable(batch, exc, report)
            return False
        except RecipientUnavailable as exc:
            self._metrics.post_failed("recipient_unavailable")
            await self._recipient_unavailable(batch, exc, report)
            return False
        except RetryLater as exc:
            self._metrics.post_failed("retry_later")
            log.info("channel %s: post failed (%s), retried later with the same nonce", batch.channel_id, exc)
            async with self._sessions.begin() as session:
                await note_failure(session, ids, f"retry: {exc}", release_claim=False)
            report.retry_after = max(report.retry_after or 0.0, exc.retry_after or 0.0)
            report.errors.append(str(exc))
            return False
        except AgeRestricted as exc:
            return await self._withhold(batch, exc, report)
        except PostRejected as exc:
            self._metrics.post_failed("rejected")
            return await self._rejected(batch, str(exc), report)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug building the message: same treatment as a 400
            self._metrics.post_failed("rejected")
            log.exception("channel %s: could not build or send alert message", batch.channel_id)
            return await self._rejected(batch, f"{type(exc).__name__}: {exc}", report)
        self._sent.append((ids, message_id))
        self._metrics.posted(len(ids))
        report.messages += 1
        report.deliveries += len(ids)
        return True

    async def _channel_unavailable(self, batch: PlannedBatch, exc: ChannelUnavailable, report: FlushReport) -> None:
        reason = PauseReason.CHANNEL_MISSING if exc.missing else PauseReason.CHANNEL_FORBIDDEN
        alert_ids = sorted({r.alert_id for r in batch.rows})
        async with self._sessions.begin() as session:
            await note_failure(session, batch.ids, f"{reason}: {exc}", release_claim=True)
            names = await pause_channel_alerts(session, batch.guild_id, batch.channel_id, alert_ids, reason)
        log.warning("guild %s channel %s: %s; paused alerts %s", batch.guild_id, batch.channel_id, reason, names)
        report.paused_alerts += len(names)
        report.errors.append(reason)
        if names:
            try:
                if self.pacer is not None:
                    await self.pacer.acquire()
                await self._poster.notify_admins(
                    AdminNotice(
                        batch.guild_id,
                        batch.log_channel_id,
                        batch.locale,
                        NoticeKind(reason),
                        tuple(names),
                        batch.channel_id,
                        self._now(),
                    )
                )
            except Exception:
                log.warning(
                    "guild %s: could not tell the admins that alerts were paused", batch.guild_id, exc_info=True
                )

    def _record_posted(
        self, batch: PlannedBatch, posted: tuple[tuple[str, int], ...], report: FlushReport
    ) -> PlannedBatch:
        """Rows of the releases in ``posted`` go to the next "delivered" write; returns the
        batch of the other rows."""
        message_of = dict(posted)
        for info_hash, message_id in message_of.items():
            ids = tuple(r.id for r in batch.rows if r.info_hash == info_hash)
            if ids:
                self._sent.append((ids, message_id))
                self._metrics.posted(len(ids))
                report.messages += 1
                report.deliveries += len(ids)
        rest = tuple(r for r in batch.rows if r.info_hash not in message_of)
        return batch.again(rows=rest, nonce=batch.nonce)

    async def _withhold(self, batch: PlannedBatch, exc: AgeRestricted, report: FlushReport) -> bool:
        """Age-restricted releases for a channel that is not: nothing was posted. Those rows
        are dropped (they will never go to that channel), the others sent again alone."""
        withheld = set(exc.info_hashes)
        dropped = tuple(r.id for r in batch.rows if r.info_hash in withheld)
        kept = tuple(r for r in batch.rows if r.info_hash not in withheld)
        if not dropped:  # the poster named nothing of this batch: a bug, treated as a refusal
            return await self._rejected(batch, str(exc), report)
        async with self._sessions.begin() as session:
            await note_failure(session, batch.ids, f"age_restricted: {exc}", release_claim=True)
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(dropped), Delivery.status == DeliveryStatus.PENDING)
                .values(status=DeliveryStatus.DROPPED)
                .execution_options(synchronize_session=False)
            )
        log.warning(
            "guild %s channel %s: %d age-restricted deliveries not posted (the channel is not age-restricted)",
            batch.guild_id,
            batch.channel_id,
            len(dropped),
        )
        self._metrics.posts_gave_up(len(dropped))
        report.dropped += len(dropped)
        if not kept:
            return True
        rest = batch.again(rows=kept)
        return await self._send(rest, report, resend=batch.claimed_before)

    async def _recipient_unavailable(self, batch: PlannedBatch, exc: RecipientUnavailable, report: FlushReport) -> None:
        """A DM that cannot reach its member: nothing was sent, so the claim is released.
        DMs closed pause all the member's watches (no server can reach them); a member
        gone from the server pauses their watches there. They are told at their next
        command; their recorded DMs wait for the watches' resume."""
        if batch.user_id is None:
            raise RuntimeError("a recipient error answers a DM")
        reason = WatchPause.MEMBER_LEFT if exc.left else WatchPause.DMS_CLOSED
        async with self._sessions.begin() as session:
            await note_failure(session, batch.ids, f"{reason}: {exc}", release_claim=True)
            paused = await pause_member_watches(
                session,
                batch.user_id,
                reason,
                guild_id=batch.guild_id if exc.left else None,
                unclaim_in=batch.guild_id,
            )
        log.info("member %s: %s; %d watches paused", batch.user_id, reason, paused)
        report.paused_alerts += paused
        report.errors.append(reason)

    async def _rejected(self, batch: PlannedBatch, error: str, report: FlushReport) -> bool:
        """Discord refused the message: nothing was posted, so the claim is released. A
        message of several releases is retried one release per message, so that one card
        Discord dislikes cannot hold back the others; a lone release refused
        ``MAX_REJECTIONS`` times is dropped."""
        log.error("channel %s: Discord refused an alert message (%s)", batch.channel_id, error)
        report.errors.append(error)
        async with self._sessions.begin() as session:
            await note_failure(session, batch.ids, f"rejected: {error}", release_claim=True)
        groups: OrderedDict[str, list[PendingRow]] = OrderedDict()
        for row in batch.rows:
            groups.setdefault(row.info_hash, []).append(row)
        if len(groups) > 1:
            ok = True
            for rows in groups.values():
                # Part of a post that was tried: a forum post of it may exist (see ``resend``).
                ok = await self._send(batch.again(rows=tuple(rows)), report, resend=True) and ok
            return ok
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Delivery)
                .where(
                    Delivery.id.in_(batch.ids),
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.attempts >= MAX_REJECTIONS,
                )
                .values(status=DeliveryStatus.DROPPED)
                .execution_options(synchronize_session=False)
            )
        dropped = cast(CursorResult[Any], result).rowcount
        if dropped:
            self._metrics.posts_gave_up(dropped)
            report.dropped += dropped
            log.error("channel %s: %d deliveries dropped after %d refusals", batch.channel_id, dropped, MAX_REJECTIONS)
            return True
        return False
