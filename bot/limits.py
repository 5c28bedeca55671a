"""Limits that more than one layer checks, each defined once.

A limit is typically checked three times on purpose: by the command's option (Discord
refuses a longer value before Vigie sees it), by the service (a clear message before
anything is sent to La Cale), and by the La Cale client (never send a request the API
refuses); and the database column holding the value has the same length. They all read
the constant here, so changing one limit changes it everywhere.

This module imports nothing: the database models, the La Cale client, the services and
the cogs can all use it. Limits that only one module uses stay in that module
(``bot/services/uploads/limits.py`` for uploads; ``bot/lacale/limits.py`` is about request
pacing, not sizes).
"""

from __future__ import annotations

# -- La Cale's documented request limits (see the API contract) ---------------------------------
#: Characters of a search text (``q``).
QUERY_MAX = 200
#: Characters of a category slug (``cat``).
CATEGORY_MAX = 64
#: Characters of a TMDB id (``tmdbId``).
TMDB_ID_MAX = 64
#: Results in one search answer (the newest first).
PAGE_SIZE = 50
#: Hex characters of an info hash: 64 for a v2 torrent (SHA-256), 40 for a v1 one.
INFO_HASH_MAX = 64

#: Characters of an upload's title: La Cale's cap on a search, so that the title can be
#: searched after a 409 or a timeout to find the torrent on the site.
TITLE_MAX = QUERY_MAX

# -- Alerts ----------------------------------------------------------------------------------------
#: Characters of an alert's name (unique in its server).
ALERT_NAME_MAX = 100
#: Alerts in one server.
ALERTS_PER_GUILD_MAX = 50
#: Newest matching releases ``/alert add backfill:`` may post at once.
BACKFILL_MAX = 10
#: Excluded words of one alert...
EXCLUDE_WORDS_MAX = 20
#: ...typed as one option of at most this many characters.
EXCLUDE_TEXT_MAX = 300
#: Highest ``min_seeders`` an alert accepts.
MIN_SEEDERS_MAX = 1_000_000
#: Characters of a ``regex`` criterion's pattern (run by RE2, in linear time; the cap keeps
#: the compiled automaton small).
PATTERN_MAX = 200

# -- Watches (/watch) --------------------------------------------------------------------------------
#: Default of ``WATCHES_PER_MEMBER``: watches one member may have in one server.
WATCHES_PER_MEMBER_DEFAULT = 10
#: Default of ``WATCHES_PER_GUILD``: watches of all members of one server together.
WATCHES_PER_GUILD_DEFAULT = 500
