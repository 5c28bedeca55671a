"""Destinations in the alert pipeline (the real poller, recorder and sender on SQLite, the
fake La Cale, a recording Discord): age-restricted releases are flagged when recorded and
never posted to a channel that is not age-restricted; the checks of ``/alert add`` and
``/alert edit`` come before La Cale is asked; a post that may already exist is marked
``resend`` for the poster (a forum post has no nonce)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.criteria import Criteria
from bot.db.models import DeliveryStatus
from bot.errors import UserError
from bot.services.alerts.deliver import AgeRestricted, ChannelUnavailable, PostError, ReleasePost, RetryLater
from bot.services.alerts.destinations import ChannelKind, Destination
from bot.services.alerts.service import AlertSpec
from tests.fakes.lacale import FakeLaCale
from tests.support.alert_harness import Pipeline, RecordingPoster, lacale, sqlite_pipeline  # noqa: F401  (lacale: fixture)

GUILD = 111_111_111_111_111_111
CHANNEL = 222_222_222_222_222_222
NSFW_CHANNEL = 333_333_333_333_333_333

ALL = {"view_channel": True, "send_messages": True, "send_messages_in_threads": True, "embed_links": True}


@dataclass
class AgeAwarePoster(RecordingPoster):
    """The recording Discord, refusing age-restricted releases outside ``nsfw`` channels
    the way ``DiscordAlertPoster`` does (before anything is posted). A DM is not a channel:
    the poll sends one only to a watch that names the category (tested below)."""

    nsfw: set[int] = field(default_factory=set)
    posts: list[ReleasePost] = field(default_factory=list)

    async def send_releases(self, post: ReleasePost) -> int:
        self.posts.append(post)
        if post.user_id is None and post.channel_id not in self.nsfw:
            withheld = tuple(r.info_hash for r in post.releases if r.age_restricted)
            if withheld:
                raise AgeRestricted(withheld)
        return await super().send_releases(post)


@pytest.fixture
async def p(tmp_path, lacale: FakeLaCale) -> AsyncIterator[Pipeline]:  # type: ignore[no-untyped-def]
    lacale.add_category("XXX", "xxx")
    lacale.add_category("Hétéro", "xxx-hetero", parent="xxx")
    async with sqlite_pipeline(tmp_path, lacale, GUILD) as built:
        poster = AgeAwarePoster(nsfw={NSFW_CHANNEL})
        built.poster = poster
        built.built.sender._poster = poster
        built.built.poller._poster = poster
        yield built


async def test_age_restricted_releases_go_only_to_age_restricted_channels(p: Pipeline) -> None:
    await p.add_alert(GUILD, "all", CHANNEL)
    await p.add_alert(GUILD, "all-nsfw", NSFW_CHANNEL)
    await p.cycle()
    p.fake.add_torrent("Adult.Release.2025", category_label="Hétéro")
    p.fake.add_torrent("Dune.2024", category_label="Films")
    await p.cycle()
    assert p.poster.posted_titles(CHANNEL) == ["Dune.2024"]
    assert sorted(p.poster.posted_titles(NSFW_CHANNEL)) == ["Adult.Release.2025", "Dune.2024"]
    rows = {(d.channel_id, d.release["title"]): d for d in await p.deliveries()}
    assert rows[(CHANNEL, "Adult.Release.2025")].age_restricted
    assert rows[(CHANNEL, "Adult.Release.2025")].status == DeliveryStatus.DROPPED
    assert rows[(NSFW_CHANNEL, "Adult.Release.2025")].status == DeliveryStatus.DELIVERED
    assert not rows[(CHANNEL, "Dune.2024")].age_restricted
    assert rows[(CHANNEL, "Dune.2024")].status == DeliveryStatus.DELIVERED
    # Nothing left behind: a later flush posts nothing more.
    before = len(p.poster.messages)
    await p.sender.flush()
    assert len(p.poster.messages) == before


async def test_backfilled_age_restricted_releases_are_flagged_too(p: Pipeline) -> None:
    p.fake.add_torrent("Adult.Release.2025", category_label="Hétéro")
    p.fake.add_torrent("Dune.2024", category_label="Films")
    await p.add_alert(GUILD, "all", CHANNEL, backfill=2)
    await p.sender.flush()
    assert p.poster.posted_titles(CHANNEL) == ["Dune.2024"]
    flags = {d.release["title"]: d.age_restricted for d in await p.deliveries()}
    assert flags == {"Adult.Release.2025": True, "Dune.2024": False}


async def test_age_restricted_category_needs_an_age_restricted_channel(p: Pipeline) -> None:
    plain = Destination(CHANNEL, ChannelKind.FORUM, **ALL)
    spec = AlertSpec(name="adult", channel_id=CHANNEL, criteria=Criteria(categories=("xxx-hetero",)))
    with pytest.raises(UserError) as caught:
        await p.alerts.create(GUILD, spec, created_by=1, destination=plain)
    assert caught.value.key == "alert.error.age_restricted"
    nsfw = Destination(NSFW_CHANNEL, ChannelKind.THREAD, nsfw=True, **ALL)
    await p.alerts.create(
        GUILD,
        AlertSpec(name="adult", channel_id=NSFW_CHANNEL, criteria=Criteria(categories=("xxx",))),
        created_by=1,
        destination=nsfw,
    )
    # Moving it to a channel that is not age-restricted is refused the same way, and so is
    # giving an age-restricted category to an alert whose channel is not.
    with pytest.raises(UserError) as caught:
        await p.alerts.edit(GUILD, "adult", channel_id=CHANNEL, destination=plain)
    assert caught.value.key == "alert.error.age_restricted"
    await p.alerts.create(
        GUILD,
        AlertSpec(name="films", channel_id=CHANNEL, criteria=Criteria(categories=("films",))),
        created_by=1,
        destination=plain,
    )
    with pytest.raises(UserError):
        await p.alerts.edit(GUILD, "films", options={"category": ("xxx",)}, destination=plain)
    assert {a.name: a.channel_id for a in await p.alerts.list_alerts(GUILD)} == {
        "adult": NSFW_CHANNEL,
        "films": CHANNEL,
    }


async def test_a_channel_vigie_cannot_post_in_is_refused_before_la_cale_is_asked(p: Pipeline) -> None:
    asked = len(p.fake.requests)
    locked = Destination(CHANNEL, ChannelKind.THREAD, locked=True, **ALL)
    with pytest.raises(UserError) as caught:
        await p.alerts.create(
            GUILD,
            AlertSpec(name="dune", channel_id=CHANNEL, criteria=Criteria(query="dune")),
            created_by=1,
            destination=locked,
        )
    assert caught.value.key == "alert.error.thread_locked"
    no_posts = Destination(CHANNEL, ChannelKind.FORUM, **{**ALL, "send_messages": False})
    with pytest.raises(UserError) as caught:
        await p.alerts.create(
            GUILD,
            AlertSpec(name="dune", channel_id=CHANNEL, criteria=Criteria(query="dune")),
            created_by=1,
            destination=no_posts,
        )
    assert caught.value.key == "alert.error.forum_perms"
    assert len(p.fake.requests) == asked
    assert await p.alerts.list_alerts(GUILD) == []


async def test_a_post_that_may_exist_is_marked_resend(p: Pipeline) -> None:
    """A forum post has no nonce: the poster must know when an earlier try may have
    created it. First tries are not marked; a try after an ambiguous failure is, and so is
    one after a crash between posting and marking."""
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    poster = p.poster
    assert isinstance(poster, AgeAwarePoster)
    p.fake.add_torrent("Dune.2024")
    await p.scheduler.run_cycle(spread=0)
    poster.fail[CHANNEL] = RetryLater("timeout")
    await p.sender.flush()
    del poster.fail[CHANNEL]
    await p.sender.flush()
    first, second = poster.posts
    assert not first.resend and second.resend and second.nonce == first.nonce
    assert first.not_before is not None and first.not_before == second.not_before
    p.fake.add_torrent("Dune.Part.Two.2024")
    await p.scheduler.run_cycle(spread=0)
    poster.crash_after_accept = 1
    with pytest.raises(asyncio.CancelledError):
        await p.sender.flush()
    p.restart()
    p.built.sender._poster = poster
    await p.sender.flush()
    third, fourth = poster.posts[2:]
    assert not third.resend and fourth.resend
    assert p.poster.posted_titles(CHANNEL) == ["Dune.2024", "Dune.Part.Two.2024"]


@dataclass
class ForumLikePoster(AgeAwarePoster):
    """One post per release, as in a forum; ``fail_after[n]`` = the error raised once n
    releases of a post are on Discord (those are named in the error's ``posted``)."""

    fail_after: dict[int, PostError] = field(default_factory=dict)
    threads: list[str] = field(default_factory=list)

    async def send_releases(self, post: ReleasePost) -> int:
        self.posts.append(post)
        posted: list[tuple[str, int]] = []
        for release in post.releases:
            error = self.fail_after.pop(len(posted), None)
            if error is not None:
                error.posted = tuple(posted)
                raise error
            self.threads.append(release.release["title"])
            posted.append((release.info_hash, 5000 + len(self.threads)))
        return posted[0][1]


@pytest.mark.parametrize("error", [RetryLater("timeout"), ChannelUnavailable(missing=False)])
async def test_releases_already_posted_when_a_forum_post_fails_are_marked_not_resent(
    p: Pipeline, error: PostError
) -> None:
    poster = ForumLikePoster()
    p.poster = poster
    p.built.sender._poster = poster
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    p.fake.add_torrent("Dune.2021")
    p.fake.add_torrent("Dune.2024")
    p.fake.add_torrent("Dune.2026")
    poster.fail_after[1] = error  # the first release's thread exists, the second fails
    await p.cycle()
    status = {d.release["title"]: d.status for d in await p.deliveries()}
    assert status["Dune.2021"] == DeliveryStatus.DELIVERED
    assert status["Dune.2024"] == status["Dune.2026"] == DeliveryStatus.PENDING
    if isinstance(error, ChannelUnavailable):
        assert (await p.alert((await p.alerts.get(GUILD, "dune")).id)).paused
        await p.alerts.resume(GUILD, "dune")
    await p.sender.flush()
    assert poster.threads == ["Dune.2021", "Dune.2024", "Dune.2026"]
    assert {d.status for d in await p.deliveries()} == {DeliveryStatus.DELIVERED}


async def test_an_age_restricted_release_is_dmed_only_to_a_watch_that_names_its_category(p: Pipeline) -> None:
    """A DM has no age-restricted setting: a member gets such a release only from a watch
    on that category itself, never from a broader watch."""
    member, other = 666_666_666_666_666_666, 777_777_777_777_777_777
    await p.guilds.set_watches(GUILD, True)
    await p.watches.create(GUILD, member, "all", Criteria(), locale="en")
    await p.watches.create(GUILD, member, "adult", Criteria(categories=("xxx",)), locale="en")
    await p.watches.create(GUILD, other, "all", Criteria(), locale="en")
    await p.cycle()
    p.fake.add_torrent("Adult.Release.2025", category_label="Hétéro")
    p.fake.add_torrent("Dune.2024", category_label="Films")
    await p.cycle()
    mine = sorted(t for m in p.poster.to_member(member) for t in m.titles)
    theirs = sorted(t for m in p.poster.to_member(other) for t in m.titles)
    assert mine == ["Adult.Release.2025", "Dune.2024"]
    assert theirs == ["Dune.2024"]
