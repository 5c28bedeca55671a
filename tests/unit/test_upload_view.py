"""The upload preview's rendering and its one rule the fake Discord cannot exercise (an
ephemeral message is only visible to its author): only the uploader may press."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import AsyncMock, MagicMock

import pytest

from bot.lacale.models import Meta
from bot.services.uploads import (
    UploadDraft,
    UploadOutcome,
    UploadStatus,
    decode_nfo,
    nfo_excerpt,
    resolve_category,
    resolve_tag_list,
    tag_choices,
)
from bot.torrents import read_torrent
from bot.ui.cards import announcement_embed, outcome_text, preview_embed
from bot.ui.upload_view import UploadPreviewView
from tests.support.torrent_factory import make_torrent

META = Meta.model_validate(json.loads((Path(__file__).parents[1] / "fakes" / "lacale_meta.json").read_text("utf-8")))
SECRET = "the-api-key-never-shown-0123456789"
PASSKEY_URL = "https://tracker.la-cale.space/announce?passkey=0123456789abcdef0123456789abcdef"


def draft(**changes: object) -> UploadDraft:
    info = read_torrent(
        make_torrent(
            "Arcane.S02.1080p",
            source=None,
            private=False,
            files=[("E01.mkv", 5_000_000), ("Subs/fr.srt", 3000)],
            announce=[PASSKEY_URL] + [f"https://t{i}.example/announce" for i in range(5)],
        )
    )
    flat = resolve_category(META, "series")
    tags = resolve_tag_list(META, "1080p, VFF")
    values: dict[str, object] = {
        "id": "d1",
        "guild_id": 1,
        "user_id": 42,
        "title": "Arcane *S02* @everyone [x](https://evil)",
        "category_id": flat.category.id,
        "category_label": flat.label,
        "category_path": flat.path,
        "tags": tags,
        "tag_options": tag_choices(META, flat.path, tags),
        "description": "**desc** " * 100,
        "tmdb_id": "94605",
        "tmdb_type": "TV",
        "cover_url": "https://image.tmdb.org/a.jpg",
        "torrent": info,
        "torrent_filename": "Arcane.torrent",
        "nfo": b"n",
        "nfo_filename": "Arcane.nfo",
        "nfo_excerpt": nfo_excerpt(decode_nfo(("```end of block``` " * 40 + "\n").encode() * 20)),
        "source_fixed": False,
        "original_info_hash": info.info_hash,
        "key_fingerprint": "ab12-cd34",
        "key_owner": "guild",
        "api_key": SECRET,
    }
    values.update(changes)
    return UploadDraft(**values)  # type: ignore[arg-type]


def everything(embed: object) -> str:
    data = embed.to_dict()  # type: ignore[attr-defined]
    return json.dumps(data, ensure_ascii=False)


@pytest.mark.parametrize("locale", ["fr", "en-US"])
def test_preview_fits_discord_and_hides_secrets(locale: str) -> None:
    d = draft()
    embed = preview_embed(d, locale)
    assert len(embed) <= 6000 and all(len(f.value) <= 1024 for f in embed.fields)
    text = everything(embed)
    assert SECRET not in text and SECRET not in repr(d)
    assert "0123456789abcdef0123456789abcdef" not in text and "passkey=***" in text
    title_field = next(f.value for f in embed.fields if f.name in ("Title", "Titre"))
    assert "\\*S02\\*" in title_field and "[x](https://evil)" not in title_field  # Markdown escaped
    assert "@everyone" not in text  # escaped mention (zero-width space inserted)
    nfo = next(f.value for f in embed.fields if f.name == "NFO")
    assert nfo.startswith("```\n") and nfo.endswith("\n```") and nfo.count("```") == 2  # the NFO cannot close its block
    assert "source" in (embed.description or "").lower()


def test_outcome_texts_name_the_account_and_never_a_key() -> None:
    d = draft(key_owner="member")
    uploaded = outcome_text(UploadOutcome(UploadStatus.UPLOADED, d, link="https://la-cale.space/torrents/a"), "en")
    assert "`ab12-cd34`" in uploaded and "https://la-cale.space/torrents/a" in uploaded
    refused = outcome_text(UploadOutcome(UploadStatus.KEY_REFUSED, d), "fr")
    assert "upload:write" in refused and "/clé définir" in refused
    limited = outcome_text(UploadOutcome(UploadStatus.RATE_LIMITED, d, retry_after=3.2), "en")
    assert "in 4 s" in limited
    bad = outcome_text(UploadOutcome(UploadStatus.REFUSED, d, message="nope **@everyone**"), "en")
    assert "\\*\\*" in bad


def test_announcement_card_carries_no_secret() -> None:
    d = draft()
    card = announcement_embed(
        UploadOutcome(UploadStatus.UPLOADED, d, link="https://la-cale.space/torrents/a"),
        base_url="https://la-cale.space",
        locale="fr",
    )
    text = everything(card)
    assert card.url == "https://la-cale.space/torrents/a" and "passkey" not in text and SECRET not in text
    assert "1080p" in text


async def test_only_the_uploader_can_press() -> None:
    view = UploadPreviewView(service=MagicMock(), draft=draft(), locale="en")
    other = SimpleNamespace(
        user=SimpleNamespace(id=7),
        locale="en-US",
        data={"custom_id": "upload:confirm"},
        response=SimpleNamespace(send_message=AsyncMock()),
    )
    assert not await view.interaction_check(other)  # type: ignore[arg-type]
    other.response.send_message.assert_awaited_once()
    assert other.response.send_message.await_args.kwargs["ephemeral"] is True
    owner = SimpleNamespace(
        user=SimpleNamespace(id=42), locale="en-US", response=SimpleNamespace(send_message=AsyncMock())
    )
    assert await view.interaction_check(owner)  # type: ignore[arg-type]
    ids = {getattr(item, "custom_id", None) for item in view.children}
    assert ids == {"upload:tags", "upload:confirm", "upload:fix_source", "upload:cancel"}
    view.stop()
