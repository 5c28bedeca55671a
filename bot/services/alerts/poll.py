"""One server's poll: fetch → match → record, each step a function of its own module.
The scheduler calls :meth:`GuildPoller.poll` for each server it is due to poll; the
sender posts what was recorded.

Which releases are new:

- **newest page**: a release is new to a server the first time its poll sees it; new
  releases are matched against every running alert of the server and recorded as seen
  in the same transaction as the deliveries they caused;
- **what existed before an alert** is in its baseline (recorded by ``/alert add``): a
  release already recorded for an alert, whatever its status, is never recorded again;
- **gap** (every release of the page new): each alert's targeted query; what is unseen
  and newer than the newest release the server had seen is new;
- **TMDB alerts**: results do not carry a TMDB id, so La Cale is asked ``tmdbId=…``; not
  every cycle, only when the page brought a release the alert could match (its other
  criteria pass), during the two next cycles (the server caches answers ~30 s, so the
  first answer may predate the release), on a gap, and on the first poll after a start
  (what a previous process may have left unconfirmed). Any result passing the filters,
  published after the alert was made and not recorded yet for it, is posted: the unique
  (alert, info hash) key makes asking again harmless.

What is kept in memory only saves work and requests, never decides alone: each server's
last page (a page of known releases is a quiet cycle, decided without the database; a
page that looks all new is checked against the database before it is called a gap) and
its running alerts (reloaded when their version, read with the list of due servers,
changes). Losing it (a restart) costs one database read per server.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cluster.ownership import Ownership
from bot.criteria import read_names
from bot.db.types import utcnow
from bot.lacale.errors import (
    AuthError,
    BadRequest,
    LaCaleError,
    RateLimited,
    Unavailable,
)
from bot.lacale.models import Meta, Torrent
from bot.services.alerts import queries
from bot.services.alerts.deliver import (
    AdminNotice,
    AlertPoster,
    GapNotice,
)
from bot.services.alerts.destinations import (
    flag_age_restricted,
    may_dm_age_restricted,
    release_is_age_restricted,
    restricted_labels_of,
)
from bot.services.alerts.fetch import CycleFetcher, SiteMeta, TargetedQuery
from bot.services.alerts.gaps import (
    is_new_since,
    missed_range,
    newest_page_overflowed,
    page_unfilled,
)
from bot.services.alerts.matching import (
    AlertFilter,
    ReleaseView,
    dedupe,
    log_drop,
    match,
    match_all,
    oldest_first,
)
from bot.services.alerts.queries import AlertRow, WatchRow
from bot.services.alerts.record import NewDelivery, RecordEntry, Recorder
from bot.services.alerts.watching import pause_member_watches
from bot.states import NoticeKind, PollOutcome, WatchPause

log = logging.getLogger("vigie.alerts.poll")

#: A TMDB result published this long before its alert existed still counts as new (clock
#: skew between La Cale and us); the baseline recorded at creation excludes older ones.
TMDB_CLOCK_MARGIN = timedelta(minutes=10)
#: Cycles a TMDB query is repeated after a candidate appeared (server cache ~30 s).
TMDB_RECHECKS = 2


def _nothing() -> None:
    return None


async def _read_names(filters: Sequence[AlertFilter], views: Sequence[ReleaseView]) -> None:
    """Read the new releases' names (once per info hash for the whole process) in a worker
    thread when some alert's criteria read them (resolution, language…): the parser takes
    milliseconds a name, which the event loop must not wait for."""
    if views and any(f.criteria.reads_name for f in filters):
        await asyncio.to_thread(read_names, views)


@dataclass(frozen=True, slots=True)
class GuildJob:
    guild_id: int
    api_key: str
    locale: str
    log_channel_id: int | None
    #: From ``DueGuild.alerts_version``; ``None`` forces a read of the alerts.
    alerts_version: tuple[object, ...] | None = None
    #: A member's personal poll (``guild_id`` is then :func:`queries.personal_scope`): no
    #: alerts, only the member's personal watches, on their own key.
    personal_user: int | None = None

    @property
    def owner_id(self) -> int:
        """The id whose shard owns this poll: the server's, or the member's."""
        return self.personal_user if self.personal_user is not None else self.guild_id


@dataclass(slots=True)
class PollResult:
    guild_id: int
    outcome: PollOutcome
    new_deliveries: int = 0
    gap_notices: list[GapNotice] = field(default_factory=list)


@dataclass(slots=True)
class _GuildMemory:
    """What this process remembers of a server between cycles."""

    page: frozenset[str] | None = None  # the last newest page, all recorded as seen
    alerts_version: tuple[object, ...] | None = None
    alerts: list[AlertRow] | None = None
    filters: list[AlertFilter] | None = None  # built from ``alerts`` with ``filters_meta``
    filters_meta: Meta | None = None
    #: Members' running watches matched on this poll, and their filters (like ``alerts``).
    watches: list[WatchRow] | None = None
    watch_filters: list[AlertFilter] | None = None
    watch_filters_meta: Meta | None = None
    #: TMDB alert → re-checks left
    tmdb_due: dict[int, int] = field(default_factory=dict)
    started: bool = False


class GuildPoller:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        site_meta: SiteMeta,
        poster: AlertPoster,
        *,
        mark_key_refused: Callable[[int, str | None], object],
        recorder: Recorder | None = None,
        retention_days: int = 90,
        ownership: Ownership = Ownership(),
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        #: The scheduler only hands this process's servers; this is the last guard.
        self.ownership = ownership
        self._meta = site_meta
        self._poster = poster
        self._mark_key_refused = mark_key_refused
        self.recorder = recorder or Recorder(sessions)
        self._retention = timedelta(days=retention_days)
        self._now = now
        self._memory: dict[int, _GuildMemory] = {}

    async def prepare(self, jobs: Sequence[GuildJob]) -> None:
        """Before a cycle: load in bulk what this process does not remember yet (after a
        start, every server's alerts and recently seen releases), instead of one read per
        server during the cycle."""
        stale = [
            j
            for j in jobs
            if (m := self._memory.get(j.guild_id)) is None or m.alerts is None or m.alerts_version != j.alerts_version
        ]
        cold = [j.guild_id for j in jobs if (m := self._memory.get(j.guild_id)) is None or m.page is None]
        if not stale and not cold:
            return
        servers = [j.guild_id for j in stale if j.personal_user is None]
        async with self._sessions() as session:
            alerts = await queries.running_alerts_of(session, servers) if servers else {}
            watches = await queries.running_watches_of(session, servers) if servers else {}
            for job in stale:
                if job.personal_user is not None:
                    watches[job.guild_id] = await queries.personal_watches(session, job.personal_user)
            seen = await queries.recent_seen_of(session, cold) if cold else {}
        for job in stale:
            memory = self._memory.setdefault(job.guild_id, _GuildMemory())
            memory.alerts, memory.alerts_version, memory.filters = (
                alerts.get(job.guild_id, []),
                job.alerts_version,
                None,
            )
            memory.watches, memory.watch_filters = watches.get(job.guild_id, []), None
        for guild_id, hashes in seen.items():
            if hashes:
                self._memory.setdefault(guild_id, _GuildMemory()).page = frozenset(hashes)

    async def poll(
        self, job: GuildJob, fetcher: CycleFetcher, *, fetched: Callable[[], None] | None = None
    ) -> PollResult:
        """Never raises for La Cale's failures: they become the poll's outcome (and, for
        a refused key, paused alerts). Nothing is recorded as seen when a request failed,
        so the next cycle sees the same releases again.

        ``fetched`` is called once La Cale will not be asked anything more by this poll
        (the scheduler then gives its concurrency slot to the next server while this one
        waits for its batch to be written).

        Cancelled before ``fetched`` (the scheduler abandons a poll past its deadline), a
        poll has recorded nothing: no release is marked seen, so the next poll finds the
        same releases new again (nothing lost), and what it may already have matched was
        not recorded (nothing doubled). The TMDB re-checks it may have used up are given
        back. The scheduler never cancels a poll after ``fetched`` but to stop the bot;
        even then its batch is either written whole (seen releases and deliveries in one
        transaction) or not at all, and this process's memory of the page is left as it
        was: the next poll may match those releases again, and the unique (alert, release)
        key makes recording them a second time a no-op."""
        if not self.ownership.owns(job.owner_id):
            log.warning("guild %s: not on this process's shards; not polled", job.guild_id)
            return PollResult(job.guild_id, PollOutcome.NOT_OWNED)
        memory = self._memory.get(job.guild_id)
        rechecks = dict(memory.tmdb_due) if memory is not None and memory.tmdb_due else None
        fetched = fetched or _nothing
        try:
            result = await self._poll(job, fetcher, fetched)
        except asyncio.CancelledError:
            if rechecks is not None and (memory := self._memory.get(job.guild_id)) is not None:
                for alert_id, left in rechecks.items():
                    memory.tmdb_due[alert_id] = max(memory.tmdb_due.get(alert_id, 0), left)
            raise
        except AuthError as exc:
            fetched()  # La Cale is done with: pausing and telling the admins is not cut short
            await self._key_refused(job, exc)
            return PollResult(job.guild_id, PollOutcome.KEY_REFUSED)
        except RateLimited as exc:
            log.info("guild %s: La Cale asks this key to wait %.0f s", job.guild_id, exc.retry_after)
            return self._failed(job, PollOutcome.RATE_LIMITED)
        except Unavailable as exc:
            log.info("guild %s: La Cale unavailable (%s), retried next cycle", job.guild_id, type(exc).__name__)
            return self._failed(job, PollOutcome.UNAVAILABLE)
        except LaCaleError as exc:
            log.warning("guild %s: poll failed: %s: %s", job.guild_id, type(exc).__name__, exc.message)
            return self._failed(job, PollOutcome.ERROR)
        for notice in result.gap_notices:
            try:
                await self._poster.send_gap_notice(notice)
            except Exception:
                log.warning(
                    "guild %s: could not post a gap notice in %s", job.guild_id, notice.channel_id, exc_info=True
                )
        return result

    # -- outcomes without data ------------------------------------------------------------
    def abandoned(self, job: GuildJob, waited: float) -> PollResult:
        """The scheduler cancelled this server's poll: La Cale gave it no answer for
        ``waited`` seconds. Retried at the next cycle."""
        log.info(
            "guild %s: poll abandoned after %.1f s without an answer from La Cale; retried next cycle",
            job.guild_id,
            waited,
        )
        return self._failed(job, PollOutcome.TIMEOUT)

    def _failed(self, job: GuildJob, outcome: PollOutcome) -> PollResult:
        self.recorder.note_outcome(job.guild_id, self._now(), outcome)
        return PollResult(job.guild_id, outcome)

    async def _key_refused(self, job: GuildJob, exc: AuthError) -> None:
        if job.personal_user is not None:
            # A member's key: their personal watches pause (told at their next command);
            # the server and its admins have nothing to do with it.
            log.warning("member %s: La Cale refused their personal key; their watches pause", job.personal_user)
            async with self._sessions.begin() as session:
                await pause_member_watches(
                    session, job.personal_user, WatchPause.PERSONAL_KEY_REFUSED, personal_only=True
                )
            self._memory.pop(job.guild_id, None)
            return
        async with self._sessions() as session:
            names = [a.name for a in await queries.running_alerts(session, job.guild_id)]
        log.warning(
            "guild %s: La Cale refused the server's key (%s); %d alerts paused",
            job.guild_id,
            type(exc).__name__,
            len(names),
        )
        outcome = self._mark_key_refused(job.guild_id, type(exc).__name__)
        if asyncio.iscoroutine(outcome):
            await outcome
        self.recorder.note_outcome(job.guild_id, self._now(), PollOutcome.KEY_REFUSED)
        await self.recorder.flush()
        self._memory.pop(job.guild_id, None)
        try:
            await self._poster.notify_admins(
                AdminNotice(
                    job.guild_id, job.log_channel_id, job.locale, NoticeKind.KEY_REFUSED, tuple(names), at=self._now()
                )
            )
        except Exception:
            log.warning("guild %s: could not tell the admins the key was refused", job.guild_id, exc_info=True)

    # -- the poll -------------------------------------------------------------------------
    async def _poll(self, job: GuildJob, fetcher: CycleFetcher, fetched: Callable[[], None]) -> PollResult:
        guild_id = job.guild_id
        memory = self._memory.setdefault(guild_id, _GuildMemory())
        now = self._now()
        try:
            page = await fetcher.newest(job.api_key)
            newest_ok = True
        except BadRequest as exc:
            # Both an empty q and q=* refused: every alert falls back on its own query.
            log.info("guild %s: newest releases refused (%s); targeted queries instead", guild_id, exc.message)
            page, newest_ok = [], False
        hashes = [t.info_hash for t in page]
        known = memory.page
        if newest_ok and known is not None and memory.started and not memory.tmdb_due and known.issuperset(hashes):
            # The common case: nothing new, no TMDB re-check due. No database, no matching.
            memory.page = frozenset(hashes)
            self.recorder.note_outcome(guild_id, now, PollOutcome.OK)
            return PollResult(guild_id, PollOutcome.OK)

        rows = await self._alerts(job, memory)
        watches = memory.watches or []
        seen: set[str] | frozenset[str]
        if known is not None and newest_ok and not known.isdisjoint(hashes):
            seen = known.intersection(hashes)  # the page overlaps the last one: no gap
            history = True
        else:
            async with self._sessions() as session:
                seen = await queries.seen_among(session, guild_id, hashes)
                history = bool(seen) or await queries.has_history(session, guild_id)
        if not rows and not watches:
            self.recorder.note_outcome(guild_id, now, PollOutcome.OK)
            return PollResult(guild_id, PollOutcome.OK)
        cutoff = now - self._retention
        if not newest_ok or newest_page_overflowed(page, seen, has_history=history):
            async with self._sessions() as session:
                since = await queries.watermark(session, guild_id)
            if since is None:
                # Never seen anything here: the gap starts when the alerts did (what
                # existed then is in their baselines).
                since = min([r.created_at for r in rows] + [w.created_at for w in watches]) - TMDB_CLOCK_MARGIN
            result, entry = await self._gap(job, memory, fetcher, rows, page, newest_ok, since, now, cutoff)
        else:
            result, entry = await self._normal(job, memory, fetcher, rows, page, set(seen), now, cutoff)
        if entry.delivery_rows:
            # Decided now, with the tree of now: the sender has none (``Delivery.age_restricted``).
            # No tree at all (La Cale's ``/meta`` never answered): the poll fails and is
            # retried, rather than risk an adult release in a channel that is not.
            flag_age_restricted(entry.delivery_rows, await self._meta.get(job.api_key))
        del page  # nothing parsed stays alive while the batch waits
        fetched()
        await self.recorder.commit(entry)
        # Committed: every release of this page is now recorded as seen.
        memory.started = True
        if newest_ok:
            memory.page = frozenset(hashes)
        return result

    async def _alerts(self, job: GuildJob, memory: _GuildMemory) -> list[AlertRow]:
        """The running alerts (and, in ``memory.watches``, the running watches) of the
        poll, read again when their version changed."""
        if (
            memory.alerts is None
            or memory.watches is None
            or job.alerts_version is None
            or memory.alerts_version != job.alerts_version
        ):
            async with self._sessions() as session:
                if job.personal_user is not None:
                    memory.alerts = []
                    memory.watches = await queries.personal_watches(session, job.personal_user)
                else:
                    memory.alerts = await queries.running_alerts(session, job.guild_id)
                    memory.watches = await queries.running_watches(session, job.guild_id)
            memory.alerts_version = job.alerts_version
            memory.filters = memory.watch_filters = None
        return memory.alerts

    async def _dms(self, job: GuildJob, memory: _GuildMemory, views: Sequence[ReleaseView]) -> list[NewDelivery]:
        """Members' watches on the releases this poll found new: one DM per member and
        release, whichever of their watches match it (the first names the row). A watch
        sends only what was published after it was made (no backlog)."""
        watches = memory.watches or []
        if not watches or not views:
            return []
        meta = await self._meta.get(job.api_key) if any(w.criteria.needs_meta for w in watches) else None
        if memory.watch_filters is None or (meta is not None and meta is not memory.watch_filters_meta):
            memory.watch_filters = [AlertFilter.from_alert(w, meta) for w in watches]
            memory.watch_filters_meta = meta
        await _read_names(memory.watch_filters, views)
        by_id = {w.id: w for w in watches}
        matches = list(match_all(memory.watch_filters, views, guild_id=job.guild_id))
        if not matches:
            return []
        # Decided with the tree of now, like channel posts; no tree: the poll is retried.
        tree = meta if meta is not None else await self._meta.get(job.api_key)
        restricted = restricted_labels_of(tree)
        out: list[NewDelivery] = []
        sent: set[tuple[int, str]] = set()
        for found in matches:
            watch = by_id[found.alert.alert_id]
            torrent = found.release.torrent
            if torrent.pub_date <= watch.created_at - TMDB_CLOCK_MARGIN:
                continue
            if (watch.user_id, torrent.info_hash) in sent:
                continue
            if release_is_age_restricted(restricted, torrent.category) and not may_dm_age_restricted(
                tree, watch.criteria.categories
            ):
                continue  # another of the member's watches may still ask for it by name
            sent.add((watch.user_id, torrent.info_hash))
            out.append(NewDelivery.dm(watch.id, watch.user_id, watch.guild_id, torrent))
        return out

    async def _filters(
        self, job: GuildJob, memory: _GuildMemory, rows: Sequence[AlertRow]
    ) -> tuple[list[AlertFilter], Meta | None]:
        """Filters of ``rows``; those of all the server's alerts are kept until the alerts
        or the category tree change."""
        meta = await self._meta.get(job.api_key) if any(r.criteria.needs_meta for r in rows) else None
        if rows is not memory.alerts:
            return [AlertFilter.from_alert(r, meta) for r in rows], meta
        if memory.filters is None or (meta is not None and meta is not memory.filters_meta):
            memory.filters = [AlertFilter.from_alert(r, meta) for r in rows]
            memory.filters_meta = meta
        return memory.filters, meta

    async def _normal(
        self,
        job: GuildJob,
        memory: _GuildMemory,
        fetcher: CycleFetcher,
        rows: list[AlertRow],
        page: list[Torrent],
        seen: set[str],
        now: datetime,
        cutoff: datetime,
    ) -> tuple[PollResult, RecordEntry]:
        unseen = [t for t in page if t.info_hash not in seen]
        fresh = self._drop_expired(job.guild_id, unseen, cutoff)
        deliveries: list[NewDelivery] = []
        channels = {r.id: r.channel_id for r in rows}
        if fresh:
            filters, _ = await self._filters(job, memory, rows)
            views = [ReleaseView.of(t) for t in oldest_first(fresh)]
            await _read_names(filters, views)
            matches = match_all([f for f in filters if not f.tmdb_id], views, guild_id=job.guild_id)
            deliveries = [NewDelivery(m.alert.alert_id, channels[m.alert.alert_id], m.release.torrent) for m in matches]
            deliveries += await self._dms(job, memory, views)
        else:
            # Only TMDB alerts may have something to do (a re-check, a first poll).
            tmdb_rows = [r for r in rows if r.criteria.tmdb_id]
            filters, _ = await self._filters(job, memory, tmdb_rows) if tmdb_rows else ([], None)
            views = []
        deliveries += await self._tmdb(
            job, memory, fetcher, rows, filters, views, force=not memory.started, cutoff=cutoff
        )
        deliveries.sort(key=lambda d: d.torrent.pub_date)
        entry = RecordEntry.of(job.guild_id, seen=unseen, deliveries=deliveries, now=now, outcome=PollOutcome.OK)
        return PollResult(job.guild_id, PollOutcome.OK, new_deliveries=len(deliveries)), entry

    async def _gap(
        self,
        job: GuildJob,
        memory: _GuildMemory,
        fetcher: CycleFetcher,
        rows: list[AlertRow],
        page: list[Torrent],
        newest_ok: bool,
        since: datetime,
        now: datetime,
        cutoff: datetime,
    ) -> tuple[PollResult, RecordEntry]:
        guild_id = job.guild_id
        filters, meta = await self._filters(job, memory, rows)
        channels = {r.id: r.channel_id for r in rows}
        plain = [f for f in filters if not f.tmdb_id]
        by_query: dict[TargetedQuery, list[AlertFilter]] = defaultdict(list)
        for f in plain:
            by_query[TargetedQuery.for_alert(f, meta)].append(f)
        targeted = [q for q in by_query if not q.is_newest]
        answers: dict[TargetedQuery, list[Torrent]] = dict(
            zip(targeted, await asyncio.gather(*(fetcher.search(job.api_key, q) for q in targeted)), strict=True)
        )
        if newest_ok and TargetedQuery() in by_query:
            answers[TargetedQuery()] = page
        pool = dedupe([*page, *(t for result in answers.values() for t in result)])
        async with self._sessions() as session:
            seen = await queries.seen_among(session, guild_id, (t.info_hash for t in pool))
        on_page = {t.info_hash for t in page}
        new: list[Torrent] = []
        for torrent in pool:
            if torrent.info_hash in seen:
                continue
            if torrent.info_hash not in on_page and not is_new_since(torrent, seen, since):
                log_drop(guild_id, None, torrent, "older than the last release seen (not part of the gap)")
                continue
            new.append(torrent)
        fresh = self._drop_expired(guild_id, new, cutoff)
        views = [ReleaseView.of(t) for t in oldest_first(fresh)]
        await _read_names(filters, views)
        matches = match_all(plain, views, guild_id=guild_id)
        deliveries = [NewDelivery(m.alert.alert_id, channels[m.alert.alert_id], m.release.torrent) for m in matches]
        deliveries += await self._dms(job, memory, views)
        deliveries += await self._tmdb(job, memory, fetcher, rows, filters, views, force=True, cutoff=cutoff)
        deliveries.sort(key=lambda d: d.torrent.pub_date)
        notices = self._gap_notices(job, channels, by_query, answers, seen, since, newest_ok)
        outcome = PollOutcome.GAP_UNFILLED if notices else PollOutcome.GAP
        log.info(
            "guild %s: gap (%d new on the newest page); %d targeted queries, %d new releases, %d deliveries, %d channels warned",
            guild_id,
            len(page),
            len(targeted),
            len(new),
            len(deliveries),
            len(notices),
        )
        entry = RecordEntry.of(guild_id, seen=[*page, *new], deliveries=deliveries, now=now, outcome=outcome)
        return PollResult(guild_id, outcome, new_deliveries=len(deliveries), gap_notices=notices), entry

    @staticmethod
    def _gap_notices(
        job: GuildJob,
        channels: dict[int, int],
        by_query: dict[TargetedQuery, list[AlertFilter]],
        answers: dict[TargetedQuery, list[Torrent]],
        seen: set[str],
        since: datetime,
        newest_ok: bool,
    ) -> list[GapNotice]:
        """One notice per channel naming its alerts whose own page was entirely new."""
        per_channel: dict[int, tuple[list[str], datetime]] = {}
        for query, alerts in by_query.items():
            answer = answers.get(query)
            if answer is None:
                if query.is_newest and not newest_ok:
                    for f in alerts:
                        log.warning(
                            "guild %s alert %s: cannot be checked while La Cale refuses searches without terms",
                            job.guild_id,
                            f.alert_id,
                        )
                continue
            if not page_unfilled(answer, seen, since):
                continue
            missed = missed_range(answer, since)
            for f in alerts:
                channel = channels[f.alert_id]
                names, until = per_channel.get(channel, ([], missed.until))
                names.append(f.name)
                per_channel[channel] = (names, max(until, missed.until))
        return [
            GapNotice(job.guild_id, channel, job.locale, tuple(names), since, until)
            for channel, (names, until) in per_channel.items()
        ]

    async def _tmdb(
        self,
        job: GuildJob,
        memory: _GuildMemory,
        fetcher: CycleFetcher,
        rows: Sequence[AlertRow],
        filters: Sequence[AlertFilter],
        views: Sequence[ReleaseView],
        *,
        force: bool,
        cutoff: datetime,
    ) -> list[NewDelivery]:
        """TMDB alerts: ask ``tmdbId`` when due (see the module docstring) and record each
        passing result not yet recorded for the alert."""
        tmdb_filters = [f for f in filters if f.tmdb_id]
        if not tmdb_filters:
            memory.tmdb_due.clear()
            return []
        view_hashes = frozenset(v.torrent.info_hash for v in views)
        due: list[AlertFilter] = []
        rechecks = memory.tmdb_due
        running = {f.alert_id for f in tmdb_filters}
        for alert_id in [a for a in rechecks if a not in running]:
            del rechecks[alert_id]
        for f in tmdb_filters:
            # Passing every criterion but the TMDB id makes a release a candidate.
            candidate = any(match(f, v, tmdb_hashes=view_hashes).ok for v in views)
            left = rechecks.pop(f.alert_id, 0)
            if candidate:
                rechecks[f.alert_id] = TMDB_RECHECKS
            elif left > 1:
                rechecks[f.alert_id] = left - 1
            if force or candidate or left:
                due.append(f)
        if not due:
            return []
        ids = sorted({f.tmdb_id for f in due if f.tmdb_id})
        results = dict(
            zip(
                ids,
                await asyncio.gather(*(fetcher.search(job.api_key, TargetedQuery(tmdb_id=i)) for i in ids)),
                strict=True,
            )
        )
        created = {r.id: r.created_at for r in rows}
        channels = {r.id: r.channel_id for r in rows}
        candidates: list[tuple[AlertFilter, Torrent]] = []
        for f in due:
            result = results[f.tmdb_id or ""]
            hashes = frozenset(t.info_hash for t in result)
            not_before = max(created[f.alert_id] - TMDB_CLOCK_MARGIN, cutoff)
            for torrent in result:
                if torrent.pub_date <= not_before:
                    continue
                if match(f, ReleaseView.of(torrent), tmdb_hashes=hashes).ok:
                    candidates.append((f, torrent))
        if not candidates:
            return []
        async with self._sessions() as session:
            done = await queries.delivered_among(
                session, (f.alert_id for f, _ in candidates), (t.info_hash for _, t in candidates)
            )
        return [
            NewDelivery(f.alert_id, channels[f.alert_id], t)
            for f, t in candidates
            if (f.alert_id, t.info_hash) not in done
        ]

    @staticmethod
    def _drop_expired(guild_id: int, torrents: Sequence[Torrent], cutoff: datetime) -> list[Torrent]:
        out = []
        for torrent in torrents:
            if torrent.pub_date <= cutoff:
                log_drop(guild_id, None, torrent, "published before the retention period")
            else:
                out.append(torrent)
        return out
