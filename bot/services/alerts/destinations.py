"""Where an alert posts: the kinds of channel it may use, what Vigie needs in each, the
age-restricted rule, and the naming and tagging of forum posts. Pure, no Discord: the UI
describes a channel as a :class:`Destination` (``bot/ui/destinations.py``) and the checks
here say what is wrong with it, before anything is saved.

**Kinds.** A text or announcement channel gets messages (up to ten releases each); a thread
(public, private or an announcement's) gets messages too; a forum channel gets one post
(a new thread) per release, titled with the release's name.

**Permissions** Vigie needs, by kind (each refusal says which ones are missing):

- text, announcement: View Channel, Send Messages, Embed Links;
- thread: View Channel and Send Messages in Threads (its parent's), Embed Links; the thread
  neither archived nor locked; a private thread only if Vigie was added to it;
- forum: View Channel, Send Messages (shown by Discord as « Create Posts » on a forum),
  Send Messages in Threads, Embed Links.

**Age-restricted categories.** La Cale's ``/meta`` carries no age-restriction field: a
category is ``{id, name, slug, icon, parentId, children}`` and nothing else (checked on a
real answer of January 2026). What the site does have is a root category « XXX » (slug
``xxx``) holding the adult releases (``xxx-gay``, ``xxx-hetero``…). So Vigie treats as
age-restricted every category whose slug, or an ancestor's, is in
:data:`AGE_RESTRICTED_SLUGS`; a label that the tree gives both inside and outside that
branch counts as restricted (the safe side). Such releases go only to age-restricted
(NSFW) channels; for a thread or a forum post, the parent channel's flag counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.errors import UserError
from bot.lacale.models import Category, Meta, normalize_text

#: Slugs of La Cale's age-restricted branches (the category and all its descendants).
AGE_RESTRICTED_SLUGS = frozenset({"xxx"})

#: Discord: a thread's name has 1 to 100 characters.
THREAD_NAME_MAX = 100


class ChannelKind(StrEnum):
    TEXT = "text"
    ANNOUNCEMENT = "announcement"
    THREAD = "thread"
    PRIVATE_THREAD = "private_thread"
    FORUM = "forum"
    #: Anything else (voice, stage, category, media…): refused.
    OTHER = "other"

    @property
    def is_thread(self) -> bool:
        return self in (ChannelKind.THREAD, ChannelKind.PRIVATE_THREAD)


@dataclass(frozen=True, slots=True)
class Destination:
    """A channel as it is when an alert is made or moved to it, with Vigie's own
    permissions there (for a thread, those its parent gives)."""

    channel_id: int
    kind: ChannelKind
    #: Age-restricted; a thread's is its parent's.
    nsfw: bool = False
    #: Vigie can see it: ``False`` for a private thread it was not added to.
    visible: bool = True
    archived: bool = False
    locked: bool = False
    view_channel: bool = False
    send_messages: bool = False
    send_messages_in_threads: bool = False
    embed_links: bool = False

    def missing_permissions(self) -> tuple[str, ...]:
        """Names (``discord.Permissions`` attributes) of what Vigie lacks for this kind."""
        needed: tuple[str, ...]
        if self.kind.is_thread:
            needed = ("view_channel", "send_messages_in_threads", "embed_links")
        elif self.kind is ChannelKind.FORUM:
            needed = ("view_channel", "send_messages", "send_messages_in_threads", "embed_links")
        else:
            needed = ("view_channel", "send_messages", "embed_links")
        return tuple(name for name in needed if not getattr(self, name))


def check_destination(destination: Destination) -> None:
    """Refuse a channel Vigie could not post in, with the precise reason."""
    channel = f"<#{destination.channel_id}>"
    kind = destination.kind
    if kind is ChannelKind.OTHER:
        raise UserError("alert.error.channel_kind", channel=channel)
    if kind.is_thread:
        if not destination.visible:
            raise UserError("alert.error.thread_hidden", channel=channel)
        if destination.locked:
            raise UserError("alert.error.thread_locked", channel=channel)
        if destination.archived:
            raise UserError("alert.error.thread_archived", channel=channel)
    missing = destination.missing_permissions()
    if missing:
        key = {
            ChannelKind.THREAD: "alert.error.thread_perms",
            ChannelKind.PRIVATE_THREAD: "alert.error.thread_perms",
            ChannelKind.FORUM: "alert.error.forum_perms",
        }.get(kind, "alert.error.channel_perms")
        raise UserError(key, channel=channel, missing=missing)


# -- age-restricted categories ---------------------------------------------------------------
def age_restricted_labels(meta: Meta) -> frozenset[str]:
    """Normalised labels (as results carry them) of every age-restricted category."""
    labels: set[str] = set()

    def walk(category: Category, restricted: bool) -> None:
        restricted = restricted or category.slug.strip().lower() in AGE_RESTRICTED_SLUGS
        if restricted:
            labels.add(normalize_text(category.name.strip()))
        for child in category.children:
            walk(child, restricted)

    for root in meta.categories:
        walk(root, False)
    return frozenset(labels)


def category_is_age_restricted(meta: Meta, slug: str) -> bool:
    """A category an alert names (a slug): restricted when it or an ancestor is."""
    wanted = slug.strip().lower()

    def walk(category: Category, restricted: bool) -> bool:
        restricted = restricted or category.slug.strip().lower() in AGE_RESTRICTED_SLUGS
        if category.slug.strip().lower() == wanted:
            return restricted
        return any(walk(child, restricted) for child in category.children)

    return any(walk(root, False) for root in meta.categories)


def release_is_age_restricted(restricted_labels: frozenset[str], category_label: str | None) -> bool:
    """A release (its ``category`` label) in an age-restricted category."""
    return normalize_text((category_label or "").strip()) in restricted_labels


_LABELS_OF: tuple[Meta, frozenset[str]] | None = None


def restricted_labels_of(meta: Meta) -> frozenset[str]:
    """:func:`age_restricted_labels`, computed once per copy of the tree."""
    global _LABELS_OF  # a one-entry cache: every poll shares one tree
    cached = _LABELS_OF
    if cached is not None and cached[0] is meta:
        return cached[1]
    labels = age_restricted_labels(meta)
    _LABELS_OF = (meta, labels)
    return labels


def flag_age_restricted(delivery_rows: Iterable[dict[str, Any]], meta: Meta) -> None:
    """Set ``age_restricted`` on delivery rows about to be recorded, from their release's label."""
    labels = restricted_labels_of(meta)
    for row in delivery_rows:
        release = row.get("release") or {}
        row["age_restricted"] = release_is_age_restricted(labels, release.get("category"))


def may_dm_age_restricted(meta: Meta, categories: Sequence[str]) -> bool:
    """A DM has no age-restricted setting: an age-restricted release goes to a member only
    through a watch that names an age-restricted category itself (they asked for exactly
    that), never through a broader one."""
    return any(category_is_age_restricted(meta, slug) for slug in categories)


def check_age_restriction(destination: Destination, meta: Meta | None, categories: Sequence[str]) -> None:
    """An alert on an age-restricted category posts only to an age-restricted channel."""
    if destination.nsfw or meta is None:
        return
    restricted = [slug for slug in categories if category_is_age_restricted(meta, slug)]
    if restricted:
        raise UserError(
            "alert.error.age_restricted", channel=f"<#{destination.channel_id}>", category=", ".join(restricted)
        )


# -- forum posts -------------------------------------------------------------------------------
def thread_name(title: str) -> str:
    """A forum post's name: the release's title on one line, at most 100 characters (a
    Discord limit), never empty. Thread names are not Markdown: the title stays as is."""
    name = " ".join(title.split())
    if len(name) > THREAD_NAME_MAX:
        name = name[: THREAD_NAME_MAX - 1].rstrip() + "…"
    return name or "—"


@dataclass(frozen=True, slots=True)
class ForumTag:
    id: int
    name: str
    #: Only members with Manage Threads may apply it.
    moderated: bool = False


def forum_tag(
    tags: Sequence[ForumTag], category_label: str | None, *, required: bool, may_moderate: bool
) -> int | None:
    """The tag to apply to a release's post: the forum's tag named like the release's
    category (case and accents ignored). None matching: no tag, unless the forum requires
    one; then its first tag Vigie may apply, so that the post is not refused (the card
    still names the real category). ``None`` when there is nothing to apply."""
    usable = [t for t in tags if may_moderate or not t.moderated]
    wanted = normalize_text((category_label or "").strip())
    if wanted:
        for tag in usable:
            if normalize_text(tag.name.strip()) == wanted:
                return tag.id
    if required and usable:
        return usable[0].id
    return None
