"""The real alert pipeline against the fake La Cale and a real SQLite database (plus one
run on PostgreSQL), with a recording stand-in for Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.cluster.ownership import Ownership
from bot.db.models import Delivery, DeliveryStatus, KeyStatus, SeenRelease
from bot.db.types import utcnow
from bot.errors import UserError
from bot.services.alerts.deliver import (
    ChannelUnavailable,
    DeliverySender,
    RetryLater,
    claim,
    pending_rows,
    plan_batches,
)
from bot.services.alerts.fetch import key_id
from bot.services.alerts.scheduler import AlertScheduler
from bot.states import PauseReason
from tests.fakes.lacale import SEARCH, FakeLaCale
from tests.support.alert_harness import Pipeline, forbid, lacale, postgres_pipeline, sqlite_pipeline  # noqa: F401  (lacale: fixture)
from tests.support.postgres import postgres_url  # noqa: F401  (fixture)

GUILD = 111_111_111_111_111_111
CHANNEL = 222_222_222_222_222_222
OTHER_CHANNEL = 333_333_333_333_333_333
ROLE = 444_444_444_444_444_444


@pytest.fixture
async def p(tmp_path, lacale: FakeLaCale) -> AsyncIterator[Pipeline]:  # type: ignore[no-untyped-def]
    async with sqlite_pipeline(tmp_path, lacale, GUILD) as built:
        yield built


def searches(fake: FakeLaCale) -> list[dict[str, list[str]]]:
    out = []
    for r in fake.requests:
        if r.path == SEARCH:
            q: dict[str, list[str]] = {}
            for k, v in r.query:
                q.setdefault(k, []).append(v)
            out.append(q)
    return out


async def test_no_backlog_then_one_post_with_the_role(p: Pipeline) -> None:
    for i in range(5):
        p.fake.add_torrent(f"Dune.Part.{i}.2024.1080p", category_label="Films HD")
    p.fake.add_torrent("Arcane.S02E01.1080p", category_label="Séries TV")
    alert_id = await p.add_alert(GUILD, "dune", CHANNEL, query="dune", mention_role_id=ROLE)
    await p.cycle()
    await p.cycle()
    assert p.poster.messages == []  # what existed is not posted

    p.fake.add_torrent("Dune.Part.Three.2026.2160p", category_label="Films HD")
    p.fake.add_torrent("Arcane.S02E02.1080p", category_label="Séries TV")
    await p.cycle()
    await p.cycle()
    (message,) = p.poster.messages
    assert message.titles == ["Dune.Part.Three.2026.2160p"]
    assert message.post.role_ids == (ROLE,)
    assert message.post.channel_id == CHANNEL and len(message.post.nonce) <= 25
    assert message.post.releases[0].alert_names == ("dune",)
    assert (await p.alert(alert_id)).last_match_at is not None
    statuses = sorted(d.status for d in await p.deliveries())
    assert statuses == [DeliveryStatus.BASELINE] * 5 + [DeliveryStatus.DELIVERED]


async def test_backfill_posts_the_newest_existing(p: Pipeline) -> None:
    for i in range(6):
        p.fake.add_torrent(f"Dune.Part.{i}.2024", category_label="Films HD")
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune", backfill=2)
    await p.sender.flush()
    assert p.poster.posted_titles() == ["Dune.Part.4.2024", "Dune.Part.5.2024"]  # oldest first
    await p.cycle()
    assert len(p.poster.posted_titles()) == 2


async def test_two_alerts_one_channel_one_post_naming_both(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune", mention_role_id=ROLE)
    await p.add_alert(GUILD, "films", CHANNEL, categories=("films",), mention_role_id=ROLE + 1)
    await p.add_alert(GUILD, "elsewhere", OTHER_CHANNEL, query="dune")
    await p.cycle()
    p.fake.add_torrent("Dune.Part.Two.2024.MULTi.2160p", category_label="Films HD")
    await p.cycle()
    (message,) = p.poster.in_channel(CHANNEL)
    (release,) = message.post.releases
    assert set(release.alert_names) == {"dune", "films"}
    assert set(message.post.role_ids) == {ROLE, ROLE + 1}
    assert len(p.poster.in_channel(OTHER_CHANNEL)) == 1


async def test_filters_apply(p: Pipeline) -> None:
    await p.add_alert(GUILD, "big", CHANNEL, query="dune", min_size=10_000_000_000, exclude=("cam",), min_seeders=3)
    await p.cycle()
    p.fake.add_torrent("Dune.2024.2160p", size=20_000_000_000, seeders=5)
    p.fake.add_torrent("Dune.2024.1080p", size=2_000_000_000, seeders=5)  # too small
    p.fake.add_torrent("Dune.2024.CAM", size=20_000_000_000, seeders=5)  # excluded
    p.fake.add_torrent("Dune.2024.REMUX", size=30_000_000_000, seeders=1)  # too few seeders
    await p.cycle()
    assert p.poster.posted_titles() == ["Dune.2024.2160p"]


async def test_burst_larger_than_a_page_is_filled_by_targeted_queries(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.add_alert(GUILD, "arcane", OTHER_CHANNEL, query="arcane", categories=("series",))
    p.fake.add_torrent("Seen.Before.The.Burst")
    await p.cycle()
    # 3 dune + 2 arcane, then 60 unrelated releases: the matches are off the newest page.
    for i in range(3):
        p.fake.add_torrent(f"Dune.Part.{i}.1080p", category_label="Films HD")
    for i in range(2):
        p.fake.add_torrent(f"Arcane.S02E0{i}.1080p", category_label="Séries HD")
    for i in range(60):
        p.fake.add_torrent(f"Filler.{i}.2024", category_label="Linux")
    p.fake.reset_counters()
    report = await p.cycle()
    assert report.outcomes == {"gap": 1}
    assert p.poster.posted_titles(CHANNEL) == [f"Dune.Part.{i}.1080p" for i in range(3)]
    assert p.poster.posted_titles(OTHER_CHANNEL) == ["Arcane.S02E00.1080p", "Arcane.S02E01.1080p"]
    assert p.poster.gap_notices == []
    sent = searches(p.fake)
    assert len(sent) == 3  # the newest page, then one query per alert
    assert {tuple(s.get("q", [])) for s in sent} == {(), ("dune",), ("arcane",)}
    assert sorted(sent[-1].get("cat", []) + sent[-2].get("cat", [])) == ["s-ries-hd", "series"]
    # The next cycle is quiet: nothing posted twice, no new gap.
    report = await p.cycle()
    assert report.outcomes == {"ok": 1} and len(p.poster.posted_titles()) == 5


async def test_unfillable_gap_is_reported_with_its_times(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    last_seen = p.fake.add_torrent("Dune.Before.1080p")
    await p.cycle()
    assert p.poster.posted_titles() == ["Dune.Before.1080p"]
    for i in range(70):
        p.fake.add_torrent(f"Dune.Burst.{i:02d}")
    report = await p.cycle()
    assert report.outcomes == {"gap_unfilled": 1}
    posted = p.poster.posted_titles()[1:]
    assert posted == [f"Dune.Burst.{i:02d}" for i in range(20, 70)]  # the 50 its page holds, oldest first
    (notice,) = p.poster.gap_notices
    assert notice.channel_id == CHANNEL and notice.alert_names == ("dune",)
    assert notice.since.isoformat().startswith(last_seen["pubDate"][:19])
    assert notice.since < notice.until
    assert (await p.settings(GUILD)).last_poll_outcome == "gap_unfilled"


async def test_channel_forbidden_pauses_the_alert_tells_admins_and_keeps_the_post(p: Pipeline) -> None:
    alert_id = await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.add_alert(GUILD, "other", OTHER_CHANNEL, query="dune")
    await p.cycle()
    p.poster.fail[CHANNEL] = forbid(CHANNEL)
    p.fake.add_torrent("Dune.2024")
    await p.cycle()
    alert = await p.alert(alert_id)
    assert alert.paused and alert.pause_reason == "channel_forbidden"
    (notice,) = p.poster.admin_notices
    assert notice.kind == "channel_forbidden" and notice.alert_names == ("dune",) and notice.channel_id == CHANNEL
    assert p.poster.posted_titles(OTHER_CHANNEL) == ["Dune.2024"]  # other channels go on
    pending = [d for d in await p.deliveries() if d.status == DeliveryStatus.PENDING]
    assert len(pending) == 1 and pending[0].batch_nonce is None
    # Listed with its reason; not polled while paused; resumed once fixed: posted once.
    (info,) = [a for a in await p.alerts.list_alerts(GUILD) if a.name == "dune"]
    assert info.paused and info.pause_reason == "channel_forbidden" and info.pending == 1
    del p.poster.fail[CHANNEL]
    await p.alerts.resume(GUILD, "dune")
    await p.cycle()
    assert p.poster.posted_titles(CHANNEL) == ["Dune.2024"]
    await p.cycle()
    assert len(p.poster.admin_notices) == 1 and p.poster.posted_titles(CHANNEL) == ["Dune.2024"]


async def test_deleted_channel_pauses_and_edit_moves_the_waiting_posts(p: Pipeline) -> None:
    alert_id = await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    p.poster.fail[CHANNEL] = ChannelUnavailable(missing=True, detail="404 Unknown Channel")
    p.fake.add_torrent("Dune.2024")
    await p.cycle()
    assert (await p.alert(alert_id)).pause_reason == "channel_missing"
    assert p.poster.admin_notices[0].kind == "channel_missing"
    await p.alerts.edit(GUILD, "dune", channel_id=OTHER_CHANNEL)
    assert not (await p.alert(alert_id)).paused
    await p.cycle()
    assert p.poster.posted_titles(OTHER_CHANNEL) == ["Dune.2024"]


async def test_discord_429_or_5xx_is_retried_with_the_same_nonce(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    p.poster.fail[CHANNEL] = RetryLater("429 too many requests", retry_after=1.0)
    p.fake.add_torrent("Dune.2024")
    await p.cycle()
    (row,) = [d for d in await p.deliveries() if d.status == DeliveryStatus.PENDING]
    assert row.batch_nonce is not None and row.attempts == 1
    del p.poster.fail[CHANNEL]
    await p.sender.flush()
    (message,) = p.poster.messages
    assert message.post.nonce == row.batch_nonce


async def test_la_cale_403_marks_the_key_refused_and_pauses_alerts(p: Pipeline) -> None:
    alert_id = await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    p.fake.remove_key(p.fake.default_key)
    report = await p.cycle()
    assert report.outcomes == {"key_refused": 1}
    settings = await p.settings(GUILD)
    assert settings.key_status == KeyStatus.REFUSED and settings.last_poll_outcome == "key_refused"
    alert = await p.alert(alert_id)
    assert alert.paused and alert.pause_reason == PauseReason.KEY_REFUSED
    (notice,) = p.poster.admin_notices
    assert notice.kind == "key_refused" and notice.alert_names == ("dune",)
    with pytest.raises(UserError):
        await p.alerts.resume(GUILD, "dune")
    p.fake.reset_counters()
    assert (await p.cycle()).guilds == 0 and p.fake.count() == 0  # no longer polled


async def test_la_cale_500_then_recovery_loses_nothing(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    p.fake.add_torrent("Dune.One")
    p.fake.fail_next(SEARCH, 500, times=10)
    report = await p.cycle()
    assert report.outcomes == {"unavailable": 1} and p.poster.messages == []
    async with p.sessions() as session:
        seen = set((await session.scalars(select(SeenRelease.info_hash))).all())
    assert not any(t["title"] == "Dune.One" and t["infoHash"] in seen for t in p.fake.torrents())
    assert (await p.settings(GUILD)).last_poll_outcome == "unavailable"
    p.fake.clear_faults()
    p.fake.add_torrent("Dune.Two")
    await p.cycle()
    await p.cycle()
    assert p.poster.posted_titles() == ["Dune.One", "Dune.Two"]


async def test_timeouts_are_retried_next_cycle(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    p.fake.add_torrent("Dune.One")
    p.access.timeout = 0.2
    p.fake.delay_next(SEARCH, 1.0, times=2)
    assert (await p.cycle()).outcomes == {"unavailable": 1}
    await asyncio.sleep(0.8)  # let the fake finish the delayed requests
    await p.cycle()
    assert p.poster.posted_titles() == ["Dune.One"]


async def test_rate_limited_key_backs_off_and_other_keys_go_on(p: Pipeline) -> None:
    second = p.fake.add_key("second-key-0123456789abcdef")
    # With one poll at a time, the key polled first (the scheduler orders by key) gets the 429.
    first, later = sorted([p.fake.default_key, second], key=key_id)
    if first != p.fake.default_key:
        await p.guilds.register_guild_key(GUILD, first, 1)
    await p.add_guild(GUILD + 1, later)
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.add_alert(GUILD + 1, "dune", OTHER_CHANNEL, query="dune")
    p.scheduler._concurrency = 1
    await p.cycle()
    p.fake.add_torrent("Dune.2024")
    p.fake.fail_next(SEARCH, 429, retry_after=120)
    report = await p.cycle()
    assert report.outcomes == {"rate_limited": 1, "ok": 1}
    assert p.poster.posted_titles(OTHER_CHANNEL) == ["Dune.2024"]
    p.fake.reset_counters()
    report = await p.cycle()
    assert report.outcomes == {"rate_limited": 1, "ok": 1}
    assert p.fake.count(key=first) == 0  # the paused key waits without asking
    # Once the pause is over, the release is posted: nothing was marked seen meanwhile.
    p.access.limiters.get(first)._paused_until = 0
    await p.cycle()
    assert p.poster.posted_titles(CHANNEL) == ["Dune.2024"]


async def test_restart_sends_pending_deliveries_once(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    for i in range(3):
        p.fake.add_torrent(f"Dune.{i}")
    await p.scheduler.run_cycle(spread=0)  # recorded, not yet sent: then the process dies
    p.restart()
    await p.sender.flush()
    await p.sender.flush()
    assert p.poster.posted_titles() == ["Dune.0", "Dune.1", "Dune.2"]
    assert len(p.poster.messages) == 1


async def test_restart_after_a_send_discord_accepted_but_was_not_marked(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    p.fake.add_torrent("Dune.2024")
    await p.scheduler.run_cycle(spread=0)
    p.poster.crash_after_accept = 1  # Discord posts it; the process dies before marking
    with pytest.raises(asyncio.CancelledError):
        await p.sender.flush()
    (row,) = [d for d in await p.deliveries() if d.status == DeliveryStatus.PENDING]
    assert row.batch_nonce is not None
    p.restart()
    await p.sender.flush()
    assert len(p.poster.messages) == 1 and p.poster.sends == 2  # re-sent, deduplicated by nonce
    (row,) = await p.deliveries()
    assert row.status == DeliveryStatus.DELIVERED and row.message_id == p.poster.messages[0].id


async def test_claimed_batch_is_resent_with_its_nonce_and_companions(p: Pipeline) -> None:
    await p.add_alert(GUILD, "a", CHANNEL, query="dune")
    await p.add_alert(GUILD, "b", CHANNEL, query="dune")
    await p.cycle()
    p.fake.add_torrent("Dune.2024")
    await p.scheduler.run_cycle(spread=0)
    async with p.sessions() as session:
        rows, _ = await pending_rows(session)
    (batch,) = plan_batches(rows)
    async with p.sessions.begin() as session:
        assert await claim(session, batch.ids, "vclaimed-before-crash")
    await DeliverySender(p.sessions, p.poster).flush()
    (message,) = p.poster.messages
    assert message.post.nonce == "vclaimed-before-crash"
    assert set(message.post.releases[0].alert_names) == {"a", "b"}


async def test_tmdb_alert_uses_a_targeted_query(p: Pipeline) -> None:
    p.fake.add_torrent("Dune.2021.1080p", tmdb_id=438631)
    await p.add_alert(GUILD, "dune film", CHANNEL, tmdb_id="438631")
    await p.cycle()
    p.fake.reset_counters()
    await p.cycle()
    assert not any("tmdbId" in s for s in searches(p.fake))  # nothing new: no TMDB query
    p.fake.add_torrent("Dune.2021.2160p.REMUX", tmdb_id=438631)
    p.fake.add_torrent("Dune.1984.1080p", tmdb_id=841)  # same words, another film
    p.fake.reset_counters()
    await p.cycle()
    assert p.poster.posted_titles() == ["Dune.2021.2160p.REMUX"]
    assert [s["tmdbId"] for s in searches(p.fake) if "tmdbId" in s] == [["438631"]]
    await p.cycle()
    await p.cycle()
    assert p.poster.posted_titles() == ["Dune.2021.2160p.REMUX"]


async def test_identical_targeted_queries_are_made_once_per_key(p: Pipeline) -> None:
    await p.add_guild(GUILD + 1)  # the same key as GUILD
    await p.add_alert(GUILD, "a", CHANNEL, tmdb_id="42")
    await p.add_alert(GUILD, "b", CHANNEL, tmdb_id="42", min_size=1)
    await p.add_alert(GUILD + 1, "c", OTHER_CHANNEL, tmdb_id="42")
    await p.cycle()
    p.fake.add_torrent("Film.42.1080p", tmdb_id=42)
    p.fake.reset_counters()
    await p.cycle()
    sent = searches(p.fake)
    assert len([s for s in sent if "tmdbId" in s]) == 1
    assert len([s for s in sent if "tmdbId" not in s]) == 1  # one newest page for the shared key
    assert sorted(p.poster.posted_titles()) == ["Film.42.1080p", "Film.42.1080p"]  # two channels


async def test_empty_search_refused_falls_back_on_q_star(p: Pipeline) -> None:
    p.fake.refuse_empty = True
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    p.fake.add_torrent("Dune.2024")
    await p.cycle()
    assert p.poster.posted_titles() == ["Dune.2024"]


async def test_alert_commands_service(p: Pipeline) -> None:
    await p.add_alert(GUILD, "Dune", CHANNEL, query="dune")
    with pytest.raises(UserError) as exists:
        await p.add_alert(GUILD, "dune", CHANNEL, query="x")
    assert exists.value.key == "alert.error.exists"
    with pytest.raises(UserError) as bad_cat:
        await p.add_alert(GUILD, "x", CHANNEL, categories=("nope",))
    assert bad_cat.value.key == "search.unknown_category"
    with pytest.raises(UserError):
        await p.add_alert(GUILD, "y", CHANNEL, min_size=10, max_size=5)
    assert await p.alerts.names(GUILD, "du") == ["Dune"]
    info = await p.alerts.pause(GUILD, "dune")
    assert info.paused and info.pause_reason == "user"
    await p.alerts.resume(GUILD, "dune")
    edited = await p.alerts.edit(GUILD, "dune", new_name="Dune 2", options={"exclude": ("cam",)}, mention_role_id=ROLE)
    assert edited.name == "Dune 2" and edited.criteria.exclude == ("cam",) and edited.mention_role_id == ROLE
    p.fake.add_torrent("Dune.2024.1080p")
    p.fake.add_torrent("Dune.2024.CAM")
    preview = await p.alerts.preview(GUILD, "dune 2")
    assert [t.title for t in preview.matches] == ["Dune.2024.1080p"] and preview.drops["exclude"] == 1
    assert p.poster.messages == []  # a test posts nothing
    await p.alerts.remove(GUILD, "Dune 2")
    assert await p.alerts.list_alerts(GUILD) == []


async def test_scheduler_spreads_polls_over_the_interval_and_respects_shards(p: Pipeline) -> None:
    for i in range(1, 4):
        await p.add_guild(GUILD + (i << 22))
    for i in range(4):
        await p.add_alert(GUILD + (i << 22), "dune", CHANNEL, query="dune")
    now = [0.0]
    starts: list[float] = []

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)  # let the poll started last run before time moves on
        now[0] += seconds

    original = p.poller.poll

    async def poll(job, fetcher, **kw):  # type: ignore[no-untyped-def]
        starts.append(now[0])
        return await original(job, fetcher, **kw)

    p.poller.poll = poll  # type: ignore[method-assign]
    scheduler = AlertScheduler(
        p.sessions, p.vault, p.access, p.poller, p.sender, interval=60.0, clock=lambda: now[0], sleep=sleep
    )
    await scheduler.run_cycle()
    assert starts == [0.0, 15.0, 30.0, 45.0]
    starts.clear()
    sharded = AlertScheduler(
        p.sessions,
        p.vault,
        p.access,
        p.poller,
        p.sender,
        interval=60.0,
        clock=lambda: now[0],
        sleep=sleep,
        ownership=Ownership(shard_count=2, cluster_count=2, slot=1),
    )
    report = await sharded.run_cycle()
    assert report.guilds == 2


async def test_prune_keeps_pending_and_forgets_old_rows(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    p.fake.add_torrent("Dune.Old")
    await p.cycle()
    p.fake.add_torrent("Dune.New")
    await p.scheduler.run_cycle(spread=0)
    old = utcnow() - timedelta(days=100)
    async with p.sessions.begin() as session:
        await session.execute(update(Delivery).values(created_at=old))
        await session.execute(update(SeenRelease).values(seen_at=old))
    await p.scheduler.prune_if_due()
    statuses = [d.status for d in await p.deliveries()]
    assert statuses == [DeliveryStatus.PENDING]
    async with p.sessions() as session:
        assert (await session.scalars(select(SeenRelease))).all() == []


async def test_pipeline_on_postgres(postgres_url: str, lacale: FakeLaCale) -> None:
    async with postgres_pipeline(postgres_url, lacale, GUILD) as pg:
        await pg.add_alert(GUILD, "dune", CHANNEL, query="dune", mention_role_id=ROLE)
        await pg.add_alert(GUILD, "films", CHANNEL, categories=("films",))
        await pg.cycle()
        lacale.add_torrent("Dune.2024.1080p", category_label="Films HD")
        await pg.cycle()
        (message,) = pg.poster.messages
        assert set(message.post.releases[0].alert_names) == {"dune", "films"}
        await pg.cycle()
        assert len(pg.poster.messages) == 1


async def test_a_claimed_batch_is_always_loaded_whole(p: Pipeline) -> None:
    """The flush limit never cuts a claimed batch: re-sent partially with its nonce,
    Discord would answer with the first message and the rest would be lost."""
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    for i in range(6):
        p.fake.add_torrent(f"Dune.{i}")
    await p.scheduler.run_cycle(spread=0)
    async with p.sessions() as session:
        rows, _ = await pending_rows(session)
    ids = [r.id for r in rows]
    async with p.sessions.begin() as session:
        assert await claim(session, ids[2:], "vlate")
    async with p.sessions() as session:
        limited, truncated = await pending_rows(session, limit=1)
    assert truncated
    assert [r.id for r in limited if r.batch_nonce == "vlate"] == ids[2:]


async def _release_aware_alerts(pipe: Pipeline, fake: FakeLaCale) -> None:
    """Criteria stored in the JSON column, read back by the poller, matched on what the
    release names say: only what each alert asks is posted, once."""
    await pipe.add_alert(GUILD, "multi", CHANNEL, query="dune", language=("MULTi",))
    await pipe.add_alert(GUILD, "uhd x265", OTHER_CHANNEL, resolution=("2160p",), codec=("x265",))
    await pipe.cycle()
    fake.add_torrent("Dune.Part.Two.2024.MULTi.1080p.WEB.H264-GRP")
    fake.add_torrent("Dune.Part.Two.2024.VOSTFR.2160p.WEB-DL.x265-GRP")
    fake.add_torrent("Arcane.S02.MULTi.2160p.WEB-DL.x264-GRP")
    await pipe.cycle()
    await pipe.cycle()
    assert pipe.poster.posted_titles(CHANNEL) == ["Dune.Part.Two.2024.MULTi.1080p.WEB.H264-GRP"]
    assert pipe.poster.posted_titles(OTHER_CHANNEL) == ["Dune.Part.Two.2024.VOSTFR.2160p.WEB-DL.x265-GRP"]
    (info,) = [a for a in await pipe.alerts.list_alerts(GUILD) if a.name == "uhd x265"]
    assert (info.criteria.resolution, info.criteria.codec) == (("2160p",), ("x265",))


async def test_release_aware_alerts_on_sqlite(p: Pipeline, lacale: FakeLaCale) -> None:
    await _release_aware_alerts(p, lacale)


async def test_release_aware_alerts_on_postgres(postgres_url: str, lacale: FakeLaCale) -> None:
    async with postgres_pipeline(postgres_url, lacale, GUILD) as pg:
        await _release_aware_alerts(pg, lacale)
