"""Every card Vigie draws, in one module: the release card (used by /search, alerts and
/upload), the /search results page, the /alert list and test cards, and the /upload
preview, outcome, announcement and list cards.

Cards only render what the services decided; everything untrusted is escaped here.
Colours and dates come from :mod:`bot.ui.style`."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterable, Sequence

import discord

from bot import i18n
from bot.criteria import Criteria
from bot.db.types import utcnow
from bot.formatting import clean_text, format_size
from bot.lacale.models import Torrent
from bot.releases import parsed
from bot.services.alerts.service import AlertInfo, DryRun, Explained, Preview
from bot.services.uploads import UploadDraft, UploadOutcome, UploadStatus, UploadSummary
from bot.services.watches import WatchInfo, WatchList, WatchPreview
from bot.states import WatchPause
from bot.ui.status import pause_reason_text
from bot.ui.style import Colours, exact_time, relative_time
from bot.ui.text import escape, inline_code, safe_title, shorten
from bot.urls import url_carries_secret

COLOUR = Colours.BRAND


def badges(torrent: Torrent) -> str:
    """What the release's name says, as badges: ``2160p · WEB-DL · x265 · MULTi`` (``""``
    when it says nothing). Read once per info hash for the whole process (bot.releases)."""
    return " · ".join(parsed(torrent.info_hash, torrent.title).badges())


async def read_badges(torrents: Iterable[Torrent]) -> None:
    """Read the releases' names now, in a worker thread (a new name takes milliseconds;
    a name read before, by anyone, is a cache lookup), so that drawing their cards on the
    event loop never waits on the parser."""

    def read(items: list[Torrent]) -> None:
        for torrent in items:
            parsed(torrent.info_hash, torrent.title)

    await asyncio.to_thread(read, list(torrents))


def timestamp(torrent: Torrent) -> str:
    """Relative date, with the exact date on hover (Discord renders it per reader)."""
    return relative_time(torrent.pub_date)


def release_card(
    torrent: Torrent,
    *,
    base_url: str,
    locale: object,
    alert_names: Sequence[str] = (),
    details: bool = False,
) -> discord.Embed:
    t = i18n.t
    lang = i18n.lang_of(locale)
    read = badges(torrent)
    embed = discord.Embed(
        title=safe_title(torrent.title, 256),
        url=torrent.page_url(base_url),
        description=f"**{read}**" if read else None,
        colour=COLOUR,
        timestamp=torrent.pub_date,
    )
    embed.add_field(name=t(locale, "card.category"), value=escape(torrent.category or "—")[:1024], inline=True)
    embed.add_field(name=t(locale, "card.size"), value=format_size(torrent.size, lang), inline=True)
    embed.add_field(
        name=t(locale, "card.peers"),
        value=t(locale, "card.peers.value", seeders=torrent.seeders, leechers=torrent.leechers),
        inline=True,
    )
    embed.add_field(
        name=t(locale, "card.published"), value=exact_time(torrent.pub_date) + " · " + timestamp(torrent), inline=False
    )
    if details:
        embed.add_field(name=t(locale, "card.info_hash"), value=inline_code(torrent.info_hash, 100), inline=False)
        if torrent.guid:
            embed.add_field(name=t(locale, "card.guid"), value=inline_code(torrent.guid, 100), inline=False)
    if alert_names:
        names = ", ".join(escape(n) for n in alert_names)
        embed.set_footer(text=shorten(t(locale, "card.alerts", count=len(alert_names), names=names), 2048))
    return embed


def result_line(index: int, torrent: Torrent, *, base_url: str, locale: object) -> str:
    """One entry of a results page: a numbered link, then category · size · peers · date."""
    lang = i18n.lang_of(locale)
    title = safe_title(torrent.title, 120)
    read = badges(torrent)
    meta = " · ".join(
        (
            *((f"**{read}**",) if read else ()),
            escape(torrent.category or "—"),
            format_size(torrent.size, lang),
            i18n.t(locale, "card.peers.value", seeders=torrent.seeders, leechers=torrent.leechers),
            timestamp(torrent),
        )
    )
    url = torrent.page_url(base_url).replace("(", "%28").replace(")", "%29")
    return f"**{index}.** [{title}]({url})\n{meta}"


def results_page(
    results: Sequence[Torrent],
    *,
    page: int,
    per_page: int,
    heading: str,
    base_url: str,
    locale: object,
) -> discord.Embed:
    pages = max(1, -(-len(results) // per_page))
    start = page * per_page
    lines = [
        result_line(start + i + 1, torrent, base_url=base_url, locale=locale)
        for i, torrent in enumerate(results[start : start + per_page])
    ]
    embed = discord.Embed(title=shorten(heading, 256), description="\n\n".join(lines)[:4096], colour=COLOUR)
    embed.set_footer(text=i18n.t(locale, "search.footer", page=page + 1, pages=pages, count=len(results)))
    return embed


# -- /alert ------------------------------------------------------------------------------------
def criteria_text(criteria: Criteria, locale: object) -> str:
    """An alert's (or a watch's) criteria on one line: each criterion describes itself."""
    return " · ".join(criteria.describe(locale, escape)) or i18n.t(locale, "alert.criteria.all")


def alert_line(alert: AlertInfo, locale: object) -> str:
    t = i18n.t
    state = (
        t(locale, "alert.list.active")
        if not alert.paused
        else t(locale, "alert.list.paused", reason=pause_reason_text(locale, alert.pause_reason))
    )
    where = f"<#{alert.channel_id}>" + (f" · <@&{alert.mention_role_id}>" if alert.mention_role_id else "")
    last = (
        t(locale, "alert.list.last_match", when=relative_time(alert.last_match_at))
        if alert.last_match_at
        else t(locale, "alert.list.never")
    )
    counts = t(locale, "alert.list.posted", count=alert.delivered)
    if alert.pending:
        counts += " · " + t(locale, "alert.list.pending", count=alert.pending)
    return f"**{escape(alert.name)}** — {state}\n{where} · {criteria_text(alert.criteria, locale)}\n{last} · {counts}"


def fit_embeds(embeds: list[discord.Embed], budget: int = 6000) -> list[discord.Embed]:
    """As many as Discord accepts in one message (10, and 6,000 characters in all)."""
    out: list[discord.Embed] = []
    total = 0
    for embed in embeds[:10]:
        if total + len(embed) > budget:
            break
        out.append(embed)
        total += len(embed)
    return out


def alert_list_entries(alerts: Sequence[AlertInfo], locale: object) -> list[str]:
    """/alert list: one entry per alert (paged by :func:`bot.ui.pages.send_pages`)."""
    return [alert_line(alert, locale) for alert in alerts]


def alert_test_card(preview: Preview, *, base_url: str, locale: object) -> tuple[str, list[discord.Embed]]:
    """/alert test: what was checked and dropped, then the cards that would be posted."""
    run = DryRun(preview.checked, preview.matches, preview.drops, preview.results)
    return test_card(preview.alert.name, preview.alert.criteria, run, base_url=base_url, locale=locale, watch=False)


def test_card(
    name: str, criteria: Criteria, run: DryRun, *, base_url: str, locale: object, watch: bool
) -> tuple[str, list[discord.Embed]]:
    """``/alert test`` and ``/watch test``: what was checked and turned away, the newest
    results with what was read and why each was turned away, then the cards."""
    t = i18n.t
    lines = [
        t(locale, "watch.test.heading" if watch else "alert.test.heading", name=escape(name),
          criteria=criteria_text(criteria, locale)),
        t(locale, "alert.test.rule"),
        t(
            locale,
            "alert.test.summary",
            count=run.checked,
            matched=t(locale, "watch.test.matched" if watch else "alert.test.matched", count=len(run.matches)),
        ),
    ]  # fmt: skip
    drops = [t(locale, f"alert.test.drop.{kind}", count=count) for kind, count in run.drops.most_common() if kind]
    if drops:
        lines.append(t(locale, "alert.test.drops", details=", ".join(drops)))
    if not run.matches:
        lines.append(t(locale, "alert.test.none"))
    cards = [release_card(torrent, base_url=base_url, locale=locale, alert_names=(name,)) for torrent in run.matches]
    text = shorten("\n".join(lines), 2000)
    # The newest results, as many as fit: what Vigie read from each name and, for those
    # turned away, the criterion that did it.
    entries = explanation_lines(run.results, criteria, locale)
    if entries:
        heading = "\n\n**" + t(locale, "alert.test.results") + "**"
        if len(text) + len(heading) + len(entries[0]) + 1 <= 2000:
            text += heading
            for entry in entries:
                if len(text) + 1 + len(entry) > 2000:
                    break
                text += "\n" + entry
    return text, fit_embeds(cards)


def explanation_lines(results: Sequence[Explained], criteria: Criteria, locale: object) -> list[str]:
    """One line per explained result: ✅ or ❌, the title, the badges read from its name,
    and when turned away the criterion that did it (as ``/alert list`` describes it)."""
    t = i18n.t
    out: list[str] = []
    for result in results:
        read = " · ".join(result.badges) or t(locale, "alert.test.unread")
        line = f"{'✅' if result.decision.ok else '❌'} {safe_title(result.torrent.title, 70)} · {read}"
        if not result.decision.ok:
            why = criteria.describe_one(result.decision.criterion, locale, escape)
            line += " — " + t(locale, "alert.test.why", criterion=why or result.decision.kind)
        out.append(line)
    return out


# -- /watch -----------------------------------------------------------------------------------
def watch_pause_text(locale: object, reason: str | None) -> str:
    return i18n.t(locale, f"watch.pause_reason.{WatchPause.of(reason)}")


def watch_line(watch: WatchInfo, locale: object, *, server_enabled: bool = True, server_has_key: bool = True) -> str:
    t = i18n.t
    if watch.paused:
        state = t(locale, "watch.list.paused", reason=watch_pause_text(locale, watch.pause_reason))
    elif not watch.personal and not server_enabled:
        state = t(locale, "watch.list.server_off")
    elif not watch.personal and not server_has_key:
        state = t(locale, "watch.list.server_no_key")
    else:
        state = t(locale, "watch.list.active")
    runs = t(locale, "watch.list.personal" if watch.personal else "watch.list.server")
    last = (
        t(locale, "alert.list.last_match", when=relative_time(watch.last_match_at))
        if watch.last_match_at
        else t(locale, "alert.list.never")
    )
    counts = t(locale, "watch.list.sent", count=watch.delivered)
    if watch.pending:
        counts += " · " + t(locale, "alert.list.pending", count=watch.pending)
    criteria = criteria_text(watch.criteria, locale)
    return f"**{escape(watch.name)}** — {state}\n{runs} · {criteria}\n{last} · {counts}"


def watch_list_entries(listing: WatchList, locale: object) -> list[str]:
    """/watch list: one entry per watch, with why any is paused (paged by
    :func:`bot.ui.pages.send_pages`)."""
    return [
        watch_line(watch, locale, server_enabled=listing.server_enabled, server_has_key=listing.server_has_key)
        for watch in listing.watches
    ]


def watch_test_card(preview: WatchPreview, *, base_url: str, locale: object) -> tuple[str, list[discord.Embed]]:
    """/watch test: like /alert test, for the cards a DM would carry."""
    watch = preview.watch
    return test_card(watch.name, watch.criteria, preview.run, base_url=base_url, locale=locale, watch=True)


# -- /upload -----------------------------------------------------------------------------------
_OUTCOME_LABEL_KEYS = {
    "sending": "upload.list.outcome.sending",
    "uploaded": "upload.list.outcome.uploaded",
    "duplicate": "upload.list.outcome.duplicate",
    "rate_limited": "upload.list.outcome.rate_limited",
    "key_refused": "upload.list.outcome.key_refused",
    "refused": "upload.list.outcome.refused",
    "not_stored": "upload.list.outcome.not_stored",
    "unverified": "upload.list.outcome.unverified",
    "failed": "upload.list.outcome.failed",
}


_BACKTICK_PAIR = re.compile(r"`(?=`)")


def code_block(text: str, limit: int = 1000) -> str:
    """Text shown verbatim (NFO art): inside a code block Markdown and mentions do not
    render, so the only escape needed is for the fence itself. Control and format
    characters go first (a bidi override still reorders text inside a code block, and a
    zero-width space removed later could rejoin a fence); line breaks stay."""
    # No two backticks side by side: a fence cannot form from any run (a plain
    # replace of "```" left "`\u200b`\u200b```" from five).
    body = _BACKTICK_PAIR.sub("`\u200b", clean_text(text, multiline=True))
    if len(body) > limit - 8:
        body = body[: limit - 9] + "…"
    return f"```\n{body}\n```"


def _tmdb(draft: UploadDraft, locale: object) -> str:
    if not draft.tmdb_id:
        return "—"
    kind = i18n.t(locale, "upload.preview.tmdb.movie" if draft.tmdb_type == "MOVIE" else "upload.preview.tmdb.tv")
    return f"{draft.tmdb_id} ({kind})"


def _source(draft: UploadDraft, locale: object) -> str:
    if draft.source_fixed:
        return i18n.t(locale, "upload.preview.source.fixed")
    if draft.needs_source_fix:
        return i18n.t(locale, "upload.preview.source.missing")
    return i18n.t(locale, "upload.preview.source.ok")


def _account(draft: UploadDraft, locale: object) -> str:
    key = "upload.preview.account.member" if draft.key_owner == "member" else "upload.preview.account.guild"
    return i18n.t(locale, key, fingerprint=draft.key_fingerprint)


def warnings(draft: UploadDraft, locale: object) -> list[str]:
    """What the member should know before confirming."""
    t = i18n.t
    out: list[str] = []
    if draft.needs_source_fix:
        out.append(t(locale, "upload.warn.source"))
    elif draft.source_fixed:
        out.append(t(locale, "upload.warn.source_fixed"))
    if not draft.torrent.private:
        out.append(t(locale, "upload.warn.not_private"))
    if draft.nfo is None:
        out.append(t(locale, "upload.warn.no_nfo"))
    return out


def preview_embed(
    draft: UploadDraft,
    locale: object,
    *,
    notice: str | None = None,
    colour: discord.Colour = Colours.BRAND,
    closed: bool = False,
    link: str | None = None,
) -> discord.Embed:
    """Exactly what will be sent, and with which account (by key fingerprint)."""
    t = i18n.t
    lang = i18n.lang_of(locale)
    parts = [notice] if notice else []
    if not closed:
        parts.extend(warnings(draft, locale))
    embed = discord.Embed(
        title=safe_title(t(locale, "upload.preview.heading", title=draft.title), 256),
        description=shorten("\n\n".join(parts), 4000) or None,
        colour=colour,
        url=link,
    )
    embed.add_field(name=t(locale, "upload.preview.title"), value=escape(draft.title)[:1024], inline=False)
    embed.add_field(name=t(locale, "upload.preview.category"), value=escape(draft.category_label)[:1024], inline=True)
    tags = ", ".join(escape(tag.name) for tag in draft.tags) or "—"
    embed.add_field(name=t(locale, "upload.preview.tags"), value=shorten(tags, 1024), inline=True)
    embed.add_field(name=t(locale, "upload.preview.tmdb"), value=_tmdb(draft, locale), inline=True)
    if draft.cover_url:
        embed.add_field(name=t(locale, "upload.preview.cover"), value=inline_code(draft.cover_url, 1000), inline=False)
    embed.add_field(
        name=t(locale, "upload.preview.files"),
        value=t(
            locale,
            "upload.preview.files.value",
            count=draft.torrent.file_count,
            size=format_size(draft.torrent.total_size, lang),
        ),
        inline=True,
    )
    embed.add_field(name=t(locale, "upload.preview.source"), value=_source(draft, locale), inline=True)
    embed.add_field(
        name=t(locale, "upload.preview.info_hash"), value=inline_code(draft.torrent.info_hash), inline=False
    )
    trackers = "\n".join(inline_code(url, 150) for url in draft.announce_redacted[:3]) or "—"
    if len(draft.announce_redacted) > 3:
        trackers += "\n" + t(locale, "upload.preview.trackers.more", count=len(draft.announce_redacted) - 3)
    embed.add_field(name=t(locale, "upload.preview.trackers"), value=trackers[:1024], inline=False)
    embed.add_field(name=t(locale, "upload.preview.account"), value=_account(draft, locale), inline=False)
    nfo = code_block(draft.nfo_excerpt) if draft.nfo_excerpt else t(locale, "upload.preview.nfo.none")
    embed.add_field(name=t(locale, "upload.preview.nfo"), value=nfo, inline=False)
    if draft.description:
        embed.add_field(
            name=t(locale, "upload.preview.description"), value=shorten(escape(draft.description), 300), inline=False
        )
    if not closed:
        embed.set_footer(text=t(locale, "upload.preview.footer"))
    return embed


def outcome_text(outcome: UploadOutcome, locale: object) -> str:
    t = i18n.t
    draft = outcome.draft
    match outcome.status:
        case UploadStatus.UPLOADED:
            key = "upload.result.uploaded_after_timeout" if outcome.after_timeout else "upload.result.uploaded"
            text = t(locale, key, link=outcome.link or "—", fingerprint=draft.key_fingerprint)
            if draft.source_fixed:
                text += "\n\n" + t(locale, "upload.result.seed_fixed")
            return text
        case UploadStatus.DUPLICATE:
            if outcome.link:
                return t(locale, "upload.result.duplicate_link", link=outcome.link)
            return t(locale, "upload.result.duplicate")
        case UploadStatus.RATE_LIMITED:
            return t(locale, "upload.result.rate_limited", seconds=max(1, math.ceil(outcome.retry_after or 0)))
        case UploadStatus.KEY_REFUSED:
            key = (
                "upload.result.key_refused_member" if draft.key_owner == "member" else "upload.result.key_refused_guild"
            )
            return t(locale, key, fingerprint=draft.key_fingerprint)
        case UploadStatus.REFUSED:
            return t(locale, "upload.result.refused", message=escape(outcome.message or "HTTP 400")[:300])
        case UploadStatus.NOT_STORED:
            return t(locale, "upload.result.not_stored")
        case UploadStatus.UNVERIFIED:
            return t(locale, "upload.result.unverified")
    return ""  # pragma: no cover


def outcome_colour(outcome: UploadOutcome) -> discord.Colour:
    if outcome.status is UploadStatus.UPLOADED:
        return Colours.OK
    if outcome.status in (UploadStatus.KEY_REFUSED, UploadStatus.REFUSED):
        return Colours.FAIL
    return Colours.WARN


def announcement_embed(outcome: UploadOutcome, *, base_url: str, locale: object) -> discord.Embed:
    """The public card: the release card of the new torrent (no key, no passkey: the link
    was checked by the service, the tracker URLs are not shown) and its tags."""
    draft = outcome.draft
    torrent = Torrent.model_validate(
        {
            "title": draft.title,
            "size": draft.torrent.total_size,
            "pubDate": utcnow(),
            "link": outcome.link,
            "category": draft.category_path[-1] if draft.category_path else draft.category_label,
            "infoHash": draft.torrent.info_hash,
        }
    )
    embed = release_card(torrent, base_url=base_url, locale=locale)
    if draft.tags:
        tags = ", ".join(escape(tag.name) for tag in draft.tags)
        embed.add_field(name=i18n.t(locale, "upload.preview.tags"), value=shorten(tags, 1024), inline=False)
    return embed


def upload_entries(records: Sequence[UploadSummary], locale: object) -> list[str]:
    """A member's recent attempts, one entry each: when, what, how it ended, and the link
    when there is one (paged by :func:`bot.ui.pages.send_pages`)."""
    t = i18n.t
    lines: list[str] = []
    for record in records:
        when = relative_time(record.created_at)
        outcome = t(locale, _OUTCOME_LABEL_KEYS.get(record.outcome, "upload.list.outcome.failed"))
        title = safe_title(record.title, 90)
        # Stored links were checked when made; checked again (records from older versions).
        if record.link and not url_carries_secret(record.link, public=(record.info_hash,)):
            url = record.link.replace("(", "%28").replace(")", "%29")
            title = f"[{title}]({url})"
        line = f"{when} · **{title}** · {outcome}"
        extras = [inline_code(record.info_hash[:12] + "…")]
        if record.key_fingerprint:
            extras.append(t(locale, "upload.list.key", fingerprint=record.key_fingerprint))
        if record.source_fixed:
            extras.append(t(locale, "upload.list.source_fixed"))
        lines.append(line + "\n" + " · ".join(extras))
    return lines
