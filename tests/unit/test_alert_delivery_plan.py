"""Pure parts of alert delivery and gap detection: batching, nonces, gap rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.lacale.models import Torrent
from bot.services.alerts.deliver import (
    MAX_EMBEDS,
    PendingRow,
    batch_nonce,
    plan_batches,
)
from bot.services.alerts.gaps import (
    is_new_since,
    missed_range,
    newest_page_overflowed,
    page_unfilled,
)
from bot.services.alerts.scheduler import ownership_of_shards

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(
    id: int,
    *,
    channel: int = 10,
    info_hash: str | None = None,
    alert: int = 1,
    name: str = "a",
    role: int | None = None,
    nonce: str | None = None,
    title: str = "Release",
) -> PendingRow:
    h = info_hash or f"{id:040x}"
    return PendingRow(id, alert, 1, channel, h, {"title": title, "category": "Films"}, nonce, name, role, "fr", None)


def dm(id: int, user: int, *, info_hash: str | None = None, nonce: str | None = None) -> PendingRow:
    """A member's DM row (their watches): no channel, no role."""
    h = info_hash or f"{id:040x}"
    return PendingRow(
        id, 0, 1, 0, h, {"title": "Release", "category": "Films"}, nonce, "w", None, "en", None, user_id=user
    )


def test_dms_are_planned_per_member_apart_from_channel_posts_ten_releases_a_message() -> None:
    rows = [row(1, info_hash="a" * 40), dm(2, 7, info_hash="a" * 40), dm(3, 8, info_hash="a" * 40)]
    rows += [dm(10 + i, 7) for i in range(MAX_EMBEDS + 1)]
    batches = plan_batches(rows)
    by_destination: dict[tuple[int, int | None], list[int]] = {}
    for batch in batches:
        by_destination.setdefault(batch.destination, []).append(len(batch.releases()))
    assert by_destination == {(10, None): [1], (0, 7): [MAX_EMBEDS, 2], (0, 8): [1]}
    assert all(b.role_ids() == () for b in batches if b.user_id is not None)
    # A claimed DM batch keeps its member and its rows.
    (claimed,) = plan_batches([dm(2, 7, nonce="v1"), dm(3, 7, nonce="v1")])
    assert (claimed.user_id, claimed.ids, claimed.nonce) == (7, (2, 3), "v1")


def test_one_release_for_several_alerts_of_a_channel_is_one_embed_naming_them() -> None:
    rows = [
        row(1, info_hash="a" * 40, alert=1, name="dune", role=100),
        row(2, info_hash="a" * 40, alert=2, name="films", role=200),
    ]
    (batch,) = plan_batches(rows)
    (release,) = batch.releases()
    assert release.alert_names == ("dune", "films")
    assert batch.role_ids() == (100, 200)
    assert batch.ids == (1, 2)


def test_channels_are_separate_and_batches_hold_ten_releases() -> None:
    rows = [row(i, channel=10 if i % 2 else 20) for i in range(1, 26)]
    batches = plan_batches(rows)
    per_channel = {c: [b for b in batches if b.channel_id == c] for c in (10, 20)}
    assert [len(b.releases()) for b in per_channel[10]] == [10, 3]
    assert [len(b.releases()) for b in per_channel[20]] == [10, 2]
    # oldest first inside a channel
    ids = [i for b in per_channel[10] for i in b.ids]
    assert ids == sorted(ids)
    assert all(len(b.releases()) <= MAX_EMBEDS for b in batches)


def test_long_cards_split_before_discords_6000_characters() -> None:
    rows = [row(i, title="T" * 250) for i in range(1, 11)]
    batches = plan_batches(rows)
    assert len(batches) > 1


def test_claimed_rows_are_resent_as_the_same_batch() -> None:
    rows = [row(1, nonce="vabc"), row(2), row(3, nonce="vabc")]
    batches = plan_batches(rows)
    assert batches[0].nonce == "vabc" and batches[0].ids == (1, 3)
    assert batches[1].nonce is None and batches[1].ids == (2,)


def test_nonce_is_deterministic_and_fits_discord() -> None:
    assert batch_nonce([3, 1, 2]) == batch_nonce([1, 2, 3])
    assert batch_nonce([1, 2]) != batch_nonce([1, 2, 3])
    assert len(batch_nonce(range(1000))) <= 25


def _t(i: int, minutes: int) -> Torrent:
    return Torrent.model_validate(
        {"title": f"R{i}", "pubDate": (T0 + timedelta(minutes=minutes)).isoformat(), "infoHash": f"{i:040x}"}
    )


def test_gap_rules() -> None:
    page = [_t(i, 100 - i) for i in range(50)]
    assert newest_page_overflowed(page, set(), has_history=True)
    assert not newest_page_overflowed(page, set(), has_history=False)  # first poll: baseline
    assert not newest_page_overflowed(page, {page[-1].info_hash}, has_history=True)
    since = T0 + timedelta(minutes=10)
    assert page_unfilled(page, set(), since)  # full page, all newer than the last seen release
    assert not page_unfilled(page[:49], set(), since)  # a page that is not full holds everything
    assert not page_unfilled(page, set(), T0 + timedelta(minutes=60))  # reaches back into known times
    assert not is_new_since(page[0], {page[0].info_hash}, since)
    missed = missed_range(page, since)
    assert missed.since == since and missed.until == T0 + timedelta(minutes=51)


def test_ownership_of_shards_is_discords_rule() -> None:
    assert ownership_of_shards(None, 4).everything  # every shard: no filtering needed
    owns = ownership_of_shards([1], 2)
    assert not owns.everything
    assert owns.owns(1 << 22) and not owns.owns(2 << 22)
    with pytest.raises(ValueError):
        ownership_of_shards([0, 1], 3)  # not one cluster's share: cannot be told in SQL


@pytest.mark.parametrize(
    ("status", "refused"),
    [
        (400, True),
        (403, True),
        (404, True),
        (413, True),
        (408, False),
        (425, False),
        (429, False),
        (499, False),
        (500, False),
        (502, False),
        (504, False),
        (302, False),
    ],
)
def test_only_a_definite_refusal_releases_the_nonce(status: int, refused: bool) -> None:
    """A 408 or 5xx may come from a proxy after Discord posted: retried with the same nonce."""
    from bot.ui.alert_posts import definitely_refused

    assert definitely_refused(status) is refused


@pytest.mark.parametrize(
    ("code", "kind"),
    [(50006, "RetryLater"), (50109, "RetryLater"), (50035, "PostRejected"), (0, "PostRejected")],
)
def test_a_400_saying_the_body_arrived_empty_keeps_the_nonce(code: int, kind: str) -> None:
    """@discordjs/proxy replays a request it retries (after a 429 or a 5xx that may follow
    the post) with an empty body; Discord's "empty message" / "invalid JSON" is then about
    the replay, not about the alert: unknown outcome. Other 400s are refusals."""
    from types import SimpleNamespace

    import discord

    from bot.ui.alert_posts import _post_error

    response = SimpleNamespace(status=400, reason="Bad Request")
    exc = discord.HTTPException(response, {"code": code, "message": "refused"})  # type: ignore[arg-type]
    assert type(_post_error(exc)).__name__ == kind
