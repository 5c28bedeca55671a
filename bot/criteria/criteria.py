"""An alert's criteria: every criterion declared once, as a field of :class:`Criteria`.

A criterion object (:class:`~bot.criteria.base.Criterion`) knows how its option is
parsed and validated, how it is stored in the alert's ``criteria`` JSON column, how it is
compiled for matching (once per alert) and checked against a release, how it reads in
``/alert list`` and on cards, and what it suggests while a member types. Everything else
(the ``/alert`` and ``/watch`` options, storage, the poller, ``/alert test``, the cards)
walks :data:`CRITERIA`: adding a criterion is one field here, its tests and its strings
in the catalogues (``CONTRIBUTING.md``, "add an alert criterion").

The matching rule, as ``/alert test`` and the README explain it:

- the title and the alert's words are normalised like La Cale's ``q`` (lower case, accents
  removed, punctuation and dots as spaces), so ``One.Piece.S01E01`` reads
  ``one piece s01e01``;
- every word of the query must start a word of the title: ``piece s01`` matches
  ``One.Piece.S01E01`` (prefix, so a season finds its episodes and ``1080`` finds
  ``1080p``), ``une`` does not match ``Dune`` (never the middle of a word);
- a category includes its sub-categories (results carry a *label*, so the chosen slug is
  turned into the labels of it and its descendants through ``/meta``);
- sizes are inclusive bounds, seeders a minimum, both as the release was when first seen;
- an excluded entry (a word, or several words in a row) drops the release when it
  appears as whole words: ``cam`` drops ``Film.CAM.x264`` but not ``Cameron``;
- a TMDB id cannot be read from a result: the caller passes the info hashes La Cale
  returned for ``tmdbId=…``;
- resolution, source, codec, language, season and episode are what the release's name
  says (``bot.releases``, read once per info hash): each accepts several values, any of
  which passes, and a name that says nothing about it does not pass (the language tags
  follow the French scene: see :class:`Language`);
- a regex is searched in the title by RE2 (linear time), case-insensitive.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, TypeVar

from bot import i18n
from bot.criteria.base import MATCH, Criterion, Decision, Escape, Option, ValuesCriterion
from bot.criteria.release import ReleaseView, normalize_words
from bot.errors import UserError
from bot.formatting import format_size, parse_size
from bot.lacale.models import Meta
from bot.limits import CATEGORY_MAX, EXCLUDE_TEXT_MAX, EXCLUDE_WORDS_MAX, MIN_SEEDERS_MAX, PATTERN_MAX, QUERY_MAX
from bot.releases import CODECS, LANGUAGES, RESOLUTIONS, SOURCES, PatternError, ReleaseInfo, TitlePattern
from bot.services.metadata import suggest_categories
from bot.services.search import validate_tmdb

log = logging.getLogger("vigie.criteria")

T = TypeVar("T")


def parse_size_option(text: str | None, field_name: str) -> int | None:
    """``"700 MB"``, ``"4.5 GiB"``, ``"1,5 Go"`` → bytes; empty → ``None``."""
    if text is None or not text.strip():
        return None
    value = parse_size(text)
    if value is None:
        raise UserError("alert.error.bad_size", field=field_name, value=text.strip()[:40])
    return value


def parse_exclude(text: str | None) -> list[str]:
    """``"cam, hd ts"`` → ``["cam", "hd ts"]``; without commas every word is an entry
    (``"cam ts"`` → ``["cam", "ts"]``). Entries are stored normalised."""
    if not text or not text.strip():
        return []
    parts = text.split(",") if "," in text else text.split()
    out: list[str] = []
    for part in parts:
        words = normalize_words(part)
        if words and " ".join(words) not in out:
            out.append(" ".join(words))
    return out


def _strings(data: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in (data or ()))


# -- the criteria ----------------------------------------------------------------------------
class Query(Criterion[str | None, tuple[str, ...]]):
    """Words that must all start a word of the title."""

    def parse(self, raw: Any) -> str | None:
        return self.validate(str(raw), None)

    def validate(self, value: str | None, meta: Meta | None) -> str | None:
        clean = " ".join((value or "").split()) or None
        if clean is not None and len(clean) > QUERY_MAX:
            raise UserError("error.too_long", field="query", limit=QUERY_MAX)
        return clean

    def compile(self, value: str | None, meta: Meta | None) -> tuple[str, ...]:
        return normalize_words(value)

    def check(
        self, compiled: tuple[str, ...], release: ReleaseView, tmdb_hashes: Collection[str] | None
    ) -> Decision | None:
        for word in compiled:
            if word not in release.prefixes:
                return self.refuse(f"word '{word}' not in title")
        return None

    def describe(self, value: str | None, locale: object, escape: Escape) -> str:
        return i18n.t(locale, "alert.criteria.query", words=escape(value or ""))


class Categories(Criterion[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]]):
    """Category slugs as chosen; a parent includes its descendants. Compiled to the
    normalised labels of them all (results carry a label); without the category tree
    (La Cale's ``/meta`` unreachable) the alert matches nothing rather than everything."""

    suggests = True

    def parse(self, raw: Any) -> tuple[str, ...]:
        slug = str(raw).strip()
        return (slug,) if slug else ()

    def validate(self, value: tuple[str, ...], meta: Meta | None) -> tuple[str, ...]:
        tree = meta or Meta()
        chosen: list[str] = []
        for raw in value:
            slug = raw.strip()
            if not slug:
                continue
            category = tree.category_by_slug(slug)
            if category is None:
                # Members may type a label instead of picking a slug from autocomplete.
                by_label = tree.categories_by_label(slug)
                if len(by_label) != 1:
                    raise UserError("search.unknown_category", category=slug[:CATEGORY_MAX])
                category = by_label[0]
            if category.slug not in chosen:
                chosen.append(category.slug)
        return tuple(chosen)

    def load(self, data: Any) -> tuple[str, ...]:
        return _strings(data)

    def compile(self, value: tuple[str, ...], meta: Meta | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        found: set[str] = set()
        if meta is not None:
            for slug in value:
                under = meta.labels_under(slug)
                if not under:
                    log.warning("category %r is not in La Cale's metadata any more", slug)
                found |= under
        return value, tuple(sorted(found))

    def check(
        self,
        compiled: tuple[tuple[str, ...], tuple[str, ...]],
        release: ReleaseView,
        tmdb_hashes: Collection[str] | None,
    ) -> Decision | None:
        slugs, labels = compiled
        if release.label not in labels:
            return self.refuse(f"category '{release.torrent.category}' not under {','.join(slugs)}")
        return None

    def describe(self, value: tuple[str, ...], locale: object, escape: Escape) -> str:
        return i18n.t(locale, "alert.criteria.category", slugs=escape(", ".join(value)))

    def suggest(self, current: str, meta: Meta | None) -> list[tuple[str, str]]:
        if meta is None:
            return []
        return [(s.label, s.value) for s in suggest_categories(meta, current)]


class Tmdb(Criterion[str | None, str]):
    """A TMDB id: results do not carry it, so the caller passes the info hashes La Cale
    returned for ``tmdbId=…`` (checked last, after the criteria a result can answer)."""

    def parse(self, raw: Any) -> str | None:
        return validate_tmdb(str(raw))

    def validate(self, value: str | None, meta: Meta | None) -> str | None:
        return validate_tmdb(value)

    def check(self, compiled: str, release: ReleaseView, tmdb_hashes: Collection[str] | None) -> Decision | None:
        if tmdb_hashes is None:
            return self.refuse("TMDB results unknown")
        if release.torrent.info_hash not in tmdb_hashes:
            return self.refuse(f"not in TMDB {compiled} results")
        return None

    def describe(self, value: str | None, locale: object, escape: Escape) -> str:
        return i18n.t(locale, "alert.criteria.tmdb", id=escape(value or ""))


class Size(Criterion[int | None, int]):
    """An inclusive bound on the size, in bytes (typed like ``700 MB`` or ``4,5 Go``)."""

    def __init__(self, *, minimum: bool, **kwargs: Any) -> None:
        super().__init__(empty=None, kind="size", **kwargs)
        self.minimum = minimum

    def parse(self, raw: Any) -> int | None:
        return parse_size_option(str(raw), self.option)

    def validate(self, value: int | None, meta: Meta | None) -> int | None:
        if value is not None and value < 0:
            raise UserError("alert.error.size_range")
        return value

    def check(self, compiled: int, release: ReleaseView, tmdb_hashes: Collection[str] | None) -> Decision | None:
        size = release.torrent.size
        if self.minimum and size < compiled:
            return self.refuse(f"size {size} below {compiled}")
        if not self.minimum and size > compiled:
            return self.refuse(f"size {size} above {compiled}")
        return None

    def describe(self, value: int | None, locale: object, escape: Escape) -> str:
        key = "alert.criteria.min_size" if self.minimum else "alert.criteria.max_size"
        return i18n.t(locale, key, size=format_size(value or 0, i18n.lang_of(locale)))


class MinSeeders(Criterion[int | None, int]):
    """Seeders when the release was first seen, at least."""

    def parse(self, raw: Any) -> int | None:
        return self.validate(int(raw), None)

    def validate(self, value: int | None, meta: Meta | None) -> int | None:
        if value is not None and value < 0:
            raise UserError("alert.error.seeders")
        return value

    def check(self, compiled: int, release: ReleaseView, tmdb_hashes: Collection[str] | None) -> Decision | None:
        seeders = release.torrent.seeders
        if seeders < compiled:
            return self.refuse(f"{seeders} seeders below {compiled}")
        return None

    def describe(self, value: int | None, locale: object, escape: Escape) -> str:
        return i18n.t(locale, "alert.criteria.min_seeders", count=value or 0)


class Exclude(Criterion[tuple[str, ...], tuple[str, ...]]):
    """Entries (a word, or several words in a row) that drop a release when they appear
    in its title as whole words."""

    def parse(self, raw: Any) -> tuple[str, ...]:
        return tuple(parse_exclude(str(raw)))

    def validate(self, value: tuple[str, ...], meta: Meta | None) -> tuple[str, ...]:
        # Entries arrive split already (``parse``); each is normalised as one phrase.
        entries = tuple(dict.fromkeys(" ".join(normalize_words(e)) for e in value if normalize_words(e)))
        if len(entries) > EXCLUDE_WORDS_MAX:
            raise UserError("alert.error.exclude", limit=EXCLUDE_WORDS_MAX)
        return entries

    def load(self, data: Any) -> tuple[str, ...]:
        return _strings(data)

    def compile(self, value: tuple[str, ...], meta: Meta | None) -> tuple[str, ...]:
        return tuple(" ".join(words) for words in map(normalize_words, value) if words)

    def check(
        self, compiled: tuple[str, ...], release: ReleaseView, tmdb_hashes: Collection[str] | None
    ) -> Decision | None:
        for entry in compiled:
            if f" {entry} " in release.text:
                return self.refuse(f"excluded word '{entry}'")
        return None

    def describe(self, value: tuple[str, ...], locale: object, escape: Escape) -> str:
        return i18n.t(locale, "alert.criteria.exclude", words=escape(", ".join(value)))


class Resolution(ValuesCriterion):
    """The resolution the name says: 2160p (4K), 1080p, 720p or SD (anything below)."""

    def read(self, info: ReleaseInfo) -> Collection[str]:
        return (info.resolution,) if info.resolution else ()


class Source(ValuesCriterion):
    """The source the name says: WEB-DL (an untouched web stream, the scene's WEB), WEBRip,
    BluRay (an encode), Remux (a Blu-ray remuxed, not re-encoded: not BluRay), HDTV or DVD."""

    def read(self, info: ReleaseInfo) -> Collection[str]:
        return (info.source,) if info.source else ()


class Codec(ValuesCriterion):
    """The video codec the name says, by the encoder the scene names: x264 (H.264, AVC), x265 (H.265, HEVC) or AV1."""

    def read(self, info: ReleaseInfo) -> Collection[str]:
        return (info.codec,) if info.codec else ()


class Language(ValuesCriterion):
    """The French release language tags the name carries, as the French scene uses them.

    A value asked keeps a release whose name carries a tag that *gives* it:

    - ``MULTi`` (French and the original audio): ``MULTi`` only, so ``…MULTi.1080p…``
      passes and ``…VOSTFR…`` or ``…FRENCH…`` does not; ``MULTi.VFF`` passes too;
    - ``VFF`` (France's dub): ``VFF`` (so ``MULTi.VFF`` passes), ``TRUEFRENCH`` (the older
      name of the same dub) and ``VF2`` (both dubs);
    - ``TRUEFRENCH``: the same as ``VFF``;
    - ``VFQ`` (Quebec's dub): ``VFQ`` and ``VF2``;
    - ``VF2``: ``VF2`` only;
    - ``FRENCH`` (French audio, whichever dub): any French audio, so ``FRENCH``,
      ``TRUEFRENCH``, ``VFF``, ``VFQ``, ``VF2`` and ``MULTi``;
    - ``VOSTFR`` (original audio, French subtitles) and ``VO`` (original only): themselves.

    Several values keep a release any of them keeps; a name with no language tag passes none.
    """

    #: Asked value → the tags that give it.
    GIVEN_BY: Mapping[str, tuple[str, ...]] = MappingProxyType(
        {
            "MULTi": ("MULTi",),
            "VFF": ("VFF", "TRUEFRENCH", "VF2"),
            "TRUEFRENCH": ("TRUEFRENCH", "VFF", "VF2"),
            "VFQ": ("VFQ", "VF2"),
            "VF2": ("VF2",),
            "FRENCH": ("FRENCH", "TRUEFRENCH", "VFF", "VFQ", "VF2", "MULTi"),
            "VOSTFR": ("VOSTFR",),
            "VO": ("VO",),
        }
    )

    def compile(self, value: tuple[str, ...], meta: Meta | None) -> tuple[str, ...]:
        return tuple(sorted({tag for asked in value for tag in self.GIVEN_BY.get(asked, (asked,))}))

    def read(self, info: ReleaseInfo) -> Collection[str]:
        return info.languages


def _items(raw: Any) -> list[str]:
    """A comma-separated option's items, stripped, blanks dropped."""
    return [item.strip() for item in str(raw).split(",") if item.strip()]


_SEASON = re.compile(r"^(?:s|saison|season)?\s*0*(\d{1,4})$", re.IGNORECASE)


class Season(Criterion[tuple[str, ...], tuple[int, ...]]):
    """Seasons (``S01``, ``1``, ``saison 2``; several, comma separated): a release of one
    of them passes, an episode or a full season. A name that says no season passes none."""

    suggests = True
    reads_name = True

    def parse(self, raw: Any) -> tuple[str, ...]:
        return self.validate(tuple(_items(raw)), None)

    def validate(self, value: tuple[str, ...], meta: Meta | None) -> tuple[str, ...]:
        numbers: set[int] = set()
        for typed in value:
            found = _SEASON.match(typed.strip())
            if found is None:
                raise UserError("alert.error.bad_season", value=typed.strip()[:40])
            numbers.add(int(found.group(1)))
        return tuple(f"S{n:02d}" for n in sorted(numbers))

    def load(self, data: Any) -> tuple[str, ...]:
        return tuple(str(item) for item in (data or ()))

    def compile(self, value: tuple[str, ...], meta: Meta | None) -> tuple[int, ...]:
        return tuple(int(v[1:]) for v in value)

    def check(
        self, compiled: tuple[int, ...], release: ReleaseView, tmdb_hashes: Collection[str] | None
    ) -> Decision | None:
        seasons = release.info.seasons
        if not seasons:
            return self.refuse("no season in the name")
        if not any(n in compiled for n in seasons):
            return self.refuse(f"season {','.join(map(str, seasons))} not in {','.join(map(str, compiled))}")
        return None

    def describe(self, value: tuple[str, ...], locale: object, escape: Escape) -> str:
        return i18n.t(locale, "alert.criteria.season", values=", ".join(value))

    def suggest(self, current: str, meta: Meta | None) -> list[tuple[str, str]]:
        head, _, last = current.rpartition(",")
        kept = ", ".join(_items(head))
        found = _SEASON.match(last.strip())
        seasons = [int(found.group(1))] if found else ([] if last.strip() else list(range(1, 11)))
        return [((kept + ", " if kept else "") + f"S{n:02d}",) * 2 for n in seasons]


_EPISODE = re.compile(r"^s0*(\d{1,4})\s*e0*(\d{1,4})$", re.IGNORECASE)
#: What members type for "a full season" (canonical: ``pack``).
_PACK = frozenset({"pack", "full", "complete", "complet", "integrale", "intégrale", "saison", "season"})
#: A full season, compiled.
_FULL_SEASON = (0, 0)


class Episode(Criterion[tuple[str, ...], tuple[tuple[int, int], ...]]):
    """Episodes (``S01E02``; several, comma separated), or ``pack``: a full season (with
    ``season``, that season's pack). A release naming one of the episodes passes
    (``S01E02E03`` is episodes 2 and 3); a film or a pack does not pass an episode."""

    suggests = True
    reads_name = True

    def parse(self, raw: Any) -> tuple[str, ...]:
        return self.validate(tuple(_items(raw)), None)

    def validate(self, value: tuple[str, ...], meta: Meta | None) -> tuple[str, ...]:
        found: set[tuple[int, int]] = set()
        for typed in value:
            text = typed.strip()
            episode = _EPISODE.match(text)
            if episode is not None:
                found.add((int(episode.group(1)), int(episode.group(2))))
            elif text.casefold() in _PACK:
                found.add(_FULL_SEASON)
            else:
                raise UserError("alert.error.bad_episode", value=text[:40])
        return tuple("pack" if pair == _FULL_SEASON else f"S{pair[0]:02d}E{pair[1]:02d}" for pair in sorted(found))

    def load(self, data: Any) -> tuple[str, ...]:
        return tuple(str(item) for item in (data or ()))

    def compile(self, value: tuple[str, ...], meta: Meta | None) -> tuple[tuple[int, int], ...]:
        out: list[tuple[int, int]] = []
        for item in value:
            episode = _EPISODE.match(item)
            out.append((int(episode.group(1)), int(episode.group(2))) if episode else _FULL_SEASON)
        return tuple(out)

    def check(
        self, compiled: tuple[tuple[int, int], ...], release: ReleaseView, tmdb_hashes: Collection[str] | None
    ) -> Decision | None:
        info = release.info
        for season, episode in compiled:
            if (season, episode) == _FULL_SEASON:
                if info.full_season:
                    return None
            elif season in info.seasons and episode in info.episodes:
                return None
        said = "a full season" if info.full_season else f"seasons {info.seasons} episodes {info.episodes}"
        return self.refuse(f"{said} is not one of the episodes asked")

    def describe(self, value: tuple[str, ...], locale: object, escape: Escape) -> str:
        pack = i18n.t(locale, "alert.criteria.full_season")
        return i18n.t(locale, "alert.criteria.episode", values=", ".join(pack if v == "pack" else v for v in value))

    def suggest(self, current: str, meta: Meta | None) -> list[tuple[str, str]]:
        head, _, last = current.rpartition(",")
        kept = ", ".join(_items(head))
        typed = last.strip()
        episode = _EPISODE.match(typed)
        if episode is not None:
            values = [f"S{int(episode.group(1)):02d}E{int(episode.group(2)):02d}"]
        elif not typed:
            values = ["pack", "S01E01"]
        elif "pack".startswith(typed.casefold()) or typed.casefold() in _PACK:
            values = ["pack"]
        else:
            values = []
        return [((kept + ", " if kept else "") + v,) * 2 for v in values]


@functools.lru_cache(maxsize=4096)
def _title_pattern(source: str) -> TitlePattern | None:
    """Each pattern compiled once per process (an alert keeps only its source: atomic)."""
    try:
        return TitlePattern.compile(source)
    except PatternError:  # saved valid; RE2 would have to change its mind
        return None


class Regex(Criterion[str | None, str]):
    """A pattern on the title, run by RE2 (linear time: no pattern can stall the bot),
    case-insensitive, found anywhere in the title (``^``/``$`` anchor it). One pattern:
    ``|`` gives alternatives (a comma is part of a pattern)."""

    def parse(self, raw: Any) -> str | None:
        return self.validate(str(raw), None)

    def validate(self, value: str | None, meta: Meta | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return TitlePattern.compile(value).source
        except PatternError as error:
            raise UserError(
                f"alert.error.regex.{error.problem.value}",
                value=value.strip()[:60],
                limit=error.limit or PATTERN_MAX,
                detail=error.detail[:100],
            ) from None

    def check(self, compiled: str, release: ReleaseView, tmdb_hashes: Collection[str] | None) -> Decision | None:
        pattern = _title_pattern(compiled)
        if pattern is None or not pattern.search(release.torrent.title):
            return self.refuse(f"title does not match /{compiled}/")
        return None

    def describe(self, value: str | None, locale: object, escape: Escape) -> str:
        return i18n.t(locale, "alert.criteria.regex", pattern=escape(value or ""))


def _declare(criterion: Criterion[T, Any]) -> T:
    """A field of :class:`Criteria` held by ``criterion`` (its default: the empty value)."""
    return field(default=criterion.empty, metadata={"criterion": criterion})


# -- the value ---------------------------------------------------------------------------------
#: (index in CRITERIA, compiled value) of each criterion an alert sets, in checking order.
Compiled = tuple[tuple[int, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Criteria:
    """What an alert (or a watch) matches. Immutable; an empty value matches every release.

    Each field is declared once, with the criterion that parses, stores, compiles, checks
    and describes it; the order of the fields is the order of the options and of the
    description (criteria marked ``late`` are checked last)."""

    query: str | None = _declare(
        Query(
            empty=None,
            kind="word",
            description="Words that must all appear in the title",
            shape=Option("text", 1, QUERY_MAX),
        )
    )
    categories: tuple[str, ...] = _declare(
        Categories(
            empty=(),
            kind="category",
            description="Category (a parent includes its subcategories)",
            option="category",
            needs_meta=True,
        )
    )
    tmdb_id: str | None = _declare(
        Tmdb(empty=None, kind="tmdb", description="TMDB id (digits)", option="tmdb", late=True)
    )
    min_size: int | None = _declare(Size(minimum=True, description="Minimum size, e.g. 700 MB or 4.5 GiB"))
    max_size: int | None = _declare(Size(minimum=False, description="Maximum size, e.g. 700 MB or 4.5 GiB"))
    min_seeders: int | None = _declare(
        MinSeeders(
            empty=None,
            kind="seeders",
            description="Minimum seeders when the release appears",
            shape=Option("integer", 0, MIN_SEEDERS_MAX),
        )
    )
    exclude: tuple[str, ...] = _declare(
        Exclude(
            empty=(),
            kind="exclude",
            description="Words that must not appear (separated by commas or spaces)",
            shape=Option("text", 1, EXCLUDE_TEXT_MAX),
        )
    )
    resolution: tuple[str, ...] = _declare(
        Resolution(
            vocabulary=RESOLUTIONS,
            kind="resolution",
            description="Resolutions, separated by commas (2160p, 1080p, 720p, SD)",
        )
    )
    source: tuple[str, ...] = _declare(
        Source(
            vocabulary=SOURCES,
            kind="source",
            description="Sources, separated by commas (WEB-DL, WEBRip, BluRay, Remux, HDTV, DVD)",
        )
    )
    codec: tuple[str, ...] = _declare(
        Codec(vocabulary=CODECS, kind="codec", description="Video codecs, separated by commas (x264, x265, AV1)")
    )
    language: tuple[str, ...] = _declare(
        Language(
            vocabulary=LANGUAGES,
            kind="language",
            description="Languages, separated by commas (MULTi, VFF, VFQ, VF2, TRUEFRENCH, FRENCH, VOSTFR, VO)",
        )
    )
    season: tuple[str, ...] = _declare(
        Season(empty=(), kind="season", description="Seasons, separated by commas (e.g. S01, S02)")
    )
    episode: tuple[str, ...] = _declare(
        Episode(
            empty=(),
            kind="episode",
            description="Episodes, separated by commas (e.g. S01E02), or pack for a full season",
        )
    )
    regex: str | None = _declare(
        Regex(
            empty=None,
            kind="regex",
            description="A pattern the title must match (RE2 syntax, case-insensitive)",
            shape=Option("text", 1, PATTERN_MAX),
            late=True,
        )
    )

    # -- from a member ---------------------------------------------------------------------
    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Criteria:
        """From the command's options (option name → parsed value; ``None``: not given)."""
        return cls().with_options(options)

    def with_options(self, options: Mapping[str, Any], *, clear: Iterable[str] = ()) -> Criteria:
        """These criteria with the options given changed and those named in ``clear``
        (option names) emptied; unknown names are ignored (the command's own options)."""
        changes: dict[str, Any] = {}
        for criterion in CRITERIA:
            if criterion.option in clear:
                changes[criterion.name] = criterion.empty
            value = options.get(criterion.option)
            if value is not None:
                changes[criterion.name] = value
        return replace(self, **changes) if changes else self

    def validated(self, meta: Meta | None) -> Criteria:
        """Checked and normalised before anything is saved or sent to La Cale (``meta``:
        the category tree, when :attr:`needs_meta`); raises ``UserError``."""
        out = replace(self, **{c.name: c.validate(getattr(self, c.name), meta) for c in CRITERIA})
        if out.min_size is not None and out.max_size is not None and out.min_size > out.max_size:
            raise UserError("alert.error.size_range")
        return out

    @property
    def reads_name(self) -> bool:
        """Whether matching reads what a release's name says (resolution, language…)."""
        return any(c.reads_name for c, _ in self.items())

    @property
    def needs_meta(self) -> bool:
        """Whether validating or compiling needs La Cale's category tree."""
        return any(c.needs_meta for c, _ in self.items())

    def items(self) -> Iterator[tuple[Criterion[Any, Any], Any]]:
        """(criterion, value) of every criterion set, in declaration order."""
        for criterion in CRITERIA:
            value = getattr(self, criterion.name)
            if criterion.is_set(value):
                yield criterion, value

    # -- storage -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The ``criteria`` column: the criteria set, by field name."""
        return {c.name: c.dump(value) for c, value in self.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Criteria:
        """Back from :meth:`to_json`. A key no criterion knows (written by a newer
        version) is ignored; a missing one is empty."""
        values: dict[str, Any] = {}
        for criterion in CRITERIA:
            if data and data.get(criterion.name) is not None:
                values[criterion.name] = criterion.load(data[criterion.name])
        return cls(**values)

    # -- matching ----------------------------------------------------------------------------
    def compile(self, meta: Meta | None) -> Compiled:
        """Normalised once per alert for :func:`check` (``meta``: the category tree when
        :attr:`needs_meta`; without it a category alert matches nothing)."""
        return tuple(
            (index, criterion.compile(value, meta))
            for index, criterion, value in sorted(
                ((CRITERIA.index(c), c, v) for c, v in self.items()), key=lambda item: (item[1].late, item[0])
            )
        )

    # -- showing -----------------------------------------------------------------------------
    def describe(self, locale: object, escape: Escape) -> list[str]:
        """One localized phrase per criterion set (empty: every release matches)."""
        return [c.describe(value, locale, escape) for c, value in self.items()]

    def describe_one(self, name: str, locale: object, escape: Escape) -> str:
        """The phrase of the criterion ``name`` (``Decision.criterion``: the one that turned
        a release away), or ``""`` if these criteria do not set it."""
        for criterion, value in self.items():
            if criterion.name == name:
                return criterion.describe(value, locale, escape)
        return ""


def _criteria() -> tuple[Criterion[Any, Any], ...]:
    out: list[Criterion[Any, Any]] = []
    for f in fields(Criteria):
        criterion: Criterion[Any, Any] = f.metadata["criterion"]
        criterion.name = f.name
        out.append(criterion)
    return tuple(out)


#: Every criterion, in the order of :class:`Criteria`'s fields.
CRITERIA: tuple[Criterion[Any, Any], ...] = _criteria()

#: By command option name.
BY_OPTION: dict[str, Criterion[Any, Any]] = {c.option: c for c in CRITERIA}


def check(compiled: Compiled, release: ReleaseView, *, tmdb_hashes: Collection[str] | None = None) -> Decision:
    """The verdict of compiled criteria on one release, with the first reason it fails."""
    for index, value in compiled:
        decision = CRITERIA[index].check(value, release, tmdb_hashes)
        if decision is not None:
            return decision
    return MATCH
