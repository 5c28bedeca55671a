"""Looking things up in La Cale's metadata for members: category and tag suggestions
(autocomplete) and the listings of /meta. Pure functions over :class:`Meta`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.formatting import clean_text
from bot.lacale.models import Meta, Tag, normalize_text

MAX_CHOICES = 25


@dataclass(frozen=True, slots=True)
class Suggestion:
    label: str  # what the member reads (≤ 100 chars)
    value: str  # what the command receives (slug or id)


def _fits(text: str, limit: int = 100) -> str:
    """A label from La Cale as a choice name: no control/format character (a bidi
    override would reorder what the member reads), at most ``limit`` characters."""
    text = clean_text(text) or "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def suggest_categories(meta: Meta, typed: str, *, value: str = "slug") -> list[Suggestion]:
    """Categories whose label, path or slug contains what was typed, accents and case
    ignored ("sér" finds "Séries TV"); labels first, then slugs, in tree order."""
    wanted = normalize_text(typed.strip())
    label_hits: list[Suggestion] = []
    other_hits: list[Suggestion] = []
    for flat in meta.walk_categories():
        cat = flat.category
        suggestion = Suggestion(_fits(f"{flat.label} — {cat.slug}"), cat.slug if value == "slug" else cat.id)
        if not wanted or normalize_text(cat.name).startswith(wanted):
            label_hits.append(suggestion)
        elif wanted in normalize_text(flat.label) or wanted in cat.slug.lower():
            other_hits.append(suggestion)
    return (label_hits + other_hits)[:MAX_CHOICES]


def suggest_tags(meta: Meta, typed: str) -> list[Suggestion]:
    """For a comma-separated list of tags: completes the last item and keeps the ones
    before it as they are (so the member can pick several, one after the other)."""
    head, _, last = typed.rpartition(",")
    prefix = (head + ", ") if head else ""
    chosen = {part.strip() for part in head.split(",") if part.strip()}
    wanted = normalize_text(last.strip())
    out: list[Suggestion] = []
    for tag in meta.all_tags():
        if tag.name in chosen or tag.id in chosen:
            continue
        if not wanted or wanted in normalize_text(tag.name) or wanted in tag.slug.lower():
            value = prefix + tag.name
            if len(value) <= 100:
                out.append(Suggestion(_fits(value), value))
        if len(out) >= MAX_CHOICES:
            break
    return out


def resolve_tags(meta: Meta, typed: str | Sequence[str]) -> tuple[list[Tag], list[str]]:
    """Names, slugs or ids (a sequence, or one comma-separated text) → (tags found, items
    not found)."""
    found: list[Tag] = []
    unknown: list[str] = []
    for part in typed.split(",") if isinstance(typed, str) else typed:
        item = part.strip()
        if not item:
            continue
        tag = meta.find_tag(item)
        if tag is None:
            unknown.append(item)
        elif tag not in found:
            found.append(tag)
    return found, unknown


@dataclass(frozen=True, slots=True)
class CategoryRow:
    depth: int
    name: str
    slug: str
    id: str


@dataclass(frozen=True, slots=True)
class TagGroupRows:
    name: str  # empty for the ungrouped tags
    tags: tuple[Tag, ...]


def category_rows(meta: Meta, name_filter: str | None = None) -> list[CategoryRow]:
    """Every category in tree order with its depth: label, slug (for searches and alerts)
    and id (for uploads). A filter keeps categories whose path or slug matches."""
    wanted = normalize_text(name_filter.strip()) if name_filter else ""
    rows: list[CategoryRow] = []
    for flat in meta.walk_categories():
        cat = flat.category
        if wanted and wanted not in normalize_text(flat.label) and wanted not in cat.slug.lower():
            continue
        rows.append(CategoryRow(flat.depth, cat.name, cat.slug, cat.id))
    return rows


def tag_groups(meta: Meta, name_filter: str | None = None) -> list[TagGroupRows]:
    """Tag groups in their order, those with no tags kept (shown as empty, not an error),
    then the ungrouped tags under an empty name."""
    wanted = normalize_text(name_filter.strip()) if name_filter else ""

    def keep(tag: Tag) -> bool:
        return not wanted or wanted in normalize_text(tag.name) or wanted in tag.slug.lower()

    groups: list[TagGroupRows] = []
    for group in sorted(meta.tag_groups, key=lambda g: g.order):
        tags = tuple(tag for tag in group.tags if keep(tag))
        if wanted and not tags and wanted not in normalize_text(group.name):
            continue
        groups.append(TagGroupRows(group.name, tags))
    ungrouped = tuple(tag for tag in meta.ungrouped_tags if keep(tag))
    if ungrouped:
        groups.append(TagGroupRows("", ungrouped))
    return groups
