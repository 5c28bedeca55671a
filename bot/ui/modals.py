"""The modal through which keys are typed: never a slash option (Discord shows those
in the channel), and its text input's custom_id marks the value secret for the logs.

Each opened form is its own: discord.py keeps open modals by ``custom_id`` alone
(``ViewStore._modals[custom_id]``), so a fixed id made a submission run whichever key
form was opened last by anyone, anywhere, and left the other unanswered. Every form gets
a random nonce in its ``custom_id``, and what it acts on (the member who opened it, the
server, server key or personal key) is captured when it opens, never re-read from the
submission. A submission no form answers any more (Vigie restarted, or the form waited
past its timeout) is still answered, by :func:`answer_stale_key_form`.
"""

from __future__ import annotations

import secrets
import weakref
from collections.abc import Awaitable, Callable

import discord

from bot import i18n
from bot.redaction import SECRET_INPUT_PREFIX
from bot.ui.errors import describe_error
from bot.ui.replies import reply

KeySubmitted = Callable[[discord.Interaction, str], Awaitable[None]]

#: ``custom_id`` of every key form: this prefix, then the form's own nonce.
KEY_FORM_PREFIX = "vigie:key-modal:"
#: How long a form waits for its submission (Discord keeps it open on the member's side).
KEY_FORM_TIMEOUT = 600.0

# Forms open in each client (a test process runs several bots one after another): what
# tells a submission nobody handles from one being handled.
_open_forms: weakref.WeakKeyDictionary[discord.Client, dict[str, KeyModal]] = weakref.WeakKeyDictionary()


def _forms_of(client: discord.Client) -> dict[str, KeyModal]:
    forms = _open_forms.get(client)
    if forms is None:
        forms = _open_forms[client] = {}
    return forms


class KeyModal(discord.ui.Modal):
    def __init__(self, locale: object, *, title_key: str, on_key: KeySubmitted, user_id: int) -> None:
        super().__init__(
            title=i18n.t(locale, title_key)[:45],
            timeout=KEY_FORM_TIMEOUT,
            custom_id=KEY_FORM_PREFIX + secrets.token_urlsafe(12),
        )
        self._on_key = on_key
        self._user_id = user_id
        self._client: weakref.ReferenceType[discord.Client] | None = None
        self.key_input: discord.ui.TextInput[KeyModal] = discord.ui.TextInput(
            label=i18n.t(locale, "modal.key.label")[:45],
            placeholder=i18n.t(locale, "modal.key.placeholder")[:100],
            custom_id=SECRET_INPUT_PREFIX + "apikey",
            style=discord.TextStyle.short,
            min_length=8,
            max_length=256,
            required=True,
        )
        self.add_item(self.key_input)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Discord only lets the member who opened a form submit it; checked anyway, since
        # the form acts for that member.
        if interaction.user.id != self._user_id:
            await reply(interaction, i18n.t(interaction.locale, "modal.key.not_yours"), ephemeral=True)
            return False
        return True

    async def on_submit(self, interaction: discord.Interaction) -> None:
        value = self.key_input.value
        # The value is dropped from the component so nothing keeps it after this call.
        self.key_input.default = None
        await self._on_key(interaction, value)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        message = describe_error(error, interaction.locale, context="key modal")
        await reply(interaction, message.text, ephemeral=True)

    # -- the registry of open forms ------------------------------------------------------
    def _register(self, client: discord.Client) -> None:
        self._client = weakref.ref(client)
        _forms_of(client)[self.custom_id] = self

    def _unregister(self) -> None:
        client = self._client() if self._client is not None else None
        if client is not None:
            _forms_of(client).pop(self.custom_id, None)

    def stop(self) -> None:
        self._unregister()
        super().stop()

    async def on_timeout(self) -> None:
        self._unregister()


async def open_key_form(interaction: discord.Interaction, *, title_key: str, on_key: KeySubmitted) -> None:
    """Answer ``interaction`` with a new key form of its own; ``on_key`` runs with the
    submission's interaction and the typed value. Whatever the form acts on must be
    captured by ``on_key`` from ``interaction`` now, not read from the submission."""
    modal = KeyModal(interaction.locale, title_key=title_key, on_key=on_key, user_id=interaction.user.id)
    modal._register(interaction.client)
    try:
        await interaction.response.send_modal(modal)
    except BaseException:
        modal._unregister()
        raise


async def answer_stale_key_form(interaction: discord.Interaction) -> None:
    """A key form's submission that no open form handles: answered (never "interaction
    failed"), asking to open the form again. Called for every interaction; it runs after
    discord.py dispatched the submission to its form, if any: a form leaves the registry
    only once it has answered (its ``stop`` after ``on_submit``) or timed out, so a
    registered form, or an answer already sent, means the submission is handled."""
    if interaction.type is not discord.InteractionType.modal_submit:
        return
    custom_id = dict(interaction.data or {}).get("custom_id")
    if not isinstance(custom_id, str) or not custom_id.startswith(KEY_FORM_PREFIX):
        return
    if custom_id in _forms_of(interaction.client) or interaction.response.is_done():
        return
    await reply(interaction, i18n.t(interaction.locale, "modal.key.expired"), ephemeral=True)
