"""One detector for secrets in URLs: the announce-URL masking and the public link builders
(search results, alert cards, upload announcements) apply the same rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.lacale.models import Torrent
from bot.services.uploads.drafts import upload_link
from bot.torrents import redact_announce
from bot.urls import redact_secrets, url_carries_secret

BASE = "https://la-cale.space"
HASH = "0123456789abcdef0123456789abcdef01234567"
PASSKEY = "0123456789abcdef0123456789abcdef"
TOKEN = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bD1fH2x"

SECRET = [
    f"{BASE}/torrents/x?pk=abc",
    f"{BASE}/torrents/x?torrent_pass=abc",
    f"{BASE}/torrents/x?authkey=abc",
    f"{BASE}/torrents/x?passkey=abc",
    f"{BASE}/torrents/x?PassKey=abc",
    f"{BASE}/torrents/x?apikey=abc",
    f"{BASE}/torrents/x?api_key=abc",
    f"{BASE}/torrents/x?api%5Fkey=abc",
    f"{BASE}/torrents/x?key=abc",
    f"{BASE}/torrents/x?token=abc",
    f"{BASE}/torrents/x?auth=abc",
    f"{BASE}/torrents/x?secret=abc",
    f"{BASE}/torrents/x?sig=abc",
    f"{BASE}/torrents/x?rsskey=abc",
    f"{BASE}/torrents/x?download_token=abc",
    f"{BASE}/torrents/x?page=2&pk=abc",
    f"{BASE}/torrents/x?page=2;pk=abc",
    f"{BASE}/torrents/x#passkey=abc",
    f"{BASE}/torrents/x;passkey=abc",
    f"{BASE}/announce/{PASSKEY}",
    f"{BASE}/{PASSKEY}/announce",
    f"{BASE}/{TOKEN}/announce",
    f"{BASE}/torrents/{PASSKEY.upper()}",
    f"{BASE}/rss/0f8fad5b-d9cb-469f-a165-70867728950e",
    f"{BASE}/torrents/x?ref={PASSKEY}",
    "https://user:pw@la-cale.space/torrents/x",
    f"https://{PASSKEY}.la-cale.space/torrents/x",
    f"udp://t.example:6969/{PASSKEY}/announce",
]

CLEAN = [
    f"{BASE}/torrents/ma-cargaison-abc123",
    f"{BASE}/torrents/one-piece-s01e01-1080p-web-dl-multi-lacale-abc123",
    f"{BASE}/api/torrents/download/{HASH}",
    f"{BASE}/torrents/x?page=2&sort=new",
    f"{BASE}/torrents/x?passkey=",
    f"{BASE}/torrents/announcement-of-the-very-long-path-name",
    "udp://t.example:6969/announce",
    "",
]


@pytest.mark.parametrize("url", SECRET)
def test_secrets_are_detected_and_masked(url: str) -> None:
    assert url_carries_secret(url)
    masked = redact_secrets(url)
    assert "***" in masked
    for secret in ("abc", PASSKEY, PASSKEY.upper(), TOKEN, "pw", "0f8fad5b-d9cb"):
        assert secret not in masked.split("://", 1)[-1].replace("la-cale.space", "")


@pytest.mark.parametrize("url", CLEAN)
def test_clean_urls_are_left_alone(url: str) -> None:
    assert not url_carries_secret(url)
    assert redact_secrets(url) == url


@pytest.mark.parametrize("url", SECRET + CLEAN)
def test_announce_masking_is_the_same_detector(url: str) -> None:
    """What the upload preview masks in a tracker URL is exactly what a public link refuses."""
    assert (redact_announce(url) != url) is url_carries_secret(url)
    assert redact_announce(url) == redact_secrets(url)


def test_a_known_public_value_is_not_a_secret() -> None:
    assert url_carries_secret(f"{BASE}/torrents/{HASH}")
    assert not url_carries_secret(f"{BASE}/torrents/{HASH}", public=(HASH,))


def _torrent(link: str | None, info_hash: str = HASH) -> Torrent:
    return Torrent.model_validate(
        {"title": "t", "pubDate": datetime(2026, 1, 1, tzinfo=UTC), "link": link, "infoHash": info_hash}
    )


@pytest.mark.parametrize("link", SECRET)
def test_public_link_is_rebuilt_from_the_base_url_when_the_detector_fires(link: str) -> None:
    link = link.replace("https://la-cale.space", BASE)
    assert _torrent(link).page_url(BASE) == f"{BASE}/api/torrents/download/{HASH}"


@pytest.mark.parametrize(
    "link",
    [f"{BASE}/torrents/ma-cargaison-abc123", f"{BASE}/torrents/{HASH}", f"{BASE}/api/torrents/download/{HASH}"],
)
def test_a_clean_link_on_the_site_is_kept(link: str) -> None:
    assert _torrent(link).page_url(BASE) == link


def test_a_malformed_info_hash_cannot_add_a_path_or_a_query() -> None:
    url = _torrent(None, info_hash="x/../announce?passkey=s3cr3t").page_url(BASE)
    assert "?" not in url and "/../" not in url and url.startswith(BASE + "/api/torrents/download/")
    assert _torrent(None, info_hash=PASSKEY).page_url(BASE) == BASE + "/"


def test_upload_link_uses_the_same_detector() -> None:
    class Result:
        def __init__(self, link: str | None, slug: str | None) -> None:
            self.link, self.slug = link, slug

    assert upload_link(Result(f"{BASE}/torrents/x?pk=abc", "x"), BASE, HASH) == f"{BASE}/torrents/x"  # type: ignore[arg-type]
    assert upload_link(Result(f"{BASE}/{PASSKEY}/x", None), BASE, HASH) == f"{BASE}/api/torrents/download/{HASH}"  # type: ignore[arg-type]
    assert upload_link(Result(None, PASSKEY), BASE, HASH) == f"{BASE}/api/torrents/download/{HASH}"  # type: ignore[arg-type]
    assert upload_link(Result(f"{BASE}/torrents/ok-slug-1", "ok"), BASE, HASH) == f"{BASE}/torrents/ok-slug-1"  # type: ignore[arg-type]
