"""The alert pipeline's :class:`~bot.services.alerts.deliver.AlertPoster`, with discord.py.

Posts through ``get_partial_messageable`` (one REST call, no channel fetch, works for any
channel id). Discord's answers become the pipeline's errors: 403/404 → the channel is
unavailable (the alerts pause, admins are told); a definite refusal (400, 413...: the
message was not posted) → rejected; anything ambiguous (429 beyond discord.py's own
retries, 408 or 5xx, which a REST proxy may answer after Discord posted, a 400 saying the
body arrived empty, which a proxy's replay causes, a timeout, a network failure) → retry
later with the same nonce, so a message that did go through is not posted a second time.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import aiohttp
import discord

from bot import i18n
from bot.lacale.models import Torrent
from bot.services.alerts.deliver import (
    AdminNotice,
    ChannelUnavailable,
    GapNotice,
    PostRejected,
    RecipientUnavailable,
    ReleasePost,
    RetryLater,
)
from bot.states import NoticeKind
from bot.ui.cards import read_badges, release_card
from bot.ui.style import exact_time
from bot.ui.text import escape, shorten

log = logging.getLogger("vigie.alerts.discord")

_ADMIN_KEYS = {
    NoticeKind.CHANNEL_FORBIDDEN: "alert.admin.channel_forbidden",
    NoticeKind.CHANNEL_MISSING: "alert.admin.channel_missing",
    NoticeKind.KEY_REFUSED: "alert.admin.key_refused",
}


def role_mentions(role_ids: tuple[int, ...]) -> discord.AllowedMentions:
    """Exactly these roles may be pinged: no @everyone, no user, no other role, whatever
    a release title contains."""
    return discord.AllowedMentions(
        everyone=False, users=False, replied_user=False, roles=[discord.Object(id=r) for r in role_ids]
    )


def names_list(names: tuple[str, ...]) -> str:
    return shorten(", ".join(f"« {escape(n)} »" for n in names), 1000)


def when(value: datetime) -> str:
    """Discord renders it in each reader's time zone, with the relative time on hover."""
    return exact_time(value)


#: Seconds a member found in a server is taken to be there still (a DM of their watches
#: checks it first: Vigie has no member events without a privileged intent).
MEMBER_CHECK_TTL = 600.0


class DiscordAlertPoster:
    def __init__(self, client: discord.Client, *, base_url: str) -> None:
        self._client = client
        self._base_url = base_url
        self._members_seen: dict[tuple[int, int], float] = {}

    def cards(self, post: ReleasePost) -> list[discord.Embed]:
        embeds = [
            release_card(
                Torrent.model_validate(r.release),
                base_url=self._base_url,
                locale=post.locale,
                alert_names=r.alert_names,
            )
            for r in post.releases
        ]
        if post.user_id is not None:
            # A DM says which of the member's watches, in which server, sent it.
            guild = self._client.get_guild(post.guild_id)
            server = escape(guild.name) if guild is not None else str(post.guild_id)
            for embed, release in zip(embeds, post.releases, strict=True):
                names = ", ".join(escape(n) for n in release.alert_names)
                footer = i18n.t(
                    post.locale, "watch.dm.footer", count=len(release.alert_names), names=names, server=server
                )
                embed.set_footer(text=shorten(footer, 2048))
        return embeds

    async def send_releases(self, post: ReleasePost) -> int:
        # The cards' badges read each release's name: once per info hash for the process
        # (usually done by the poll already), off the event loop when it is not.
        await read_badges(Torrent.model_validate(r.release) for r in post.releases)
        if post.user_id is not None:
            return await self._send_dm(post, post.user_id)
        channel = self._client.get_partial_messageable(post.channel_id, guild_id=post.guild_id)
        content = " ".join(f"<@&{r}>" for r in post.role_ids) or None
        try:
            message = await channel.send(
                content=content,
                embeds=self.cards(post),
                nonce=post.nonce,
                allowed_mentions=role_mentions(post.role_ids),
            )
        except discord.HTTPException as exc:
            raise _post_error(exc) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RetryLater(f"network: {type(exc).__name__}") from None
        return message.id

    async def _send_dm(self, post: ReleasePost, user_id: int) -> int:
        """A member's watches: only while they are in the server, in their DMs, with the
        post's nonce; no mention of anyone."""
        try:
            await self._check_member(post.guild_id, user_id)
            channel = await self._client.create_dm(discord.Object(id=user_id))
            message = await channel.send(
                embeds=self.cards(post), nonce=post.nonce, allowed_mentions=discord.AllowedMentions.none()
            )
        except (discord.Forbidden, discord.NotFound) as exc:
            # 50007: DMs closed (or Vigie blocked); 10013: unknown user. Nothing was sent.
            raise RecipientUnavailable(left=False, detail=f"HTTP {exc.status} ({exc.code})") from None
        except discord.HTTPException as exc:
            raise _post_error(exc) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RetryLater(f"network: {type(exc).__name__}") from None
        return message.id

    async def _check_member(self, guild_id: int, user_id: int) -> None:
        """Raises :class:`RecipientUnavailable` (``left``) when the member is not in the
        server any more (404 Unknown Member); a recent positive answer is trusted."""
        now = time.monotonic()
        seen = self._members_seen.get((guild_id, user_id))
        if seen is not None and now - seen < MEMBER_CHECK_TTL:
            return
        try:
            await self._client.http.get_member(guild_id, user_id)
        except discord.NotFound:
            self._members_seen.pop((guild_id, user_id), None)
            raise RecipientUnavailable(left=True, detail="unknown member") from None
        if len(self._members_seen) > 50_000:
            self._members_seen.clear()
        self._members_seen[(guild_id, user_id)] = now

    def forget_member(self, guild_id: int, user_id: int) -> None:
        """The member left (a gateway event): the next DM checks again."""
        self._members_seen.pop((guild_id, user_id), None)

    async def send_gap_notice(self, notice: GapNotice) -> None:
        text = i18n.t(
            notice.locale,
            "alert.gap.notice",
            names=names_list(notice.alert_names),
            since=when(notice.since),
            until=when(notice.until),
        )
        # A deterministic nonce (discord.py adds ``enforce_nonce``): the same gap told
        # twice (a re-send after a crash, another process) is one message.
        await self._client.get_partial_messageable(notice.channel_id, guild_id=notice.guild_id).send(
            text, nonce=notice.nonce, allowed_mentions=discord.AllowedMentions.none()
        )

    async def notify_admins(self, notice: AdminNotice) -> None:
        """In the log channel (``/setup log-channel``), else the server's system channel."""
        text = i18n.t(
            notice.locale,
            _ADMIN_KEYS.get(notice.kind, "alert.admin.channel_forbidden"),
            count=len(notice.alert_names),
            names=names_list(notice.alert_names) or "—",
            channel=f"<#{notice.channel_id}>" if notice.channel_id else "—",
        )
        targets: list[int] = []
        if notice.log_channel_id:
            targets.append(notice.log_channel_id)
        guild = self._client.get_guild(notice.guild_id)
        if guild is not None and guild.system_channel is not None:
            targets.append(guild.system_channel.id)
        for channel_id in dict.fromkeys(targets):
            if channel_id == notice.channel_id and notice.kind != NoticeKind.KEY_REFUSED:
                continue  # the channel that failed cannot carry the news
            try:
                # The same nonce in each channel tried: a refused channel created nothing.
                await self._client.get_partial_messageable(channel_id, guild_id=notice.guild_id).send(
                    text, nonce=notice.nonce, allowed_mentions=discord.AllowedMentions.none()
                )
                return
            except discord.HTTPException as exc:
                log.info("guild %s: admin notice refused in %s (%s)", notice.guild_id, channel_id, exc.status)
        log.warning("guild %s: no channel to tell the admins (%s)", notice.guild_id, notice.kind)


def _post_error(exc: discord.HTTPException) -> Exception:
    detail = f"HTTP {exc.status} ({exc.code}): {exc.text[:200]}"
    if isinstance(exc, discord.Forbidden):
        return ChannelUnavailable(missing=False, detail=detail)
    if isinstance(exc, discord.NotFound):
        return ChannelUnavailable(missing=True, detail=detail)
    if exc.status == 400 and exc.code in _LOST_BODY_CODES:
        return RetryLater(detail)
    if definitely_refused(exc.status):
        return PostRejected(detail)
    retry_after = getattr(exc, "retry_after", None)
    return RetryLater(detail, retry_after=retry_after if isinstance(retry_after, (int, float)) else None)


#: 4xx answers that do not say the message was refused: 408 (a proxy's own timeout: the
#: request may have reached Discord), 425 Too Early, 429, and 499 (nginx: client closed).
_AMBIGUOUS_4XX = frozenset({408, 425, 429, 499})


#: Discord's answers about a body that did not reach it whole: an alert post is never empty
#: (50006) nor invalid JSON (50109), so these say the body was lost on the way, not that the
#: message was refused. @discordjs/proxy streams the bot's body to Discord and, when it
#: retries after a 429 or a 5xx (which may come after Discord posted), replays it empty: the
#: first try's outcome is unknown, so the nonce is kept.
_LOST_BODY_CODES = frozenset({50006, 50109})


def definitely_refused(status: int) -> bool:
    """Discord (not a proxy on the way) said no: the message does not exist, and releasing
    its nonce is safe. Only then may it be re-sent under another nonce."""
    return 400 <= status < 500 and status not in _AMBIGUOUS_4XX
