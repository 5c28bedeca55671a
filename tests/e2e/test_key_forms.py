"""Key forms (modals) opened at the same time by different members, in one server and
across servers: each submission lands where its own form said, and is answered."""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.conftest import MANAGE_GUILD, VigieWorld

SECRET_INPUT = "vigie:secret:apikey"


def _db(world: VigieWorld) -> sqlite3.Connection:
    return sqlite3.connect(world.settings.database_url.split("///", 1)[1])


def _guild_fingerprint(world: VigieWorld, guild_id: int) -> str | None:
    row = (
        _db(world)
        .execute(
            "select key_fingerprint from guild_settings where guild_id = ? and api_key_encrypted is not null",
            (guild_id,),
        )
        .fetchone()
    )
    return row[0] if row else None


def _member_fingerprint(world: VigieWorld, user_id: int) -> str | None:
    row = _db(world).execute("select key_fingerprint from member_keys where user_id = ?", (user_id,)).fetchone()
    return row[0] if row else None


@pytest.mark.parametrize("order", ["reverse", "opening"])
async def test_server_form_and_personal_form_open_at_once_in_one_server(world: VigieWorld, order: str) -> None:
    server_key, personal_key = world.lacale.add_key(), world.lacale.add_key()
    admin_form = await world.invoke("setup key", by=world.admin)
    assert (await admin_form.wait_response())["type"] == 9
    member_form = await world.invoke("key set", by=world.member)
    assert (await member_form.wait_response())["type"] == 9

    async def submit_admin() -> object:
        return await world.discord.submit_modal(admin_form, {SECRET_INPUT: server_key}, by=world.admin)

    async def submit_member() -> object:
        return await world.discord.submit_modal(member_form, {SECRET_INPUT: personal_key}, by=world.member)

    submissions = [submit_member, submit_admin] if order == "reverse" else [submit_admin, submit_member]
    answered = []
    for submit in submissions:
        rec = await submit()
        answered.append((rec, await rec.wait_final()))  # type: ignore[attr-defined]
    for rec, final in answered:
        assert rec.ephemeral and "`" in final["content"]  # type: ignore[attr-defined]

    vault = world.bot.services.vault  # type: ignore[union-attr]
    assert _guild_fingerprint(world, world.guild.id) == vault.fingerprint(server_key)
    assert _member_fingerprint(world, world.member.id) == vault.fingerprint(personal_key)
    assert _member_fingerprint(world, world.admin.id) is None, "the admin's server key became a personal key"


@pytest.mark.parametrize("order", ["reverse", "opening"])
async def test_forms_open_at_once_in_two_servers(world: VigieWorld, order: str) -> None:
    # Commands synced globally, so that they exist in the second server too.
    await world.stop()
    other = world.discord.add_guild(name="Autre serveur")
    other_channel = world.discord.add_channel(other, "general")
    admin_b = world.discord.add_member(other, name="admin-b", permissions=MANAGE_GUILD | (1 << 10) | (1 << 11))
    await world.start(dev_guild_id=None)
    await world.discord.wait_until(lambda: world.bot.get_guild(other.id), what="second guild")  # type: ignore[union-attr]

    personal_a, server_b = world.lacale.add_key(), world.lacale.add_key()
    form_a = await world.discord.invoke("key set", by=world.admin, in_channel=world.channel, locale="en-US")
    assert (await form_a.wait_response())["type"] == 9
    form_b = await world.discord.invoke("setup key", by=admin_b, in_channel=other_channel, locale="en-US")
    assert (await form_b.wait_response())["type"] == 9

    async def submit_a() -> object:
        return await world.discord.submit_modal(form_a, {SECRET_INPUT: personal_a}, by=world.admin)

    async def submit_b() -> object:
        return await world.discord.submit_modal(form_b, {SECRET_INPUT: server_b}, by=admin_b)

    for submit in [submit_b, submit_a] if order == "reverse" else [submit_a, submit_b]:
        rec = await submit()
        final = await rec.wait_final()  # type: ignore[attr-defined]
        assert "`" in final["content"]

    vault = world.bot.services.vault  # type: ignore[union-attr]
    assert _member_fingerprint(world, world.admin.id) == vault.fingerprint(personal_a)
    assert _guild_fingerprint(world, other.id) == vault.fingerprint(server_b)
    assert _guild_fingerprint(world, world.guild.id) is None, "admin A's personal key became a server key"
    assert _member_fingerprint(world, admin_b.id) is None


async def test_form_opened_before_a_restart_is_answered(world: VigieWorld) -> None:
    """A form left open across a restart (or past its timeout) has no handler any more:
    its submission is still answered, asking to open the form again; nothing is saved."""
    form = await world.invoke("key set", by=world.member, locale="fr")
    await form.wait_response()
    await world.restart()
    rec = await world.discord.submit_modal(form, {SECRET_INPUT: world.key}, by=world.member, locale="fr")
    final = await rec.wait_final()
    assert rec.ephemeral and "rien n'a été enregistré" in final["content"]
    assert _member_fingerprint(world, world.member.id) is None


async def test_a_form_acts_only_for_the_member_who_opened_it(world: VigieWorld) -> None:
    """Discord lets only the opener submit a form; Vigie checks it anyway, since the form
    saves a key for that member."""
    form = await world.invoke("key set", by=world.member)
    await form.wait_response()
    rec = await world.discord.submit_modal(form, {SECRET_INPUT: world.key}, by=world.admin, locale="en-US")
    final = await rec.wait_final()
    assert rec.ephemeral and "someone else" in final["content"]
    assert _member_fingerprint(world, world.admin.id) is None and _member_fingerprint(world, world.member.id) is None
    # The form is still the member's own to submit.
    mine = await world.discord.submit_modal(form, {SECRET_INPUT: world.key}, by=world.member)
    await mine.wait_final()
    assert _member_fingerprint(world, world.member.id) == world.bot.services.vault.fingerprint(world.key)  # type: ignore[union-attr]


async def test_form_submitted_after_its_timeout_is_answered(world: VigieWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import bot.ui.modals

    monkeypatch.setattr(bot.ui.modals, "KEY_FORM_TIMEOUT", 0.2)
    form = await world.invoke("setup key", by=world.admin)
    await form.wait_response()
    await asyncio.sleep(0.6)
    rec = await world.discord.submit_modal(form, {SECRET_INPUT: world.key}, by=world.admin, locale="en-US")
    final = await rec.wait_final()
    assert rec.ephemeral and "nothing was saved" in final["content"]
    assert _guild_fingerprint(world, world.guild.id) is None
