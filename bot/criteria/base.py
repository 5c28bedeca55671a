"""What every criterion of an alert knows about itself (see :mod:`bot.criteria.criteria`
for the criteria and the :class:`~bot.criteria.criteria.Criteria` value). Pure, no I/O,
no Discord: ``/alert`` and ``/watch`` translate between these and Discord options."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from bot.criteria.release import ReleaseView
from bot.lacale.models import Meta

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
        return Decision(False, reason, self.kind)

    # -- showing -----------------------------------------------------------------------------
    def describe(self, value: V, locale: object, escape: Escape) -> str:
        """One localized phrase for ``/alert list``, cards and ``/alert test``."""
        raise NotImplementedError

    #: Whether :meth:`suggest` has anything to say (the option gets autocomplete).
    suggests: bool = False

    def suggest(self, current: str, meta: Meta | None) -> list[tuple[str, str]]:
        """(label, value) pairs for the option's autocomplete, at most 25."""
        return []
