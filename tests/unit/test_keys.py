import pytest

from bot.config import load_settings
from bot.services.keys import KeyDecryptError, KeyVault, normalize_api_key


def vault(secret: str = "s" * 32) -> KeyVault:
    return KeyVault(load_settings(discord_token="t", secret_key=secret).fernet_key)


def test_round_trip_and_ciphertext_hides_key() -> None:
    v = vault()
    token = v.encrypt("my-api-key-123456")
    assert "my-api-key-123456" not in token
    assert v.decrypt(token) == "my-api-key-123456"


def test_other_secret_cannot_decrypt() -> None:
    token = vault().encrypt("my-api-key-123456")
    with pytest.raises(KeyDecryptError):
        vault("o" * 32).decrypt(token)


def test_fingerprint_is_stable_short_and_not_the_key() -> None:
    v = vault()
    fp = v.fingerprint("my-api-key-123456")
    assert fp == v.fingerprint("my-api-key-123456")
    assert len(fp) == 9 and "key" not in fp
    assert fp != vault("o" * 32).fingerprint("my-api-key-123456")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  abc12345 ", "abc12345"), ('"abc12345"', "abc12345"), ("", None), ("ab cd", None), ("x" * 300, None)],
)
def test_normalize(raw: str, expected: str | None) -> None:
    assert normalize_api_key(raw) == expected
