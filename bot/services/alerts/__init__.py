"""Saved-search alerts: every matching release posted once, quickly, with few requests.

The pipeline is a chain of small steps, each testable alone and free of Discord:

- :mod:`.matching` — does a release match an alert (pure);
- :mod:`.fetch` — one newest page per key per cycle, targeted queries only when needed;
- :mod:`.gaps` — a burst bigger than a page, found and bounded (pure);
- :mod:`.record` — seen releases and deliveries in one transaction;
- :mod:`.poll` — one server's poll: fetch → match → record;
- :mod:`.deliver` — the sender: claim, post with a nonce, mark (through :class:`AlertPoster`);
- :mod:`.scheduler` — the timetable, with no logic of its own;
- :mod:`.service` — what ``/alert`` commands do;
- :mod:`.pipeline` — the one place the parts above are wired together (by the cog, the
  tests' harness and the benchmarks alike), started and stopped.

Pause reasons, poll outcomes and notice kinds are :mod:`bot.states`; shared limits are
:mod:`bot.limits`.
"""

from bot.services.alerts.deliver import (
    AdminNotice,
    AlertPoster,
    DeliverySender,
    GapNotice,
    ReleasePost,
)
from bot.services.alerts.fetch import CycleFetcher, SiteMeta, TargetedQuery
from bot.services.alerts.matching import (
    AlertFilter,
    Decision,
    ReleaseView,
    match,
    normalize_words,
)
from bot.services.alerts.pipeline import AlertPipeline
from bot.services.alerts.poll import GuildPoller
from bot.services.alerts.scheduler import AlertScheduler, ownership_of_shards
from bot.services.alerts.service import AlertService, AlertSpec

__all__ = [
    "AdminNotice",
    "AlertFilter",
    "AlertPipeline",
    "AlertPoster",
    "AlertScheduler",
    "AlertService",
    "AlertSpec",
    "CycleFetcher",
    "Decision",
    "DeliverySender",
    "GapNotice",
    "GuildPoller",
    "ReleasePost",
    "ReleaseView",
    "SiteMeta",
    "TargetedQuery",
    "match",
    "normalize_words",
    "ownership_of_shards",
]
