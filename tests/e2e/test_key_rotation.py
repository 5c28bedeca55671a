"""SECRET_KEY changed: stored keys shown unreadable, alerts paused with that reason,
commands saying so; SECRET_KEY_OLD makes them readable and re-encrypts them."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.services.vault import KeyDecryptError, KeyVault
from tests.e2e.conftest import SECRET_KEY, VigieWorld, vigie_settings
from tests.e2e.conftest import alert_cycle as cycle

NEW_SECRET = "a-new-secret-key-for-vigie-9876543210"


def db(world: VigieWorld) -> sqlite3.Connection:
    return sqlite3.connect(world.settings.database_url.split("///", 1)[1])


async def final(
    world: VigieWorld, command: str, *, by: Any = None, locale: str = "en-US", **options: Any
) -> dict[str, Any]:
    rec = await world.invoke(command, by=by, locale=locale, **options)
    return await rec.wait_final()


async def restart_with(world: VigieWorld, tmp_path: Path, **secrets: str) -> None:
    # New settings rather than a copy: a copy would keep the cached Fernet key.
    world.settings = vigie_settings(tmp_path, world.discord, world.lacale, world.guild.id, **secrets)
    await world.restart()


def key_field(status: dict[str, Any]) -> str:
    return status["embeds"][0]["fields"][0]["value"]


def alerts_field(status: dict[str, Any]) -> str:
    return status["embeds"][0]["fields"][1]["value"]


def alert_rows(world: VigieWorld) -> list[tuple[int, str | None]]:
    return db(world).execute("select paused, pause_reason from alerts order by id").fetchall()


async def setup_keys_and_alert(world: VigieWorld) -> str:
    await world.register_key()
    personal = world.lacale.add_key()
    await world.register_member_key(world.member, personal)
    world.lacale.add_torrent("Dune.2021.1080p")
    assert "created" in (await final(world, "alert add", name="dune", query="dune"))["content"]
    return personal


async def test_changed_secret_key_shows_keys_unreadable_and_pauses_alerts(
    world: VigieWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await setup_keys_and_alert(world)
    await restart_with(world, tmp_path, secret_key=NEW_SECRET)
    # The operator, who alone can fix SECRET_KEY, is told at start.
    assert any(
        r.levelno == logging.ERROR
        and "1 server keys and 1 personal keys cannot be decrypted" in r.getMessage()
        and "SECRET_KEY_OLD" in r.getMessage()
        for r in caplog.records
    )

    # Paused at start, with the reason, before anyone asks.
    assert alert_rows(world) == [(1, "key_unreadable")]
    status = await final(world, "setup status")
    assert "Unreadable" in key_field(status) and "Valid" not in key_field(status)
    assert "SECRET_KEY_OLD" in key_field(status) and "/setup key" in key_field(status)
    assert "1 paused" in alerts_field(
        status
    ) and "dune — the server's La Cale key can no longer be read" in alerts_field(status)
    status_fr = await final(world, "setup status", locale="fr")
    assert "Illisible" in key_field(status_fr)
    # A French member's client shows the commands under their French names.
    assert "/configuration clé" in key_field(status_fr) and "/setup key" not in key_field(status_fr)
    assert "can no longer be read" in (await final(world, "alert list"))["embeds"][0]["description"]
    assert "can no longer be read" in (await final(world, "alert resume", name="dune"))["content"]
    assert alert_rows(world) == [(1, "key_unreadable")]
    assert (await cycle(world)).guilds == 0

    # Commands say what is wrong, not "no key".
    searched = (await final(world, "search", query="dune"))["content"]
    assert (
        "This server's La Cale key" in searched
        and "can no longer be read" in searched
        and "no La Cale key" not in searched
    )
    mine = (await final(world, "search", query="dune", by=world.member))["content"]
    assert "Your personal La Cale key" in mine and "/key set" in mine
    personal_status = (await final(world, "key status", by=world.member))["content"]
    assert "can no longer be read" in personal_status and "/key set" in personal_status
    personal_fr = (await final(world, "key status", by=world.member, locale="fr"))["content"]
    assert "ne peut plus être lue" in personal_fr and "/clé définir" in personal_fr and "/key set" not in personal_fr
    refused_add = (await final(world, "alert add", name="arcane", query="arcane"))["content"]
    assert "can no longer be read" in refused_add

    # Registering the key again resumes what the unreadable key paused.
    await world.register_key()
    assert alert_rows(world) == [(0, None)]
    status = await final(world, "setup status")
    assert "Valid" in key_field(status) and "0 paused" in alerts_field(status)
    assert (await cycle(world)).guilds == 1


async def test_secret_key_old_reads_and_reencrypts_every_key(
    world: VigieWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    personal = await setup_keys_and_alert(world)
    before = (
        db(world)
        .execute("select (select api_key_encrypted from guild_settings), (select api_key_encrypted from member_keys)")
        .fetchone()
    )

    await restart_with(
        world, tmp_path, secret_key=NEW_SECRET, secret_key_old=f"some-older-secret-0000000000,{SECRET_KEY}"
    )
    assert alert_rows(world) == [(0, None)]
    guild_token, member_token, guild_fp, member_fp = (
        db(world)
        .execute(
            "select g.api_key_encrypted, m.api_key_encrypted, g.key_fingerprint, m.key_fingerprint from guild_settings g, member_keys m"
        )
        .fetchone()
    )
    assert (guild_token, member_token) != tuple(before) and guild_token != before[0] and member_token != before[1]
    new_vault = KeyVault(
        vigie_settings(tmp_path, world.discord, world.lacale, world.guild.id, secret_key=NEW_SECRET).fernet_key
    )
    old_vault = KeyVault(vigie_settings(tmp_path, world.discord, world.lacale, world.guild.id).fernet_key)
    assert new_vault.decrypt(guild_token) == world.key and new_vault.decrypt(member_token) == personal
    with pytest.raises(KeyDecryptError):
        old_vault.decrypt(guild_token)
    # Fingerprints follow the secret: the same key registered again shows the same one.
    assert guild_fp == new_vault.fingerprint(world.key) and member_fp == new_vault.fingerprint(personal)
    assert any("re-encrypted 2 stored La Cale keys" in r.getMessage() for r in caplog.records)
    assert any("SECRET_KEY_OLD can be removed" in r.getMessage() for r in caplog.records)

    status = await final(world, "setup status")
    assert "Valid" in key_field(status) and f"`{guild_fp}`" in key_field(status)
    assert "Dune.2021.1080p" in str(await final(world, "search", query="dune", by=world.member))
    assert (await cycle(world)).guilds == 1

    # Once re-encrypted, SECRET_KEY_OLD is no longer needed.
    await restart_with(world, tmp_path, secret_key=NEW_SECRET)
    assert alert_rows(world) == [(0, None)]
    assert "Valid" in key_field(await final(world, "setup status"))
    assert personal not in caplog.text and world.key not in caplog.text
    assert NEW_SECRET not in caplog.text and SECRET_KEY not in caplog.text


async def test_secret_key_old_added_later_resumes_alerts_paused_as_unreadable(
    world: VigieWorld, tmp_path: Path
) -> None:
    """The operator changed SECRET_KEY, saw the keys unreadable, and puts the old one back
    as SECRET_KEY_OLD: the keys are readable again and the alerts resume by themselves."""
    await setup_keys_and_alert(world)
    await final(world, "alert add", name="arcane", query="arcane")
    await final(world, "alert pause", name="arcane")
    await restart_with(world, tmp_path, secret_key=NEW_SECRET)
    assert alert_rows(world) == [(1, "key_unreadable"), (1, "user")]

    await restart_with(world, tmp_path, secret_key=NEW_SECRET, secret_key_old=SECRET_KEY)
    # Only what the unreadable key paused resumes; the admin's own pause stays.
    assert alert_rows(world) == [(0, None), (1, "user")]
    status = await final(world, "setup status")
    assert "Unreadable" not in key_field(status) and "Valid" in key_field(status)
    assert "Fingerprint" in (await final(world, "key status", by=world.member))["content"]
    assert (await cycle(world)).guilds == 1
