"""What a release is, read from its name: resolution, source, codec, French language tags,
season and episode (``parse``), the vocabulary members type them in (``vocabulary``), a
process-wide cache by info hash (``cache``) and the ``regex`` criterion's RE2 engine
(``pattern``). Pure logic: nothing here imports discord.py."""

from bot.releases.cache import CACHE_SIZE, RELEASES, ReleaseParser, parsed, warm_up
from bot.releases.parse import ReleaseInfo, parse_release
from bot.releases.pattern import PatternError, PatternProblem, TitlePattern
from bot.releases.vocabulary import (
    CODECS,
    LANGUAGES,
    RESOLUTIONS,
    SOURCES,
    Criterion,
    canonical,
    choices,
)

__all__ = [
    "CACHE_SIZE",
    "CODECS",
    "LANGUAGES",
    "RELEASES",
    "RESOLUTIONS",
    "SOURCES",
    "Criterion",
    "PatternError",
    "PatternProblem",
    "ReleaseInfo",
    "ReleaseParser",
    "TitlePattern",
    "canonical",
    "choices",
    "parse_release",
    "parsed",
    "warm_up",
]
