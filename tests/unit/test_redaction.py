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
                    {"type": 1, "components": [{"type": 4, "custom_id": SECRET_INPUT_PREFIX + "apikey", "value": "never-seen-key-42"}]},
                    {"type": 18, "component": {"type": 4, "custom_id": SECRET_INPUT_PREFIX + "apikey", "value": "label-form-key-43"}},
                ],
            },
        },
    }
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", 0, payload)
        # and the same payload already rendered as text (JSON or repr)
        logging.getLogger("discord.http").debug("received %s" % payload)
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
