"""The destination rules of bot/services/alerts/destinations.py: what Vigie needs in each
kind of channel, La Cale's age-restricted branch, forum post names and tags."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.lacale.models import Meta
from bot.services.alerts.destinations import (
    ChannelKind,
    Destination,
    ForumTag,
    age_restricted_labels,
    category_is_age_restricted,
    check_age_restriction,
    check_destination,
    flag_age_restricted,
    forum_tag,
    thread_name,
)

ALL = {"view_channel": True, "send_messages": True, "send_messages_in_threads": True, "embed_links": True}

#: The shape of La Cale's real /meta (January 2026): an « XXX » root with leaves, nothing
#: marking it age-restricted but its slug; three levels elsewhere; ``children: null``.
META = Meta.model_validate(
    {
        "categories": [
            {
                "id": "c1",
                "name": "Vidéo",
                "slug": "video",
                "parentId": None,
                "children": [
                    {
                        "id": "c2",
                        "name": "Films",
                        "slug": "films",
                        "parentId": "c1",
                        "children": [
                            {"id": "c3", "name": "Animation", "slug": "animation", "parentId": "c2", "children": None}
                        ],
                    }
                ],
            },
            {
                "id": "x1",
                "name": "XXX",
                "slug": "xxx",
                "icon": "Image",
                "parentId": None,
                "children": [
                    {"id": "x2", "name": "Hétéro", "slug": "xxx-hetero", "parentId": "x1", "children": None},
                    {"id": "x3", "name": "Gay", "slug": "xxx-gay", "parentId": "x1", "children": None},
                ],
            },
        ],
        "tagGroups": [],
        "ungroupedTags": [],
    }
)


def refusal(destination: Destination) -> UserError:
    with pytest.raises(UserError) as caught:
        check_destination(destination)
    return caught.value


@pytest.mark.parametrize("kind", [ChannelKind.TEXT, ChannelKind.ANNOUNCEMENT])
def test_text_and_announcement_need_view_send_embed(kind: ChannelKind) -> None:
    check_destination(Destination(1, kind, **ALL))
    # Send Messages in Threads is not needed there.
    check_destination(Destination(1, kind, **{**ALL, "send_messages_in_threads": False}))
    error = refusal(Destination(1, kind, **{**ALL, "embed_links": False, "view_channel": False}))
    assert error.key == "alert.error.channel_perms"
    assert error.values == {"channel": "<#1>", "missing": ("view_channel", "embed_links")}


@pytest.mark.parametrize("kind", [ChannelKind.THREAD, ChannelKind.PRIVATE_THREAD])
def test_threads_need_send_in_threads_and_an_open_visible_thread(kind: ChannelKind) -> None:
    # Send Messages is not what a thread needs: Send Messages in Threads is.
    check_destination(Destination(2, kind, **{**ALL, "send_messages": False}))
    error = refusal(Destination(2, kind, **{**ALL, "send_messages_in_threads": False}))
    assert (error.key, error.values["missing"]) == ("alert.error.thread_perms", ("send_messages_in_threads",))
    assert refusal(Destination(2, kind, **ALL, locked=True)).key == "alert.error.thread_locked"
    assert refusal(Destination(2, kind, **ALL, archived=True)).key == "alert.error.thread_archived"
    # A private thread Vigie was not added to: hidden, whatever the parent allows.
    assert refusal(Destination(2, kind, visible=False)).key == "alert.error.thread_hidden"


def test_forums_need_create_posts_and_send_in_threads() -> None:
    check_destination(Destination(3, ChannelKind.FORUM, **ALL))
    error = refusal(Destination(3, ChannelKind.FORUM, **{**ALL, "send_messages": False}))
    assert (error.key, error.values["missing"]) == ("alert.error.forum_perms", ("send_messages",))
    error = refusal(Destination(3, ChannelKind.FORUM, **{**ALL, "send_messages_in_threads": False}))
    assert error.values["missing"] == ("send_messages_in_threads",)


def test_other_kinds_are_refused() -> None:
    assert refusal(Destination(4, ChannelKind.OTHER, **ALL)).key == "alert.error.channel_kind"


def test_the_xxx_branch_is_age_restricted_and_nothing_else() -> None:
    assert age_restricted_labels(META) == {"xxx", "hetero", "gay"}
    assert category_is_age_restricted(META, "xxx")
    assert category_is_age_restricted(META, "xxx-gay")
    assert not category_is_age_restricted(META, "films")
    assert not category_is_age_restricted(META, "animation")
    assert not category_is_age_restricted(META, "unknown")


def test_age_restricted_alert_only_on_an_nsfw_channel() -> None:
    plain = Destination(5, ChannelKind.TEXT, **ALL)
    with pytest.raises(UserError) as caught:
        check_age_restriction(plain, META, ["films", "xxx-hetero"])
    assert caught.value.key == "alert.error.age_restricted"
    assert caught.value.values == {"channel": "<#5>", "category": "xxx-hetero"}
    check_age_restriction(plain, META, ["films"])
    check_age_restriction(Destination(5, ChannelKind.THREAD, nsfw=True, **ALL), META, ["xxx"])


def test_recorded_deliveries_are_flagged_by_their_label() -> None:
    rows = [{"release": {"category": "Hétéro"}}, {"release": {"category": "Films"}}, {"release": {}}]
    flag_age_restricted(rows, META)
    assert [r["age_restricted"] for r in rows] == [True, False, False]


def test_thread_names() -> None:
    assert thread_name("Dune.Part.Two.2024.2160p") == "Dune.Part.Two.2024.2160p"
    assert thread_name("  a\nb\tc  ") == "a b c"
    long = thread_name("x" * 300)
    assert len(long) == 100 and long.endswith("…")
    assert thread_name("   ") == "—"
    # Untrusted text is not interpreted: a thread name renders no Markdown and no mention.
    assert thread_name("**<@&1>**") == "**<@&1>**"


def test_forum_tag_named_like_the_category() -> None:
    tags = [ForumTag(1, "Séries TV"), ForumTag(2, "films hd"), ForumTag(3, "Staff", moderated=True)]
    assert forum_tag(tags, "Films HD", required=False, may_moderate=False) == 2
    assert forum_tag(tags, "SERIES tv", required=False, may_moderate=False) == 1
    assert forum_tag(tags, "Jeux", required=False, may_moderate=False) is None
    # The forum requires a tag and none matches: its first tag Vigie may apply.
    assert forum_tag(tags, "Jeux", required=True, may_moderate=False) == 1
    assert forum_tag([ForumTag(3, "Jeux", moderated=True)], "Jeux", required=True, may_moderate=False) is None
    assert forum_tag([ForumTag(3, "Jeux", moderated=True)], "Jeux", required=False, may_moderate=True) == 3
