import logging

import pytest

from bot.redaction import SECRET_INPUT_PREFIX, install_redaction, scrub_structure, secrets


@pytest.fixture(autouse=True)
def _installed() -> None:
    install_redaction()


def test_known_secret_is_masked_in_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    secrets.add("known-secret-value-123")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("some.library").debug("payload %s", {"k": "known-secret-value-123"})
    assert "known-secret-value-123" not in caplog.text
    assert "***" in caplog.text


def test_query_and_header_patterns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("x").info("GET /api/external?apikey=abcdef123&q=x passkey=zzz999 X-Api-Key: qwerty77")
    for leaked in ("abcdef123", "zzz999", "qwerty77"):
        assert leaked not in caplog.text


def test_discord_gateway_debug_payload_with_modal_value(caplog: pytest.LogCaptureFixture) -> None:
    payload = {
        "t": "INTERACTION_CREATE",
        "d": {
            "type": 5,
            "data": {
                "custom_id": "vigie:key-modal",
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 4, "custom_id": SECRET_INPUT_PREFIX + "apikey", "value": "never-seen-key-42"}
                        ],
                    },
                    {
                        "type": 18,
                        "component": {
                            "type": 4,
                            "custom_id": SECRET_INPUT_PREFIX + "apikey",
                            "value": "label-form-key-43",
                        },
                    },
                ],
            },
        },
    }
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", 0, payload)
        # and the same payload already rendered as text (JSON or repr)
        logging.getLogger("discord.http").debug(f"received {payload}")
    assert "never-seen-key-42" not in caplog.text
    assert "label-form-key-43" not in caplog.text
    # the original object handed to the logger is not modified
    assert payload["d"]["data"]["components"][0]["components"][0]["value"] == "never-seen-key-42"


def test_scrub_structure_leaves_other_inputs() -> None:
    data = [{"custom_id": "title", "value": "keep me"}]
    assert scrub_structure(data) == data


def test_exception_text_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    secrets.add("secret-in-exception-77")
    try:
        raise RuntimeError("boom secret-in-exception-77")
    except RuntimeError:
        logging.getLogger("y").exception("failed")
    assert "secret-in-exception-77" not in caplog.text


# -- every pattern of issue 9 item 12 -----------------------------------------------------------
from bot.redaction import SECRET_ENV_VARS, redact_url, redact_urls  # noqa: E402

API_KEY = "c2f1e0d9b8a7f6e5d4c3b2a1f0e9d8c7"
PASSKEY = "9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a"
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpwcml2YXRlLXN0dWZmLWhlcmU"
WEBHOOK_TOKEN = "Xk3vQ9-kP2mZ_r8LwT5yN1bH6cJ0dF4gA7sE3uI9oV2nM5qW8xY1zR4tU7pL0kJ3"


def logged(caplog: pytest.LogCaptureFixture, message: str, *args: object) -> str:
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("discord.http").debug(message, *args)
    return caplog.text


@pytest.mark.parametrize(
    "line",
    [
        f"request headers {{'User-Agent': 'Vigie', 'X-Api-Key': '{API_KEY}'}}",  # a dict's repr
        f'request headers {{"X-Api-Key": "{API_KEY}"}}',
        f"X-Api-Key: {API_KEY}",
        f'body {{"apikey": "{API_KEY}", "q": "dune"}}',  # JSON
        f"body {{'api_key': '{API_KEY}'}}",
        f"GET /api/external?apikey={API_KEY}&q=dune",
        f"Authorization: Bearer {API_KEY}",
        f"headers {{'Authorization': 'Bearer {API_KEY}'}}",
        f"headers {{'Authorization': 'Bot {API_KEY}'}}",
        f"sent with Bearer {API_KEY} to the proxy",
        f"announce http://t.example/announce.php?pk={API_KEY}&uploaded=0",
        f"announce http://t.example/announce.php?torrent_pass={API_KEY}",
        f"announce http://t.example/ann?authkey={API_KEY}&x=1",
    ],
)
def test_named_credentials_are_masked(caplog: pytest.LogCaptureFixture, line: str) -> None:
    text = logged(caplog, "%s", line)
    assert API_KEY not in text and "***" in text


def test_authorization_keeps_its_scheme(caplog: pytest.LogCaptureFixture) -> None:
    assert "Authorization: Bot ***" in logged(
        caplog, "Authorization: Bot %s", "MTIzNDU2Nzg5MDEy.GhIjKl.abcdefghijklmnopqrstuvwxyz012"
    )


def test_headers_dict_as_a_log_argument(caplog: pytest.LogCaptureFixture) -> None:
    headers = {"X-Api-Key": API_KEY, "Authorization": "Bearer " + API_KEY, "Accept": "application/json"}
    text = logged(caplog, "headers %s", headers)
    assert API_KEY not in text and "application/json" in text
    assert headers["X-Api-Key"] == API_KEY  # the caller's object is left alone


@pytest.mark.parametrize(
    "line",
    [
        "POST https://discord.com/api/v10/interactions/1234567890123456789/%s/callback with None has returned 204",
        "Webhook ID 123456789012345678 with PATCH https://discord.com/api/v10/webhooks/123456789012345678/%s/messages/@original has returned status code 200",
        "POST https://discord.com/api/webhooks/123456789012345678/%s?wait=true",
    ],
)
@pytest.mark.parametrize("token", [INTERACTION_TOKEN, WEBHOOK_TOKEN])
def test_interaction_and_webhook_tokens_in_urls(caplog: pytest.LogCaptureFixture, line: str, token: str) -> None:
    text = logged(caplog, line, token)
    assert token not in text
    # only the token goes: the route stays readable
    assert "/***/callback" in text or "/***/messages/@original" in text or "/***?wait=true" in text


def test_interaction_token_in_a_gateway_payload(caplog: pytest.LogCaptureFixture) -> None:
    payload = {
        "op": 0,
        "t": "INTERACTION_CREATE",
        "d": {"id": "1", "type": 2, "token": INTERACTION_TOKEN, "data": {"name": "search"}},
    }
    assert INTERACTION_TOKEN not in logged(caplog, "For Shard ID %s: WebSocket Event: %s", 0, payload)
    assert INTERACTION_TOKEN not in logged(caplog, f"received {payload}")  # already rendered (repr)
    import json

    assert INTERACTION_TOKEN not in logged(caplog, "raw %s", json.dumps(payload))  # JSON text
    assert payload["d"]["token"] == INTERACTION_TOKEN


def test_bot_token_by_shape_and_as_a_known_secret(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    shaped = "MTA5ODc2NTQzMjEwOTg3NjU0MzI.GaBcDe.fGhIjKlMnOpQrStUvWxYz0123456789abcd"
    assert shaped not in logged(caplog, "login with %s", shaped)
    # DISCORD_TOKEN (and the other secret settings) from the environment are known
    # secrets as soon as redaction is installed, whatever their shape.
    odd = "not-shaped-like-a-token-7741"
    monkeypatch.setenv("DISCORD_TOKEN", odd)
    assert "DISCORD_TOKEN" in SECRET_ENV_VARS
    install_redaction()
    try:
        assert odd not in logged(caplog, "token was %s", odd)
    finally:
        secrets.discard(odd)


@pytest.mark.parametrize(
    "split",
    [
        API_KEY[:13] + "\n" + API_KEY[13:],  # a wrapped line
        API_KEY[:13] + "\r\n    " + API_KEY[13:],  # wrapped and indented
        API_KEY[:20] + "\\n" + API_KEY[20:],  # an escaped newline in a repr or JSON text
    ],
)
def test_known_key_split_by_a_line_break(caplog: pytest.LogCaptureFixture, split: str) -> None:
    secrets.add(API_KEY)
    try:
        text = logged(caplog, "pasted: %s end", split)
        assert API_KEY[:13] not in text and API_KEY[20:] not in text
        assert "pasted: *** end" in text
    finally:
        secrets.discard(API_KEY)


def test_unknown_key_split_by_a_line_break(caplog: pytest.LogCaptureFixture) -> None:
    unknown = "f00dfeedcafebabe0123456789abcdef"
    text = logged(caplog, "GET /api?apikey=%s\n%s\nnext line", unknown[:16], unknown[16:])
    assert unknown[:16] not in text and unknown[16:] not in text and "next line" in text
    text = logged(caplog, '{"apikey": "%s\\n%s"}', unknown[:16], unknown[16:])
    assert unknown[:16] not in text and unknown[16:] not in text


@pytest.mark.parametrize(
    "url",
    [
        f"https://tracker.example/{PASSKEY}/announce",
        f"https://tracker.example:99999/{PASSKEY}/announce",
        f"http://tracker.example/announce/{PASSKEY}",
        f"udp://tracker.example:6969/{PASSKEY}",
        "https://tracker.example/a1b2c3d4e5f6g7h8i9j0/announce.php",  # not hex, but one long token
    ],
)
def test_passkey_in_an_announce_url_path(caplog: pytest.LogCaptureFixture, url: str) -> None:
    secret = url.split("/")[3] if "/announce/" not in url else url.rsplit("/", 1)[1]
    text = logged(caplog, "refused .torrent: invalid: ['announce'] is invalid: %r", url)
    assert secret not in text and "***" in text and "tracker.example" in text


def test_urls_without_secrets_stay_readable() -> None:
    kept = [
        "https://la-cale.space/api/torrents/download/0123456789abcdef0123456789abcdef01234567",
        "https://la-cale.space/torrents/dune-part-two-2024-multi-1080p",
        "https://tracker.example/announce",
        "https://discord.com/api/v10/channels/123456789012345678/messages",
    ]
    for url in kept:
        assert redact_url(url) == url
        assert secrets.redact(f"GET {url} -> 200") == f"GET {url} -> 200"
    assert redact_url("https://user:pw@tracker.example/announce") == "https://***@tracker.example/announce"
    assert redact_urls(f"bad 'https://t.example/{PASSKEY}/announce' and 'https://t.example/x'") == (
        "bad 'https://t.example/***/announce' and 'https://t.example/x'"
    )


def test_ordinary_words_are_not_masked() -> None:
    line = "the token was refused; token_type bearer; key saved; passkeys are personal"
    assert secrets.redact(line) == line


def test_logs_hide_whatever_the_public_link_detector_finds() -> None:
    """One detector (issue 9 item 8): a URL a public link would refuse for its secret is
    never logged with that secret either (a UUID feed token, a passkey as a sub-domain or
    as a query value under a harmless name...)."""
    from bot.urls import url_carries_secret
    from tests.unit.test_urls import SECRET as URLS_WITH_SECRETS

    for url in URLS_WITH_SECRETS:
        masked = redact_url(url)
        assert "***" in masked, url
        assert not url_carries_secret(masked), (url, masked)
        assert secrets.redact(f"GET {url} -> 200") == f"GET {masked} -> 200"
