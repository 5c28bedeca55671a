"""The open-preview bookkeeping (issue 9, item 6): at most N previews per member (a newer
one closes the oldest, telling its view why), a byte budget shared by every server (a new
preview is refused when full, and then nothing is closed), bytes released on every end,
a server's previews closed when its key goes, and a safety net for lost previews."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import UserError
from bot.services.uploads import PreviewClosed, PreviewRegistry

KIB = 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def registry(
    *, budget: int = 100 * KIB, per_member: int = 3, in_flight: set[str] | None = None, clock: Clock | None = None
) -> PreviewRegistry:
    return PreviewRegistry(
        budget_bytes=budget,
        per_member=per_member,
        idle_lifetime=60.0,
        in_flight=in_flight if in_flight is not None else set(),
        clock=clock or Clock(),
    )


def open_(
    reg: PreviewRegistry,
    draft_id: str,
    *,
    user: int = 1,
    guild: int | None = 10,
    owner: str = "guild",
    size: int = 10 * KIB,
) -> list[tuple[str, dict[str, Any]]]:
    """Open a preview and return the list its close callback fills."""
    reg.open(draft_id, user_id=user, guild_id=guild, key_owner=owner, key_fingerprint=f"fp-{draft_id}", size=size)
    heard: list[tuple[str, dict[str, Any]]] = []
    assert reg.watch(draft_id, lambda key, values: heard.append((key, values)))
    return heard


def test_a_members_fourth_preview_closes_their_oldest_and_tells_it() -> None:
    reg = registry()
    first = open_(reg, "a")
    open_(reg, "b")
    open_(reg, "c")
    other = open_(reg, "x", user=2)
    assert reg.held_bytes == 40 * KIB
    open_(reg, "d")
    assert first == [("upload.closed.replaced", {"limit": 3})]
    assert reg.of_member(1) == ["b", "c", "d"] and reg.of_member(2) == ["x"] and other == []
    assert reg.held_bytes == 40 * KIB, "the closed preview's bytes were released"
    refusal = reg.closure("a")
    assert isinstance(refusal, PreviewClosed) and refusal.key == "upload.closed.replaced"


def test_previews_being_sent_are_never_closed_for_a_newer_one() -> None:
    sending: set[str] = set()
    reg = registry(in_flight=sending)
    for draft_id in "abc":
        open_(reg, draft_id)
    sending.update({"a", "b"})
    open_(reg, "d")  # closes "c", the oldest one not being sent
    assert reg.of_member(1) == ["a", "b", "d"]
    sending.add("d")
    with pytest.raises(UserError) as caught:
        open_(reg, "e")
    assert caught.value.key == "upload.preview.member_busy" and caught.value.values == {"count": 3}
    assert reg.of_member(1) == ["a", "b", "d"]


def test_budget_full_refuses_the_new_preview_and_closes_nothing() -> None:
    reg = registry(budget=100 * KIB)
    heard = [open_(reg, f"m{i}", user=i, size=30 * KIB) for i in range(3)]
    with pytest.raises(UserError) as caught:
        open_(reg, "late", user=9, size=20 * KIB)
    assert caught.value.key == "upload.preview.budget_full"
    assert len(reg) == 3 and reg.held_bytes == 90 * KIB and heard == [[], [], []]
    with pytest.raises(UserError):
        reg.check_room(9, 20 * KIB)  # the declared-size check, before any download
    reg.check_room(9, 10 * KIB)
    # Released on confirm / cancel / expiry: room again.
    reg.release("m0")
    assert reg.held_bytes == 60 * KIB
    open_(reg, "late", user=9, size=20 * KIB)
    assert reg.held_bytes == 80 * KIB


def test_a_members_own_oldest_preview_counts_as_room_for_their_new_one() -> None:
    reg = registry(budget=100 * KIB, per_member=1)
    first = open_(reg, "a", size=60 * KIB)
    open_(reg, "b", size=60 * KIB)  # fits once "a" is closed
    assert reg.of_member(1) == ["b"] and reg.held_bytes == 60 * KIB and first[0][0] == "upload.closed.replaced"


def test_resize_counts_the_rewritten_torrent() -> None:
    reg = registry()
    open_(reg, "a", size=10 * KIB)
    reg.resize("a", 10 * KIB + 20)
    assert reg.held_bytes == 10 * KIB + 20
    reg.release("a")
    reg.resize("a", 99)  # closed meanwhile: nothing to count
    assert reg.held_bytes == 0 and len(reg) == 0


def test_a_servers_key_going_closes_the_previews_relying_on_it() -> None:
    sending: set[str] = set()
    reg = registry(in_flight=sending)
    guild_key = open_(reg, "g", user=1, guild=10)
    personal = open_(reg, "p", user=2, guild=10, owner="member")
    elsewhere = open_(reg, "o", user=3, guild=11)
    open_(reg, "s", user=4, guild=10)
    sending.add("s")  # its request is out: left to finish (a retry re-checks the key)
    assert reg.close_guild(10, "key_removed", key_owner="guild") == 1
    assert guild_key == [("upload.closed.key_removed", {"fingerprint": "fp-g"})]
    assert personal == [] and elsewhere == [] and reg.is_open("p") and reg.is_open("s")
    assert reg.close_guild(10, "guild_left") == 1  # Vigie left: every preview of the server
    assert personal == [("upload.closed.guild_left", {"fingerprint": "fp-p"})] and reg.is_open("o")
    assert reg.held_bytes == 20 * KIB


def test_a_lost_preview_expires_unless_used() -> None:
    clock = Clock()
    reg = registry(clock=clock)
    lost = open_(reg, "lost")
    used = open_(reg, "used", user=2)
    clock.now += 50
    reg.touch("used")
    clock.now += 20
    reg.check_room(3, 1)  # any new preview looks for expired ones first
    assert lost == [("upload.expired", {})] and used == []
    assert not reg.is_open("lost") and reg.is_open("used") and reg.held_bytes == 10 * KIB


def test_a_failing_callback_does_not_break_closing() -> None:
    reg = registry(per_member=1)
    reg.open("a", user_id=1, guild_id=None, key_owner="member", key_fingerprint="f", size=1)

    def boom(key: str, values: dict[str, Any]) -> None:
        raise RuntimeError("view gone")

    reg.watch("a", boom)
    open_(reg, "b")
    assert reg.of_member(1) == ["b"] and not reg.watch("a", boom)


def test_the_budget_setting() -> None:
    from bot.config import ConfigError, load_settings

    base = {"discord_token": "token-value", "secret_key": "s" * 32}
    assert load_settings(**base).upload_preview_budget_bytes == 64 * 1024 * 1024
    assert (
        load_settings(**base, upload_preview_budget_bytes=8 * 1024 * 1024).upload_preview_budget_bytes
        == 8 * 1024 * 1024
    )
    with pytest.raises(ConfigError, match="UPLOAD_PREVIEW_BUDGET_BYTES"):
        load_settings(**base, upload_preview_budget_bytes=1000)
