"""What every criterion of an alert knows about itself (see :mod:`bot.criteria.criteria`
for the criteria and the :class:`~bot.criteria.criteria.Criteria` value). Pure, no I/O,
no Discord: ``/alert`` and ``/watch`` translate between these and Discord options."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from bot import i18n
from bot.criteria.release import ReleaseView
from bot.errors import UserError
from bot.lacale.models import Meta
from bot.releases import ReleaseInfo

#: The value a member chose, as the alert holds it (``None``, a string, an int, a tuple of strings).
V = TypeVar("V")
#: The same normalised for matching: atomic values only (strings, ints, tuples of them),
#: so the thousands the poller keeps are left alone by the garbage collector.
C = TypeVar("C")

#: Makes untrusted text (a member's words, a category slug) safe to show; the UI passes
#: its own (``bot.ui.text.escape``), this package does not import Discord.
Escape = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Decision:
    ok: bool
    #: For logs: which criterion failed and how.
    reason: str
    #: For summaries (``alert.test.drop.<kind>``): ``match``, or the failing criterion's kind.
    kind: str = "match"
    #: The failing criterion (its field of ``Criteria``), to show which turned a release away.
    criterion: str = ""

    def __bool__(self) -> bool:
        return self.ok


MATCH = Decision(True, "match")


@dataclass(frozen=True, slots=True)
class Option:
    """How the criterion is typed as a command option: ``text`` (a string option of
    ``min_length`` to ``max_length`` characters) or ``integer`` (from ``min_value`` to
    ``max_value``)."""

    type: Literal["text", "integer"] = "text"
    min_value: int | None = None
    max_value: int | None = None


class Criterion(Generic[V, C]):
    """One criterion: parsing and validation of what a member typed, storage (JSON),
    compilation for matching, the check itself, its description and its suggestions.

    Subclasses override what differs; ``name`` is the field of ``Criteria`` that holds the
    criterion (set when ``Criteria`` is built: declared once)."""

    #: The field of ``Criteria`` and the key in the stored JSON (set by ``Criteria``).
    name: str = ""

    def __init__(
        self,
        *,
        empty: V,
        kind: str,
        description: str,
        option: str | None = None,
        shape: Option = Option(),
        late: bool = False,
        needs_meta: bool = False,
    ) -> None:
        #: The value that filters nothing (the default of the field).
        self.empty = empty
        #: ``Decision.kind`` of a release this criterion turns away.
        self.kind = kind
        #: The command option's description, in English (its French translation is in the
        #: ``commands`` section of ``bot/i18n/fr.json``).
        self.description = description
        self._option = option
        self.shape = shape
        #: Checked after every other criterion (it needs La Cale's answer, or costs more).
        self.late = late
        #: Compilation needs La Cale's category tree (``Meta``).
        self.needs_meta = needs_meta

    @property
    def option(self) -> str:
        """The command option's name (the field's name unless told otherwise)."""
        return self._option or self.name

    def __repr__(self) -> str:
        return f"<criterion {self.name}>"

    # -- from a member ---------------------------------------------------------------------
    def parse(self, raw: Any) -> V:
        """What the member typed in the option (a string, or an int for integer options)
        → the value; raises ``UserError`` with a precise message."""
        raise NotImplementedError

    def validate(self, value: V, meta: Meta | None) -> V:
        """The value checked and normalised before it is saved (``meta``: La Cale's
        category tree when ``needs_meta``); raises ``UserError``."""
        return value

    def is_set(self, value: V) -> bool:
        return value != self.empty

    # -- storage -----------------------------------------------------------------------------
    def dump(self, value: V) -> Any:
        """JSON for the ``criteria`` column."""
        return list(value) if isinstance(value, tuple) else value

    def load(self, data: Any) -> V:
        """Back from :meth:`dump` (a value written by an older version must still load)."""
        return data  # type: ignore[no-any-return]

    # -- matching ----------------------------------------------------------------------------
    def compile(self, value: V, meta: Meta | None) -> C:
        """The value normalised for matching, once per alert (atomic values only)."""
        return value  # type: ignore[return-value]

    def check(self, compiled: C, release: ReleaseView, tmdb_hashes: Collection[str] | None) -> Decision | None:
        """``None`` when the release passes, else a refusal with this criterion's kind."""
        raise NotImplementedError

    def refuse(self, reason: str) -> Decision:
        return Decision(False, reason, self.kind, self.name)

    # -- showing -----------------------------------------------------------------------------
    def describe(self, value: V, locale: object, escape: Escape) -> str:
        """One localized phrase for ``/alert list``, cards and ``/alert test``."""
        raise NotImplementedError

    #: Whether :meth:`suggest` has anything to say (the option gets autocomplete).
    suggests: bool = False
    #: Whether :meth:`check` reads what the release's name says (``ReleaseView.info``):
    #: the poller then reads the new releases' names once, off the event loop.
    reads_name: bool = False

    def suggest(self, current: str, meta: Meta | None) -> list[tuple[str, str]]:
        """(label, value) pairs for the option's autocomplete, at most 25."""
        return []


class ValuesCriterion(Criterion[tuple[str, ...], tuple[str, ...]]):
    """A criterion on something the release's name says, among a fixed vocabulary
    (``bot.releases.vocabulary``): several values separated by commas, any of which
    passes; typed in any known spelling ("4k", "hevc", "web dl") and kept canonical
    ("2160p", "x265", "WEB-DL"); suggested while typed, one value after the other.

    A subclass gives the vocabulary (canonical value → other spellings) and
    :meth:`read` (what the release says, as canonical values). A release whose name says
    nothing about it does not pass."""

    suggests = True
    reads_name = True

    def __init__(self, *, vocabulary: Mapping[str, tuple[str, ...]], **kwargs: Any) -> None:
        kwargs.setdefault("empty", ())
        super().__init__(**kwargs)
        self.vocabulary = vocabulary
        self._canonical = {
            _key(spelling): value for value, aliases in vocabulary.items() for spelling in (value, *aliases)
        }

    def canonical(self, typed: str) -> str | None:
        return self._canonical.get(_key(typed))

    def parse(self, raw: Any) -> tuple[str, ...]:
        return self.validate(tuple(str(raw).split(",")), None)

    def validate(self, value: tuple[str, ...], meta: Meta | None) -> tuple[str, ...]:
        out: list[str] = []
        for typed in value:
            if not typed.strip():
                continue
            found = self.canonical(typed)
            if found is None:
                raise UserError(
                    "alert.error.bad_value",
                    option=self.option,
                    value=typed.strip()[:40],
                    values=", ".join(self.vocabulary),
                )
            if found not in out:
                out.append(found)
        # In the vocabulary's order: two spellings of one choice are one alert.
        return tuple(v for v in self.vocabulary if v in out)

    def load(self, data: Any) -> tuple[str, ...]:
        return tuple(str(item) for item in (data or ()))

    def read(self, info: ReleaseInfo) -> Collection[str]:
        """What the release's name says for this criterion (canonical values)."""
        raise NotImplementedError

    def check(
        self, compiled: tuple[str, ...], release: ReleaseView, tmdb_hashes: Collection[str] | None
    ) -> Decision | None:
        said = self.read(release.info)
        if not said:
            return self.refuse(f"{self.name} not in the name")
        for value in said:
            if value in compiled:
                return None
        return self.refuse(f"{self.name} {','.join(sorted(said))} not in {','.join(compiled)}")

    def describe(self, value: tuple[str, ...], locale: object, escape: Escape) -> str:
        return i18n.t(locale, f"alert.criteria.{self.option}", values=escape(", ".join(value)))

    def suggest(self, current: str, meta: Meta | None) -> list[tuple[str, str]]:
        """Completes the last of the comma-separated values, keeping those before it."""
        head, _, last = current.rpartition(",")
        chosen = [c for c in (self.canonical(part) for part in head.split(",")) if c is not None]
        prefix = ", ".join(dict.fromkeys(chosen))
        typed = _key(last)
        starts = [v for v in self.vocabulary if any(_key(s).startswith(typed) for s in (v, *self.vocabulary[v]))]
        contains = [
            v for v in self.vocabulary if v not in starts and any(typed in _key(s) for s in (v, *self.vocabulary[v]))
        ]
        out: list[tuple[str, str]] = []
        for value in starts + contains:
            if value not in chosen:
                text = f"{prefix}, {value}" if prefix else value
                out.append((text, text))
        return out[:25]


_SEPARATORS = re.compile(r"[\s._\-]+")


def _key(value: str) -> str:
    """How two spellings are compared: case-folded, separators removed ("Web-DL" = "webdl")."""
    return _SEPARATORS.sub("", value.strip().casefold())
