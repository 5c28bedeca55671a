"""The ``regex`` criterion's engine: a member's pattern on a release's title, run by RE2.

RE2 matches in time linear in the title, whatever the pattern: no pattern a member types
(``(a+)+$`` and the other catastrophic-backtracking classics) can stall the bot the way
Python's ``re`` would. The price is RE2's syntax: no look-around and no back-reference,
refused here with a reason a member can act on.

Patterns are case-insensitive (release names mix "MULTi", "Multi" and "multi"), at most
:data:`bot.limits.PATTERN_MAX` characters, and searched anywhere in the title (anchor with
``^``/``$`` to match from the start/at the end).

Python's ``re`` is deliberately not imported in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import re2

from bot.limits import PATTERN_MAX

#: Memory RE2 may use for one compiled pattern (its automata). A 200-character pattern
#: fits easily; a pattern whose automaton would not (``(x{1,100}){1,100}``…) is refused.
PATTERN_MEMORY = 1 << 20


class PatternProblem(StrEnum):
    """Why a pattern is refused: a key a caller turns into a translated message."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    UNSUPPORTED = "unsupported"  # look-around (?=…) (?!…) (?<=…), back-reference \1: not in RE2
    PARENTHESES = "parentheses"  # a ( or ) without its pair
    BRACKETS = "brackets"  # a [ without its ], or a class range like [z-a]
    REPETITION = "repetition"  # * + ? {n} with nothing to repeat, or {n} too large
    ESCAPE = "escape"  # an unknown \x escape or a trailing backslash
    TOO_COMPLEX = "too_complex"  # the compiled automaton would be too large
    INVALID = "invalid"  # anything else RE2 refuses


class PatternError(ValueError):
    """A pattern RE2 refuses. ``problem`` is the kind (for a translated message), ``detail``
    RE2's own words (e.g. ``missing ): (a``) for the message's details, ``limit`` the
    length cap when ``problem`` is TOO_LONG."""

    def __init__(self, problem: PatternProblem, detail: str = "", *, limit: int | None = None) -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem
        self.detail = detail
        self.limit = limit


#: RE2's error messages (re2/regexp.cc) → our kinds, by their beginning.
_PROBLEMS: tuple[tuple[str, PatternProblem], ...] = (
    ("invalid perl operator", PatternProblem.UNSUPPORTED),
    ("invalid escape sequence: \\", PatternProblem.UNSUPPORTED),  # refined below for \1..\9
    ("missing )", PatternProblem.PARENTHESES),
    ("unexpected )", PatternProblem.PARENTHESES),
    ("missing ]", PatternProblem.BRACKETS),
    ("invalid character class", PatternProblem.BRACKETS),
    ("no argument for repetition operator", PatternProblem.REPETITION),
    ("invalid repetition size", PatternProblem.REPETITION),
    ("bad repetition operator", PatternProblem.REPETITION),
    ("trailing \\", PatternProblem.ESCAPE),
    ("pattern too large", PatternProblem.TOO_COMPLEX),
)


def _detail(error: Exception) -> str:
    """RE2's message as text: the wrapper hands it over as ``b'…'``."""
    text = str(error.args[0]) if error.args else str(error)
    if isinstance(error.args[0] if error.args else None, bytes):
        text = error.args[0].decode("utf-8", "replace")
    elif text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    return text


def _problem(detail: str) -> PatternProblem:
    if (
        detail.startswith("invalid escape sequence: \\")
        and not detail[len("invalid escape sequence: \\") :][:1].isdigit()
    ):
        return PatternProblem.ESCAPE
    for start, problem in _PROBLEMS:
        if detail.startswith(start):
            return problem
    return PatternProblem.INVALID


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a member's typo is not an error of the bot
    options.max_mem = PATTERN_MEMORY
    return options


_OPTIONS = _options()


@dataclass(frozen=True, slots=True)
class TitlePattern:
    """A member's compiled title pattern. Build it with :meth:`compile`."""

    source: str
    _compiled: Any

    @classmethod
    def compile(cls, pattern: str) -> TitlePattern:
        """Compile ``pattern`` with RE2, or raise :class:`PatternError` saying why not."""
        text = pattern.strip() if isinstance(pattern, str) else ""
        if not text:
            raise PatternError(PatternProblem.EMPTY)
        if len(text) > PATTERN_MAX:
            raise PatternError(PatternProblem.TOO_LONG, limit=PATTERN_MAX)
        try:
            compiled = re2.compile(text, _OPTIONS)
        except re2.error as error:
            detail = _detail(error)
            raise PatternError(_problem(detail), detail) from None
        return cls(text, compiled)

    def search(self, title: str) -> bool:
        """Whether the pattern matches somewhere in ``title`` (linear time)."""
        return self._compiled.search(title) is not None
