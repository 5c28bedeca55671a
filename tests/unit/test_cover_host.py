"""cover_url never names a machine of La Cale's own network: every IP literal in any
notation URL parsers accept, and every local-only name, is refused with its own message
(issue 9, item 9). Pure functions, one table of cases."""

from __future__ import annotations

import pytest

from bot import i18n
from bot.errors import UserError
from bot.services.uploads import check_cover_url
from bot.services.uploads.hosts import judge_host

IP_LITERALS = [
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://10.0.0.5/a.jpg",
    "https://192.168.1.1/a.jpg",
    "https://127.0.0.1/a.jpg",
    "https://127.1/a.jpg",  # shortened
    "https://127.0.1/a.jpg",
    "https://2130706433/a.jpg",  # decimal
    "https://0x7f000001/a.jpg",  # hex
    "https://0x7F.0.0.1/a.jpg",
    "https://0177.0.0.1/a.jpg",  # octal
    "https://127.0.0.1./a.jpg",  # trailing dot
    "https://8.8.8.8/a.jpg",  # public addresses too: a cover names a site
    "https://[::1]/a.jpg",
    "https://[::ffff:127.0.0.1]/a.jpg",  # IPv4-mapped IPv6
    "https://[::ffff:7f00:1]/a.jpg",
    "https://[fe80::1%25eth0]/a.jpg",  # zone id
    "https://[2001:db8::1]:8443/a.jpg",
    "https://１２７.０.０.１/a.jpg",  # full-width digits, mapped by IDNA
    "https://127。0。0。1/a.jpg",  # ideographic full stops
    "https://169.254.169.254:443/a.jpg",
]

LOCAL_NAMES = [
    "https://localhost/a.jpg",
    "https://LOCALHOST./a.jpg",
    "https://app.localhost/a.jpg",
    "https://nas.local/a.jpg",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://router.lan/a.jpg",
    "https://printer.home.arpa/a.jpg",
    "https://box.localdomain/a.jpg",
    "https://1.0.0.127.in-addr.arpa/a.jpg",
    "https://metadata/a.jpg",  # single label, no dot
    "https://intranet./a.jpg",
]

PUBLIC = [
    "https://image.tmdb.org/t/p/w500/abc.jpg",
    "https://i.imgur.com/x.png",
    "https://example.com./a.jpg",  # a fully qualified name is still public
    "https://cdn-1.example.co.uk:8443/a.png",
    "https://10.example.com/a.jpg",  # a digit label that is not the last one
    "https://a0x7f.example.com/a.jpg",
    "https://ex_ample.com/a.jpg",
]


def _key_of(url: str) -> str:
    with pytest.raises(UserError) as caught:
        check_cover_url(url)
    return caught.value.key


@pytest.mark.parametrize("url", IP_LITERALS)
def test_ip_literals_refused_in_every_notation(url: str) -> None:
    assert _key_of(url) == "upload.cover.ip_literal"


@pytest.mark.parametrize("url", LOCAL_NAMES)
def test_local_only_names_refused(url: str) -> None:
    assert _key_of(url) == "upload.cover.local_name"


@pytest.mark.parametrize("url", PUBLIC)
def test_public_names_accepted(url: str) -> None:
    assert check_cover_url(url) == url


@pytest.mark.parametrize(
    "url", ["https://127.0.0.%31/a.jpg", "https://exa%6dple.com/a.jpg", "https://a..b.com/a.jpg", "https://-x.com./"]
)
def test_escaped_or_malformed_hosts_are_invalid(url: str) -> None:
    assert _key_of(url) == "upload.cover.invalid"


@pytest.mark.parametrize(
    ("host", "problem", "shown"),
    [
        ("127.1", "ip_literal", "127.1"),
        ("0x7f000001.", "ip_literal", "0x7f000001"),
        ("::ffff:127.0.0.1", "ip_literal", "::ffff:127.0.0.1"),
        ("Metadata.Google.Internal.", "local_name", "metadata.google.internal"),
        ("image.tmdb.org", None, "image.tmdb.org"),
    ],
)
def test_judge_host(host: str, problem: str | None, shown: str) -> None:
    verdict = judge_host(host)
    assert (verdict.problem, verdict.host) == (problem, shown)


def test_messages_name_the_host_in_both_languages() -> None:
    for url, key, host in [
        ("https://169.254.169.254/latest/", "upload.cover.ip_literal", "`169.254.169.254`"),
        ("https://metadata.google.internal/", "upload.cover.local_name", "`metadata.google.internal`"),
    ]:
        with pytest.raises(UserError) as caught:
            check_cover_url(url)
        assert caught.value.key == key and caught.value.values == {"host": host}
        en = i18n.t("en-US", key, **caught.value.values)
        fr = i18n.t("fr", key, **caught.value.values)
        assert host in en and host in fr and en != fr
    assert "IP address" in i18n.t("en-US", "upload.cover.ip_literal", host="`x`")
    assert "adresse IP" in i18n.t("fr", "upload.cover.ip_literal", host="`x`")
    assert "local network" in i18n.t("en-US", "upload.cover.local_name", host="`x`")
    assert "réseau local" in i18n.t("fr", "upload.cover.local_name", host="`x`")
