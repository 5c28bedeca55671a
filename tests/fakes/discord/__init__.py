"""A fake Discord (REST API, gateway, CDN) on loopback, for end-to-end tests of the real bot.

The real discord.py client logs into it (``bot.discord_api_base.use_discord_api_base``), so
the tests exercise discord.py's own parsing, command sync, attachments, autocomplete,
components and modals. The fake checks what Discord checks (command sync payloads, message
limits, interaction acknowledgement rules and the 3 s deadline, permissions) and answers with
Discord's error codes, so a bug that Discord would reject fails here too.

Quick tour::

    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="La Cale")
        use_discord_api_base(fake.api_base)
        ...  # start the bot with token fake.token
        rec = await fake.invoke("search", query="dune", category="films")
        msg = await rec.wait_final()
        assert "Dune" in msg["content"]

Everything the bot sends is recorded (``fake.requests``, ``fake.channel_messages()``,
interaction records) and every route the fake does not know is logged, answered 404 and kept
in ``fake.unhandled``.
"""

from .constants import (
    ADD_REACTIONS,
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    BAN_MEMBERS,
    CHANGE_NICKNAME,
    CONNECT,
    CREATE_INSTANT_INVITE,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DISCORD_EPOCH_MS,
    DM_PERMISSIONS,
    EMBED_LINKS,
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILD_PRESENCES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    KICK_MEMBERS,
    MANAGE_CHANNELS,
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    MANAGE_ROLES,
    MENTION_EVERYONE,
    PRIVILEGED_INTENTS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    SPEAK,
    USE_APPLICATION_COMMANDS,
    USE_EXTERNAL_EMOJIS,
    VALID_LOCALES,
    VIEW_CHANNEL,
)
from .errors import FakeDiscordError
from .models import FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser
from .records import CallbackRecord, IdentifyRecord, InteractionRecord, RequestRecord
from .server import FakeDiscord

__all__ = [
    "ADD_REACTIONS",
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "ATTACH_FILES",
    "BAN_MEMBERS",
    "CHANGE_NICKNAME",
    "CONNECT",
    "CREATE_INSTANT_INVITE",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "DISCORD_EPOCH_MS",
    "DM_PERMISSIONS",
    "EMBED_LINKS",
    "FLAG_COMPONENTS_V2",
    "FLAG_EPHEMERAL",
    "FLAG_LOADING",
    "FLAG_SUPPRESS_EMBEDS",
    "FLAG_SUPPRESS_NOTIFICATIONS",
    "INTENT_DIRECT_MESSAGES",
    "INTENT_GUILDS",
    "INTENT_GUILD_MEMBERS",
    "INTENT_GUILD_MESSAGES",
    "INTENT_GUILD_PRESENCES",
    "INTENT_MESSAGE_CONTENT",
    "KICK_MEMBERS",
    "MANAGE_CHANNELS",
    "MANAGE_GUILD",
    "MANAGE_MESSAGES",
    "MANAGE_ROLES",
    "MENTION_EVERYONE",
    "PRIVILEGED_INTENTS",
    "READ_MESSAGE_HISTORY",
    "SEND_MESSAGES",
    "SEND_MESSAGES_IN_THREADS",
    "SPEAK",
    "USE_APPLICATION_COMMANDS",
    "USE_EXTERNAL_EMOJIS",
    "VALID_LOCALES",
    "VIEW_CHANNEL",
    "CallbackRecord",
    "FakeChannel",
    "FakeDiscord",
    "FakeDiscordError",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "IdentifyRecord",
    "InteractionRecord",
    "RequestRecord",
]
