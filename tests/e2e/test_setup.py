"""Guild setup and keys, through the fake Discord, as an admin and a member would."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from tests.e2e.conftest import VigieWorld
from tests.fakes.discord import FakeDiscordError


async def test_register_key_through_modal_keeps_only_ciphertext(
    world: VigieWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    opened = await world.invoke("setup key")
    response = await opened.wait_response()
    assert response["type"] == 9  # a modal, never a slash option
    submitted = await world.discord.submit_modal(opened, {"vigie:secret:apikey": f"  {world.key}  "})
    final = await submitted.wait_final()
    assert submitted.ephemeral
    assert world.key not in final["content"]
    fingerprint = world.bot.services.vault.fingerprint(world.key)  # type: ignore[union-attr]
    assert f"`{fingerprint}`" in final["content"]

    db = sqlite3.connect(world.settings.database_url.split("///", 1)[1])
    row = db.execute(
        "select api_key_encrypted, key_fingerprint, key_status, key_registered_by from guild_settings"
    ).fetchone()
    assert row[0] and world.key not in row[0]
    assert row[1] == fingerprint and row[2] == "valid" and row[3] == world.admin.id
    dump = "\n".join(db.iterdump())
    assert world.key not in dump

    assert world.key not in caplog.text, "the key reached a log line"
    assert world.key not in "\n".join(world.discord.all_sent_text())


async def test_refused_key_is_not_saved(world: VigieWorld) -> None:
    submitted = await world.register_key("not-a-valid-key-0000")
    text = (await submitted.wait_final())["content"]
    assert "refused" in text and "/setup key" in text
    db = sqlite3.connect(world.settings.database_url.split("///", 1)[1])
    assert db.execute("select count(*) from guild_settings where api_key_encrypted is not null").fetchone()[0] == 0


async def test_refused_key_message_in_french(world: VigieWorld) -> None:
    submitted = await world.register_key("not-a-valid-key-0000", locale="fr")
    assert "a refusé la clé" in (await submitted.wait_final())["content"]


async def test_member_without_manage_server_is_refused(world: VigieWorld) -> None:
    # Discord hides the command from them (default_member_permissions)...
    with pytest.raises(FakeDiscordError):
        await world.invoke("setup status", by=world.member)
    # ...and if an admin widened it, Vigie still checks.
    rec = await world.discord.invoke(
        "setup key", by=world.member, in_channel=world.channel, locale="en-US", enforce_permissions=False
    )
    final = await rec.wait_final()
    assert rec.ephemeral and "Manage Server" in final["content"]
    rec_fr = await world.discord.invoke(
        "setup key", by=world.member, in_channel=world.channel, locale="fr", enforce_permissions=False
    )
    assert "Gérer le serveur" in (await rec_fr.wait_final())["content"]


async def test_status_and_remove(world: VigieWorld) -> None:
    await world.register_key()
    status = await (await world.invoke("setup status")).wait_final()
    fields = {f["name"]: f["value"] for f in status["embeds"][0]["fields"]}
    assert "Valid" in fields["La Cale key"] and f"<@{world.admin.id}>" in fields["La Cale key"]
    removed = await (await world.invoke("setup remove")).wait_final()
    assert "forgotten" in removed["content"]
    status = await (await world.invoke("setup status")).wait_final()
    assert "No key" in status["embeds"][0]["fields"][0]["value"]


async def test_unavailable_la_cale_is_explained_in_each_language(world: VigieWorld) -> None:
    world.lacale.fail_next("/api/external/meta", status=500, times=20)
    en = await world.register_key(locale="en-US")
    assert "not answering" in (await en.wait_final())["content"]
    world.lacale.clear_faults()
    world.lacale.challenge_next("/api/external/meta", status=503, times=20)
    fr = await world.register_key(locale="fr")
    assert "ne répond pas" in (await fr.wait_final())["content"]


async def test_personal_key(world: VigieWorld) -> None:
    personal = world.lacale.add_key()
    rec = await world.register_member_key(world.member, personal)
    assert "Fingerprint" in (await rec.wait_final())["content"]
    status = await (await world.invoke("key status", by=world.member)).wait_final()
    assert world.bot.services.vault.fingerprint(personal) in status["content"]  # type: ignore[union-attr]
    removed = await (await world.invoke("key remove", by=world.member)).wait_final()
    assert "forgotten" in removed["content"]


async def test_leaving_a_guild_erases_its_key(world: VigieWorld) -> None:
    await world.register_key()
    world.discord.remove_guild(world.guild.id)
    db_path = world.settings.database_url.split("///", 1)[1]

    def erased() -> bool:
        row = sqlite3.connect(db_path).execute("select api_key_encrypted, active from guild_settings").fetchone()
        return row[0] is None and row[1] == 0

    await world.discord.wait_until(erased)


async def test_synced_commands_are_localized_and_valid(world: VigieWorld) -> None:
    commands = {c["name"]: c for c in world.discord.commands(guild_id=world.guild.id)}
    assert {"setup", "key", "search", "meta"} <= set(commands)
    assert commands["search"]["name_localizations"]["fr"] == "recherche"
    setup_cmd = commands["setup"]
    assert setup_cmd["default_member_permissions"] == str(1 << 5)
    # options' names and descriptions are localized too
    query = next(o for o in commands["search"]["options"] if o["name"] == "query")
    assert query["name_localizations"]["fr"] == "texte"
    assert query["description_localizations"]["fr"].startswith("Mots")


async def test_unexpected_error_gets_an_id_that_is_logged_with_the_traceback(
    world: VigieWorld, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)

    async def broken(guild_id: int) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(world.bot.services.guilds, "status", broken)  # type: ignore[union-attr]
    rec = await world.invoke("setup status", locale="fr")
    text = (await rec.wait_final())["content"]
    assert "Identifiant d'erreur" in text and "Traceback" not in text and "database on fire" not in text
    error_id = text.split("`")[1]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert any(
        "command=/setup status" in r.getMessage() and f"outcome=error:RuntimeError:{error_id}" in r.getMessage()
        for r in caplog.records
    )


async def test_each_command_is_logged_once_with_its_outcome(
    world: VigieWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vigie.commands")
    rec = await world.invoke("key status", by=world.member)
    await rec.wait_final()

    def command_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "vigie.commands"]

    await world.discord.wait_until(lambda: bool(command_lines()))
    lines = command_lines()
    assert len(lines) == 1
    assert (
        f"guild={world.guild.id} user={world.member.id}" in lines[0]
        and "outcome=ok" in lines[0]
        and "latency_ms=" in lines[0]
    )
