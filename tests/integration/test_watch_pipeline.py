"""Members' watches on the real alert pipeline (poller, recorder, sender) against the fake
La Cale, on SQLite and PostgreSQL, with a recording stand-in for Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.criteria import Criteria
from bot.db.models import Delivery, DeliveryStatus, Watch
from bot.db.types import utcnow
from bot.errors import UserError
from bot.lacale.models import Torrent
from bot.services.alerts.deliver import RecipientUnavailable
from bot.services.alerts.record import NewDelivery, insert_deliveries
from bot.services.keys import KeyService
from bot.states import WatchPause
from tests.fakes.lacale import FakeLaCale
from tests.support.alert_harness import Pipeline, lacale, postgres_pipeline, sqlite_pipeline  # noqa: F401  (lacale: fixture)
from tests.support.postgres import postgres_url  # noqa: F401  (fixture)

GUILD = 111_111_111_111_111_111
OTHER_GUILD = 555_555_555_555_555_555
CHANNEL = 222_222_222_222_222_222
MEMBER = 666_666_666_666_666_666
OTHER_MEMBER = 777_777_777_777_777_777


@pytest.fixture
async def p(tmp_path, lacale: FakeLaCale) -> AsyncIterator[Pipeline]:  # type: ignore[no-untyped-def]
    async with sqlite_pipeline(tmp_path, lacale, GUILD) as built:
        await built.guilds.set_watches(GUILD, True)
        yield built


async def watches(p: Pipeline) -> list[Watch]:
    async with p.sessions() as session:
        return list((await session.scalars(select(Watch).order_by(Watch.id))).all())


async def member_in_two_servers_gets_one_dm(p: Pipeline) -> None:
    await p.add_guild(OTHER_GUILD)
    await p.guilds.set_watches(OTHER_GUILD, True)
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.watches.create(GUILD, MEMBER, "dune", Criteria(query="dune"), locale="fr")
    await p.watches.create(GUILD, MEMBER, "uhd", Criteria(query="2160p"), locale="fr")
    await p.watches.create(OTHER_GUILD, MEMBER, "films", Criteria(query="dune"), locale="fr")
    await p.watches.create(GUILD, OTHER_MEMBER, "dune", Criteria(query="dune"), locale="en-US")
    await p.cycle()
    p.fake.add_torrent("Dune.Part.Two.2160p")
    p.fake.add_torrent("Arcane.S02E01.1080p")
    await p.cycle()
    await p.cycle()
    # One post in the alert's channel, one DM to each member, whatever matched.
    assert p.poster.posted_titles(CHANNEL) == ["Dune.Part.Two.2160p"]
    (mine,) = p.poster.to_member(MEMBER)
    (theirs,) = p.poster.to_member(OTHER_MEMBER)
    assert mine.titles == theirs.titles == ["Dune.Part.Two.2160p"]
    assert (mine.post.locale, theirs.post.locale) == ("fr", "en")
    assert mine.post.role_ids == () and mine.post.nonce != theirs.post.nonce
    rows = [(d.alert_id is None, d.user_id, d.status) for d in await p.deliveries()]
    assert sorted(rows, key=str) == sorted(
        [
            (False, None, DeliveryStatus.DELIVERED),
            (True, MEMBER, DeliveryStatus.DELIVERED),
            (True, OTHER_MEMBER, DeliveryStatus.DELIVERED),
        ],
        key=str,
    )
    # The database itself refuses a second DM of a release to a member.
    (row,) = [d for d in await p.deliveries() if d.user_id == MEMBER]
    again = NewDelivery.dm(row.watch_id or 0, MEMBER, OTHER_GUILD, Torrent.model_validate(row.release))
    async with p.sessions.begin() as session:
        await insert_deliveries(session, OTHER_GUILD, [again], utcnow())  # insert-or-ignore: a no-op
    assert len(await p.deliveries()) == 3
    with pytest.raises(IntegrityError):
        async with p.sessions.begin() as session:
            session.add(
                Delivery(
                    watch_id=row.watch_id, user_id=MEMBER, guild_id=OTHER_GUILD, channel_id=0, info_hash=row.info_hash
                )
            )


async def test_one_dm_per_member_and_release_across_watches_servers_and_alerts(p: Pipeline) -> None:
    await member_in_two_servers_gets_one_dm(p)


async def test_one_dm_per_member_and_release_on_postgres(postgres_url: str, lacale: FakeLaCale) -> None:
    async with postgres_pipeline(postgres_url, lacale, GUILD) as pg:
        await pg.guilds.set_watches(GUILD, True)
        await member_in_two_servers_gets_one_dm(pg)


async def test_closed_dms_pause_every_watch_of_the_member_and_keep_the_dm(p: Pipeline) -> None:
    await p.add_guild(OTHER_GUILD)
    await p.guilds.set_watches(OTHER_GUILD, True)
    await p.watches.create(GUILD, MEMBER, "dune", Criteria(query="dune"), locale="en")
    await p.watches.create(OTHER_GUILD, MEMBER, "arcane", Criteria(query="arcane"), locale="en")
    await p.watches.create(GUILD, OTHER_MEMBER, "dune", Criteria(query="dune"), locale="en")
    await p.cycle()
    p.poster.fail_dm[MEMBER] = RecipientUnavailable(left=False, detail="HTTP 403 (50007)")
    p.fake.add_torrent("Dune.Part.Two.2160p")
    await p.cycle()
    assert p.poster.to_member(MEMBER) == [] and len(p.poster.to_member(OTHER_MEMBER)) == 1
    state = {(w.guild_id, w.user_id): (w.paused, w.pause_reason, w.notice_pending) for w in await watches(p)}
    assert state == {
        (GUILD, MEMBER): (True, WatchPause.DMS_CLOSED, True),
        (OTHER_GUILD, MEMBER): (True, WatchPause.DMS_CLOSED, True),
        (GUILD, OTHER_MEMBER): (False, None, False),
    }
    (waiting,) = [d for d in await p.deliveries() if d.user_id == MEMBER]
    assert waiting.status == DeliveryStatus.PENDING and waiting.batch_nonce is None
    await p.cycle()
    assert p.poster.to_member(MEMBER) == []  # paused: nothing tried

    notices = await p.watches.take_notice(MEMBER)
    assert [(n.reason, n.names) for n in notices] == [(WatchPause.DMS_CLOSED, ("arcane", "dune"))]
    assert await p.watches.take_notice(MEMBER) == []  # told once

    del p.poster.fail_dm[MEMBER]
    await p.watches.resume(GUILD, MEMBER, "dune")
    await p.sender.flush()
    assert [m.titles for m in p.poster.to_member(MEMBER)] == [["Dune.Part.Two.2160p"]]


async def test_a_member_gone_from_the_server_pauses_their_watches_there_only(p: Pipeline) -> None:
    await p.add_guild(OTHER_GUILD)
    await p.guilds.set_watches(OTHER_GUILD, True)
    await p.watches.create(GUILD, MEMBER, "dune", Criteria(query="dune"), locale="en")
    await p.watches.create(OTHER_GUILD, MEMBER, "arcane", Criteria(query="arcane"), locale="en")
    await p.cycle()
    p.poster.fail_dm[MEMBER] = RecipientUnavailable(left=True)
    p.fake.add_torrent("Dune.Part.Two.2160p")
    await p.cycle()
    state = {w.guild_id: (w.paused, w.pause_reason) for w in await watches(p)}
    assert state == {GUILD: (True, WatchPause.MEMBER_LEFT), OTHER_GUILD: (False, None)}
    del p.poster.fail_dm[MEMBER]
    p.fake.add_torrent("Arcane.S02E01.1080p")
    await p.cycle()
    assert [m.titles for m in p.poster.to_member(MEMBER)] == [["Arcane.S02E01.1080p"]]
    # The gateway's event (with the members intent) does the same.
    assert await p.watches.member_left(OTHER_GUILD, MEMBER) == 1


async def test_limits_names_and_criteria_are_checked_before_saving(p: Pipeline) -> None:
    p.watches.per_member, p.watches.per_guild = 2, 3
    await p.watches.create(GUILD, MEMBER, "a", Criteria(query="a"), locale="en")
    with pytest.raises(UserError) as exists:
        await p.watches.create(GUILD, MEMBER, "A", Criteria(query="a"), locale="en")
    assert exists.value.key == "watch.error.exists"
    await p.watches.create(GUILD, MEMBER, "b", Criteria(query="b"), locale="en")
    with pytest.raises(UserError) as mine:
        await p.watches.create(GUILD, MEMBER, "c", Criteria(query="c"), locale="en")
    assert mine.value.key == "watch.error.too_many_member"
    await p.watches.create(GUILD, OTHER_MEMBER, "a", Criteria(query="a"), locale="en")
    with pytest.raises(UserError) as everyone:
        await p.watches.create(GUILD, OTHER_MEMBER, "b", Criteria(query="b"), locale="en")
    assert everyone.value.key == "watch.error.too_many_guild"
    with pytest.raises(UserError) as tmdb:
        await p.watches.create(GUILD, OTHER_MEMBER, "t", Criteria(tmdb_id="438631"), locale="en")
    assert tmdb.value.key == "watch.error.tmdb"
    assert len(await watches(p)) == 3


async def test_a_personal_key_is_polled_on_its_own_and_paused_when_refused(p: Pipeline) -> None:
    await p.guilds.set_watches(GUILD, False)
    with pytest.raises(UserError) as off:
        await p.watches.create(GUILD, MEMBER, "dune", Criteria(query="dune"), locale="en")
    assert off.value.key == "watch.error.off"
    personal = p.fake.add_key()
    keys: KeyService = p.guilds.keys
    await keys.set_member_key(MEMBER, personal, GUILD)
    info = await p.watches.create(GUILD, MEMBER, "dune", Criteria(query="dune"), locale="en")
    assert info.personal
    await p.cycle()
    p.fake.add_torrent("Dune.Part.Two.2160p")
    before = p.fake.count(key=personal)
    await p.cycle()
    assert [m.titles for m in p.poster.to_member(MEMBER)] == [["Dune.Part.Two.2160p"]]
    assert p.fake.count(key=personal) - before == 1
    p.fake.remove_key(personal)
    await p.cycle()
    (watch,) = await watches(p)
    assert (watch.paused, watch.pause_reason, watch.notice_pending) == (True, WatchPause.PERSONAL_KEY_REFUSED, True)
