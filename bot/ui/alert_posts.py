"""The alert pipeline's :class:`~bot.services.alerts.deliver.AlertPoster`, with discord.py.

Posts through ``get_partial_messageable`` (one REST call, no channel fetch, works for any
channel id: text and announcement channels, threads); a forum (known from the cache, or
from Discord when the message is refused) gets one post per release instead, sent at most
once (see :meth:`DiscordAlertPoster._post_in_forum` and ``bot/discord_once.py``).
Age-restricted releases are withheld from a channel that is not age-restricted
(:class:`AgeRestricted`). Discord's answers become the pipeline's errors: 403/404 → the channel is
unavailable (the alerts pause, admins are told); a definite refusal (400, 413...: the
message was not posted) → rejected; anything ambiguous (429 beyond discord.py's own
retries, 408 or 5xx, which a REST proxy may answer after Discord posted, a 400 saying the
body arrived empty, which a proxy's replay causes, a timeout, a network failure) → retry
later with the same nonce, so a message that did go through is not posted a second time.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import discord

from bot import i18n
from bot.discord_once import AnsweredOnce, one_try
from bot.lacale.models import Torrent
from bot.services.alerts.deliver import (
    AdminNotice,
    AgeRestricted,
    ChannelUnavailable,
    GapNotice,
    PostedRelease,
    PostError,
    PostRejected,
    RecipientUnavailable,
    ReleasePost,
    RetryLater,
)
from bot.services.alerts.destinations import ForumTag, forum_tag, thread_name
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
        """A message in a text or announcement channel or a thread; one forum post per
        release in a forum. Age-restricted releases never reach a channel that is not
        age-restricted (:class:`AgeRestricted` is raised before anything is sent)."""
        # The cards' badges read each release's name: once per info hash for the process
        # (usually done by the poll already), off the event loop when it is not.
        await read_badges(Torrent.model_validate(r.release) for r in post.releases)
        if post.user_id is not None:
            return await self._send_dm(post, post.user_id)
        channel = self._client.get_channel(post.channel_id)
        if channel is None and any(r.age_restricted for r in post.releases):
            channel = await self._fetch_channel(post.channel_id)  # its age restriction is needed
        if channel is not None:
            _check_age(channel, post)
            if isinstance(channel, discord.ForumChannel):
                return await self._post_in_forum(channel, post)
        try:
            return await self._send_message(post)
        except PostRejected:
            if channel is not None:
                raise
            # Not in the cache: maybe a forum, which takes posts, not messages.
            found = await self._fetch_channel(post.channel_id)
            if not isinstance(found, discord.ForumChannel):
                raise
            _check_age(found, post)
            return await self._post_in_forum(found, post)

    async def _send_message(self, post: ReleasePost) -> int:
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

    async def _fetch_channel(self, channel_id: int) -> Any:
        try:
            return await self._client.fetch_channel(channel_id)
        except discord.HTTPException as exc:
            raise _post_error(exc) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RetryLater(f"network: {type(exc).__name__}") from None

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

    # -- forums ---------------------------------------------------------------------------------
    async def _post_in_forum(self, forum: discord.ForumChannel, post: ReleasePost) -> int:
        """One post (a new thread) per release, named after it, with the forum's tag named
        like its category.

        Exactly once: Discord's ``nonce`` does not apply to a new thread, so a post whose
        first try ended without an answer (a timeout, a crash before the delivery was
        marked) could be created twice. A post marked ``resend`` therefore first looks
        for the threads of that earlier try: the forum's active threads that Vigie opened,
        after the release was recorded, under the same name, whose first message is this
        release's card (same link). A thread found is that release's post, not re-created.
        Discord archives a thread after an hour without activity at the earliest, longer
        than any retry waits; Discord's own nonce memory is a few minutes."""
        earlier = await self._earlier_posts(forum, post) if post.resend else {}
        posted: list[tuple[str, int]] = []
        try:
            for release, card in zip(post.releases, self.cards(post), strict=True):
                posted.append((release.info_hash, await self._forum_post(forum, release, card, earlier)))
        except PostError as exc:
            exc.posted = tuple(posted)  # these exist: marked delivered, not posted again
            raise
        if not posted:
            raise PostRejected("a post without releases")
        return posted[0][1]

    async def _forum_post(
        self,
        forum: discord.ForumChannel,
        release: PostedRelease,
        card: discord.Embed,
        earlier: dict[tuple[str, str], int],
    ) -> int:
        """One release's post (a thread id): the one an earlier try made, else a new one."""
        torrent = Torrent.model_validate(release.release)
        name = thread_name(torrent.title)
        found = earlier.get((name, card.url or ""))
        if found is not None:
            log.info("forum %s: %s already posted by an earlier try (thread %s)", forum.id, torrent.info_hash, found)
            return found
        tag_id = forum_tag(
            [ForumTag(t.id, t.name, t.moderated) for t in forum.available_tags],
            torrent.category,
            required=forum.flags.require_tag,
            may_moderate=forum.permissions_for(forum.guild.me).manage_threads,
        )
        tag = forum.get_tag(tag_id) if tag_id is not None else None
        try:
            with one_try():  # a silent retry of a 5xx could open a second post
                created = await forum.create_thread(
                    name=name,
                    content=" ".join(f"<@&{r}>" for r in release.role_ids) or None,
                    embed=card,
                    allowed_mentions=role_mentions(release.role_ids),
                    applied_tags=[tag] if tag is not None else [],
                )
        except discord.HTTPException as exc:
            raise _post_error(exc) from None
        except AnsweredOnce as exc:
            raise RetryLater(str(exc)) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RetryLater(f"network: {type(exc).__name__}") from None
        return created.thread.id

    async def _earlier_posts(self, forum: discord.ForumChannel, post: ReleasePost) -> dict[tuple[str, str], int]:
        """(thread name, card link) → thread id of Vigie's posts in ``forum`` that may
        belong to an earlier try of ``post``. A failed look-up is a :class:`RetryLater`:
        creating a post without knowing could double it."""
        user = self._client.user
        names = {thread_name(str(r.release.get("title") or "")) for r in post.releases}
        not_before = post.not_before - _CLOCK_MARGIN if post.not_before is not None else None
        found: dict[tuple[str, str], int] = {}
        try:
            threads = await forum.guild.active_threads()
            for thread in threads:
                if thread.parent_id != forum.id or user is None or thread.owner_id != user.id:
                    continue
                if thread.name not in names:
                    continue
                if not_before is not None and discord.utils.snowflake_time(thread.id) < not_before:
                    continue
                try:
                    starter = await thread.fetch_message(thread.id)
                except discord.NotFound:
                    continue  # its first message was deleted: not a post Vigie can tell
                for embed in starter.embeds:
                    found[(thread.name, embed.url or "")] = thread.id
        except discord.HTTPException as exc:
            raise _post_error(exc) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RetryLater(f"network: {type(exc).__name__}") from None
        return found

    async def send_gap_notice(self, notice: GapNotice) -> None:
        text = i18n.t(
            notice.locale,
            "alert.gap.notice",
            names=names_list(notice.alert_names),
            since=when(notice.since),
            until=when(notice.until),
        )
        forum = self._client.get_channel(notice.channel_id)
        if isinstance(forum, discord.ForumChannel):
            # A forum takes posts, not messages: the notice is a post of its own. (No nonce
            # there; a gap told twice, which is rare, would be two posts.)
            tag_id = forum_tag(
                [ForumTag(t.id, t.name, t.moderated) for t in forum.available_tags],
                None,
                required=forum.flags.require_tag,
                may_moderate=forum.permissions_for(forum.guild.me).manage_threads,
            )
            tag = forum.get_tag(tag_id) if tag_id is not None else None
            with one_try():
                await forum.create_thread(
                    name=thread_name(i18n.t(notice.locale, "alert.gap.post_title")),
                    content=text,
                    allowed_mentions=discord.AllowedMentions.none(),
                    applied_tags=[tag] if tag is not None else [],
                )
            return
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


def _check_age(channel: Any, post: ReleasePost) -> None:
    """Age-restricted releases only in an age-restricted channel (a thread's is its parent's)."""
    is_nsfw = getattr(channel, "is_nsfw", None)
    if is_nsfw is not None and is_nsfw():
        return
    withheld = tuple(r.info_hash for r in post.releases if r.age_restricted)
    if withheld:
        raise AgeRestricted(withheld, f"channel {post.channel_id} is not age-restricted")


#: Discord's clock (thread ids) against the database's (when a delivery was recorded).
_CLOCK_MARGIN = timedelta(minutes=2)

#: Refusals only the server's admins can lift, like a 403: a locked thread, archived
#: (50083) or not (160005); a forum that requires a tag when none is left that Vigie may
#: apply (40067). The alert pauses and the admins are told, rather than the post being
#: retried and dropped.
_ADMINS_MUST_ACT = frozenset({50083, 160005, 40067})


def _post_error(exc: discord.HTTPException) -> Exception:
    detail = f"HTTP {exc.status} ({exc.code}): {exc.text[:200]}"
    if isinstance(exc, discord.Forbidden) or exc.code in _ADMINS_MUST_ACT:
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
