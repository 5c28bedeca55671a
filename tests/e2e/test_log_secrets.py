"""No secret in any log line, even at DEBUG, over a run that touches every road a secret
takes: /setup key, /key set, /search, a download with a member's key, an upload refused
for a tracker URL carrying a passkey in its path, an accepted upload, and an alert post.

Every record of every logger (Vigie's, discord.py's raw gateway and HTTP lines, aiohttp,
SQLAlchemy...) is captured by a handler on the root logger and formatted as an operator
would see it (message, arguments and traceback text); each secret the run used is then
looked for in that text: API keys, passkeys, every interaction/webhook token the fake
Discord handed out, and the bot token itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from torf import _flatbencode as bencode

from tests.e2e.conftest import VigieWorld
from tests.support.torrent_factory import make_torrent

pytestmark = pytest.mark.asyncio

FILMS_HD = "cmv0aa1fhd000003hd8x1v6q"
NFO = b"Some.Release.2024.1080p\n\nVideo: x264 1080p\nAudio: French AC3 5.1\n" * 2


class _Everything(logging.Handler):
    """Keeps the operator's view of every record: the formatted line and the traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.exc_text:
            self.lines.append(record.exc_text)
        if record.stack_info:
            self.lines.append(record.stack_info)


@pytest.fixture
def debug_logs() -> Iterator[_Everything]:
    """Set up *before* ``world`` (listed first), so the bot's login is captured too."""
    handler = _Everything()
    root = logging.getLogger()
    saved = {
        name: logging.getLogger(name).level
        for name in ("", "discord", "discord.http", "discord.gateway", "aiohttp", "bot")
    }
    root.addHandler(handler)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


async def _alerts_cycle(world: VigieWorld) -> None:
    assert world.bot is not None
    alerts = world.bot.get_cog("Alerts")
    assert alerts is not None
    await alerts.scheduler.run_cycle(spread=0)  # type: ignore[attr-defined]
    await alerts.sender.flush()  # type: ignore[attr-defined]


def _leaks(lines: list[str], secrets: dict[str, str]) -> dict[str, list[str]]:
    text = "\n".join(lines)
    # A secret also counts as leaked when a line break (real or escaped) splits it.
    flat = text.replace("\\r", "").replace("\\n", "").replace("\r", "").replace("\n", "")
    found: dict[str, list[str]] = {}
    for name, value in secrets.items():
        if value in text or value in flat:
            found[name] = [line[:300] for line in lines if value in line][:3] or ["(split across lines)"]
    return found


async def test_no_secret_in_any_log_line_at_debug(debug_logs: _Everything, world: VigieWorld) -> None:
    w = world
    lc = w.lacale
    # /setup key (the admin) and /key set (a member), through the modals.
    await w.register_key()
    personal = lc.add_key()
    answer = await w.register_member_key(w.member, personal)
    assert (await answer.wait_final())["content"]

    # /search, the details of a result and a download with the member's own key.
    lc.add_torrent("Dune.Part.Two.2024.1080p.WEB", category_label="Films HD")
    search = await w.invoke("search", by=w.member, query="dune")
    await search.wait_final()
    details = await w.discord.select(search, "search:details", ["0"], by=w.member)
    await details.wait_final()
    download = await w.discord.click(details, "search:download", by=w.member)
    got = await download.wait_final()
    assert lc.passkey_of(personal).encode() in got["attachments"][0]["data"]

    # An upload refused for its tracker URL, which carries a passkey in its *path*.
    assert w.bot is not None
    w.bot.services.uploads.verify_delay = 0.0
    path_passkey = "7f3a9c0e5b1d4f2a8c6e0b9d7a5f3c1e"
    metainfo = bencode.decode(make_torrent("Refused.Release.1080p", source="lacale"))
    metainfo[b"announce"] = f"https://tracker.example:99999/{path_passkey}/announce".encode()  # port out of range
    bad = bencode.encode(metainfo)
    refused = await w.invoke(
        "upload",
        torrent=w.discord.add_attachment("Refused.Release.1080p.torrent", bad),
        category=FILMS_HD,
        nfo=w.discord.add_attachment("release.nfo", NFO),
    )
    answer = await refused.wait_final()
    assert answer["content"] and not answer.get("components"), "refused with a message, no preview"

    # An accepted upload whose tracker URL has a passkey in the path and in the query.
    other_passkey = "c0ffee00deadbeef1234567890abcdef"
    query_passkey = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    good = make_torrent(
        "Some.Release.2024.1080p",
        source="lacale",
        announce=[
            f"https://tracker.example/{other_passkey}/announce",
            f"https://t2.example/announce?passkey={query_passkey}",
        ],
    )
    upload = await w.invoke(
        "upload",
        torrent=w.discord.add_attachment("Some.Release.2024.1080p.torrent", good),
        category=FILMS_HD,
        nfo=w.discord.add_attachment("release.nfo", NFO),
    )
    await upload.wait_final()
    click = await w.discord.click(upload, "upload:confirm")
    await click.wait_response()
    await upload.wait_final(predicate=lambda m: not m.get("components"))
    assert lc.uploads and lc.uploads[-1].accepted

    # An alert and its post.
    created = await w.invoke("alert add", name="arcane", query="arcane")
    await created.wait_final()
    await _alerts_cycle(w)
    lc.add_torrent("Arcane.S02E01.1080p")
    await _alerts_cycle(w)
    await w.discord.wait_for_channel_message(w.channel, lambda m: bool(m.get("embeds")))

    secrets: dict[str, str] = {
        "server key": w.key,
        "member key": personal,
        "server passkey": lc.passkey_of(w.key),
        "member passkey": lc.passkey_of(personal),
        "passkey in a refused torrent's path": path_passkey,
        "passkey in an uploaded torrent's path": other_passkey,
        "passkey in an uploaded torrent's query": query_passkey,
        "bot token": w.discord.token,
    }
    tokens = {rec.token for rec in w.discord._by_token.values()}
    assert len(tokens) >= 8, "the run used interaction tokens (followups go through webhooks/{app}/{token})"
    secrets.update({f"interaction token {i}": token for i, token in enumerate(sorted(tokens))})

    lines = debug_logs.lines
    assert len(lines) > 200 and any("WebSocket Event" in line for line in lines), (
        "discord.py's DEBUG lines were captured"
    )
    # The refused torrent's tracker URL did reach the log (INFO), masked.
    assert any("tracker.example:99999/***/announce" in line for line in lines)
    leaks: dict[str, Any] = _leaks(lines, secrets)
    assert not leaks, f"leaked: {sorted(leaks)}\n{leaks}"
    # Masks are targeted: the routes stay readable, only the token is gone.
    assert any("/interactions/" in line and "/***/callback" in line for line in lines)
    assert any("/webhooks/" in line and "/***" in line for line in lines)
