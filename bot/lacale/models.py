"""Typed shapes of what La Cale sends and receives.

The live service drifted from its documentation (extra fields, ``null`` lists, a
``link`` that became the page URL, slugs that changed): these models accept all of it
and normalise it once, at the boundary, so nothing past the client sees a raw dict.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Re-exported: the one detector of secrets in URLs lives in bot.urls.
from bot.urls import url_carries_secret as url_carries_secret

#: Letters that neither NFKD nor case folding turn into plain ones: ligatures written as
#: one letter (``Cœur``, ``Ægypte``) and letters with a stroke. Applied after
#: ``casefold`` (which already makes ``ß`` ``ss`` and ``Œ`` ``œ``).
_FOLD_LETTERS = str.maketrans(
    {"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ħ": "h", "ŧ": "t"}
)


def normalize_text(text: str) -> str:
    """Lower case, accents removed, ligatures spelt out: the normalisation La Cale applies
    to ``q``, as members type (``coeur`` finds ``Cœur``, ``ae`` ``Æ``, ``fi`` ``ﬁ``).

    Used for matching slugs/labels in autocomplete and titles in alerts: one function,
    so /search, /alert and autocomplete agree.
    """
    decomposed = unicodedata.normalize("NFKD", text)  # ﬁ → fi, ĳ → ij, é → e + accent
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return plain.translate(_FOLD_LETTERS)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Torrent(_Lenient):
    """One search result."""

    title: str
    guid: str = ""
    size: int = 0
    pub_date: datetime = Field(alias="pubDate")
    link: str | None = None
    download_link: str | None = Field(default=None, alias="downloadLink")
    category: str = ""
    seeders: int = 0
    leechers: int = 0
    info_hash: str = Field(alias="infoHash")

    @field_validator("pub_date")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @field_validator("info_hash")
    @classmethod
    def _lower_hash(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("size", "seeders", "leechers", mode="before")
    @classmethod
    def _int_or_zero(cls, value: Any) -> int:
        if value is None:
            return 0
        return int(value)

    @field_validator("title", "guid", "category", mode="before")
    @classmethod
    def _str_or_empty(cls, value: Any) -> str:
        return "" if value is None else str(value)

    def page_url(self, base_url: str) -> str:
        """A link safe to post in a channel.

        The API's ``link`` is used when it points at the configured site and carries no
        credential by :func:`bot.urls.url_carries_secret` (the detector that masks announce
        URLs: ``pk``, ``torrent_pass``, a passkey in the path...; the link has been the
        download URL, then the torrent page, and once ``http://localhost:3000``); otherwise
        the documented download URL is rebuilt from the base URL and the info hash: it
        carries no key and works in a browser where the member is logged in.
        """
        base = base_url.rstrip("/")
        link = self.link or ""
        public = (self.info_hash,)
        if link.startswith(base + "/") and not url_carries_secret(link, public=public):
            return link
        # The info hash comes from La Cale too: quoted, a malformed one cannot add a path
        # or a query; one that looks like a secret leaves only the site's address.
        rebuilt = download_url(base, self.info_hash)
        return rebuilt if not url_carries_secret(rebuilt) else base + "/"


def download_url(base_url: str, info_hash: str) -> str:
    """La Cale's documented download route for ``info_hash``: no key in it (the site asks
    the browser's session). The hash is quoted: one from an answer cannot add a path or a
    query."""
    return f"{base_url.rstrip('/')}/api/torrents/download/{quote(info_hash, safe='')}"


class Category(_Lenient):
    id: str
    name: str
    slug: str
    icon: str | None = None
    parent_id: str | None = Field(default=None, alias="parentId")
    children: tuple[Category, ...] = ()

    @field_validator("children", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value


class Tag(_Lenient):
    id: str
    name: str
    slug: str = ""


class TagGroup(_Lenient):
    id: str
    name: str
    slug: str = ""
    order: int = 0
    tags: tuple[Tag, ...] = ()

    @field_validator("tags", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value


@dataclass(frozen=True, slots=True)
class FlatCategory:
    """A category with its place in the tree, for lists and autocomplete."""

    category: Category
    depth: int
    path: tuple[str, ...]  # labels from the root to this category

    @property
    def label(self) -> str:
        return " › ".join(self.path)


class Meta(_Lenient):
    """Answer of ``/api/external/meta`` with the lookups every feature needs.

    Search filters take slugs, uploads take ids, results carry labels: these helpers
    go between the three without anyone hard-coding a slug or id.
    """

    categories: tuple[Category, ...] = ()
    tag_groups: tuple[TagGroup, ...] = Field(default=(), alias="tagGroups")
    ungrouped_tags: tuple[Tag, ...] = Field(default=(), alias="ungroupedTags")

    @field_validator("categories", "tag_groups", "ungrouped_tags", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    # -- categories -------------------------------------------------------------------
    def walk_categories(self) -> Iterator[FlatCategory]:
        """Every category, depth first, parents before children."""

        def walk(cats: tuple[Category, ...], depth: int, path: tuple[str, ...]) -> Iterator[FlatCategory]:
            for cat in cats:
                here = (*path, cat.name)
                yield FlatCategory(cat, depth, here)
                yield from walk(cat.children, depth + 1, here)

        return walk(self.categories, 0, ())

    def category_by_slug(self, slug: str) -> Category | None:
        wanted = slug.strip().lower()
        return next((f.category for f in self.walk_categories() if f.category.slug.lower() == wanted), None)

    def categories_by_label(self, label: str) -> list[Category]:
        wanted = normalize_text(label.strip())
        return [f.category for f in self.walk_categories() if normalize_text(f.category.name) == wanted]

    def slug_for_label(self, label: str) -> str | None:
        """A search result's ``category`` is a label: map it back to a slug when unique."""
        found = self.categories_by_label(label)
        return found[0].slug if found else None

    def expand_category(self, slug: str) -> list[str]:
        """The slug and all its descendants' slugs: filtering by a parent did not always
        include children server-side, so the client sends them all."""
        cat = self.category_by_slug(slug)
        if cat is None:
            return []
        out: list[str] = []

        def walk(c: Category) -> None:
            out.append(c.slug)
            for child in c.children:
                walk(child)

        walk(cat)
        return out

    def labels_under(self, slug: str) -> set[str]:
        """Normalised labels of a category and its descendants (to match result labels)."""
        labels: set[str] = set()
        for s in self.expand_category(slug):
            cat = self.category_by_slug(s)
            if cat is not None:
                labels.add(normalize_text(cat.name))
        return labels

    # -- tags -------------------------------------------------------------------------
    def all_tags(self) -> list[Tag]:
        """Every tag once (the same tag may sit in several groups), grouped order kept."""
        seen: set[str] = set()
        out: list[Tag] = []
        for group in sorted(self.tag_groups, key=lambda g: g.order):
            for tag in group.tags:
                if tag.id not in seen:
                    seen.add(tag.id)
                    out.append(tag)
        for tag in self.ungrouped_tags:
            if tag.id not in seen:
                seen.add(tag.id)
                out.append(tag)
        return out

    def find_tag(self, text: str) -> Tag | None:
        """A tag from its id, slug or label (case and accents ignored)."""
        wanted = normalize_text(text.strip())
        for tag in self.all_tags():
            if tag.id == text.strip() or normalize_text(tag.slug) == wanted or normalize_text(tag.name) == wanted:
                return tag
        return None


TmdbType = Literal["MOVIE", "TV"]


@dataclass(frozen=True, slots=True)
class UploadFile:
    filename: str
    content: bytes


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """What ``POST /api/external/upload`` takes. Optional fields are sent only when set."""

    title: str
    category_id: str
    torrent: UploadFile
    tags: tuple[str, ...] = ()
    description: str | None = None
    tmdb_id: str | None = None
    tmdb_type: TmdbType | None = None
    cover_url: str | None = None
    nfo: UploadFile | None = None


class UploadResult(_Lenient):
    success: bool = True
    id: str = ""
    slug: str = ""
    link: str | None = None


Category.model_rebuild()
