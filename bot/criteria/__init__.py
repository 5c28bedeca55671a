"""An alert's criteria as one value (:class:`Criteria`), shared by ``/alert``, ``/watch``,
storage, the poller, ``/alert test`` and the cards. Pure: no I/O, no Discord.

    criteria = Criteria.from_options({"query": "dune", "min_size": 700_000_000})
    criteria = criteria.validated(meta)          # raises UserError, before anything is saved
    row.criteria = criteria.to_json()            # one JSON column
    compiled = Criteria.from_json(row.criteria).compile(meta)   # once per alert
    check(compiled, ReleaseView.of(torrent))     # a Decision, with the failing criterion's kind
    " · ".join(criteria.describe(locale, escape))
"""

from bot.criteria.base import MATCH, Criterion, Decision, Escape, Option
from bot.criteria.criteria import (
    BY_OPTION,
    CRITERIA,
    Compiled,
    Criteria,
    check,
    parse_exclude,
    parse_size_option,
)
from bot.criteria.release import ReleaseView, normalize_label, normalize_words, read_names

__all__ = [
    "BY_OPTION",
    "CRITERIA",
    "MATCH",
    "Compiled",
    "Criteria",
    "Criterion",
    "Decision",
    "Escape",
    "Option",
    "ReleaseView",
    "check",
    "normalize_label",
    "normalize_words",
    "parse_exclude",
    "parse_size_option",
    "read_names",
]
