import pytest

from bot.config import load_settings
from bot.services.vault import KeyDecryptError, KeyVault, normalize_api_key


def vault(secret: str = "s" * 32, old: str | None = None) -> KeyVault:
    settings = load_settings(discord_token="t", secret_key=secret, secret_key_old=old)
    return KeyVault(settings.fernet_key, settings.old_fernet_keys)


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


# -- SECRET_KEY rotation ----------------------------------------------------------------------
OLD, NEW = "old-secret-" + "o" * 24, "new-secret-" + "n" * 24


def test_old_secret_reads_and_rotation_writes_under_the_new_one() -> None:
    token = vault(OLD).encrypt("my-api-key-123456")
    rotating = vault(NEW, old=OLD)
    assert rotating.decrypt(token) == "my-api-key-123456"
    assert not rotating.is_current(token)
    rotated = rotating.rotate(token)
    assert rotated is not None and rotated != token
    # The new token needs only the new secret: SECRET_KEY_OLD can then be dropped.
    assert vault(NEW).decrypt(rotated) == "my-api-key-123456"
    with pytest.raises(KeyDecryptError):
        vault(OLD).decrypt(rotated)


def test_token_already_under_the_current_secret_is_not_rewritten() -> None:
    v = vault(NEW, old=OLD)
    token = v.encrypt("my-api-key-123456")
    assert v.is_current(token) and v.rotate(token) is None
    # Encryption always uses the current secret, never an old one.
    assert vault(NEW).decrypt(token) == "my-api-key-123456"


def test_unreadable_token_raises_on_read_and_on_rotation() -> None:
    token = vault("x" * 32).encrypt("my-api-key-123456")
    v = vault(NEW, old=OLD)
    with pytest.raises(KeyDecryptError):
        v.decrypt(token)
    with pytest.raises(KeyDecryptError):
        v.rotate(token)
    with pytest.raises(KeyDecryptError):
        v.decrypt("not a fernet token")


def test_secret_key_old_takes_several_secrets_and_one_with_a_comma() -> None:
    second = "second-old-" + "s" * 24
    with_comma = "with,a-comma-" + "c" * 24
    tokens = [
        vault(OLD).encrypt("k1-123456789"),
        vault(second).encrypt("k2-123456789"),
        vault(with_comma).encrypt("k3-123456789"),
    ]
    v = vault(NEW, old=f" {OLD} , {second}")
    assert [v.decrypt(t) for t in tokens[:2]] == ["k1-123456789", "k2-123456789"]
    assert vault(NEW, old=with_comma).decrypt(tokens[2]) == "k3-123456789"
    assert load_settings(discord_token="t", secret_key=NEW, secret_key_old="").old_fernet_keys == []
    assert load_settings(discord_token="t", secret_key=NEW).old_fernet_keys == []


def test_fingerprint_follows_the_current_secret_only() -> None:
    assert vault(NEW, old=OLD).fingerprint("my-api-key-123456") == vault(NEW).fingerprint("my-api-key-123456")


def test_decrypt_or_none() -> None:
    """For keys being replaced or removed: nothing stored, or unreadable, is ``None``."""
    current = vault()
    assert current.decrypt_or_none(None) is None and current.decrypt_or_none("") is None
    assert current.decrypt_or_none(current.encrypt("k" * 20)) == "k" * 20
    assert current.decrypt_or_none(vault("o" * 32).encrypt("k" * 20)) is None
