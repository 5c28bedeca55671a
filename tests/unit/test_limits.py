"""Each limit is defined once, in ``bot/limits.py``: the command options, the services, the
La Cale client and the database columns all read it there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot import limits
from bot.db.models import Alert, Delivery, SeenRelease, UploadRecord
from bot.errors import UserError
from bot.lacale.client import InvalidRequest, _check_search

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_values() -> None:
    # La Cale's API contract: q ≤ 200, cat ≤ 64, tmdbId ≤ 64, 50 results; 50 alerts a server.
    assert (limits.QUERY_MAX, limits.CATEGORY_MAX, limits.TMDB_ID_MAX, limits.PAGE_SIZE) == (200, 64, 64, 50)
    assert limits.TITLE_MAX == limits.QUERY_MAX  # an uploaded title can always be searched
    assert (limits.ALERT_NAME_MAX, limits.ALERTS_PER_GUILD_MAX) == (100, 50)


def test_columns_are_as_long_as_the_limits() -> None:
    assert Alert.__table__.c.name.type.length == limits.ALERT_NAME_MAX
    # An alert's words and TMDB id live in its criteria (one JSON column): the criteria
    # refuse what La Cale's limits would.
    from bot.criteria import Criteria

    for criteria, limit in (
        (Criteria(query="x" * (limits.QUERY_MAX + 1)), limits.QUERY_MAX),
        (Criteria(tmdb_id="1" * (limits.TMDB_ID_MAX + 1)), limits.TMDB_ID_MAX),
    ):
        with pytest.raises(UserError) as told:
            criteria.validated(None)
        assert told.value.values["limit"] == limit
    assert Criteria(query="x" * limits.QUERY_MAX).validated(None).query == "x" * limits.QUERY_MAX
    for table in (Delivery, SeenRelease, UploadRecord):
        assert table.__table__.c.info_hash.type.length == limits.INFO_HASH_MAX


def test_alert_options_use_the_limits() -> None:
    from cogs.alerts import Alerts

    expected = {
        "name": limits.ALERT_NAME_MAX,
        "new_name": limits.ALERT_NAME_MAX,
        "query": limits.QUERY_MAX,
        "exclude": limits.EXCLUDE_TEXT_MAX,
        "min_seeders": limits.MIN_SEEDERS_MAX,
        "backfill": limits.BACKFILL_MAX,
    }
    checked = 0
    for command in (Alerts.add, Alerts.edit):
        for param in command.parameters:
            if param.name in expected and param.max_value is not None:
                assert param.max_value == expected[param.name], (command.name, param.name)
                checked += 1
    assert checked >= 8


def test_services_and_client_check_the_same_limits() -> None:
    from bot.services.alerts.service import AlertSpec, _validated
    from bot.services.search import build_query

    with pytest.raises(InvalidRequest) as refused:
        _check_search("x" * (limits.QUERY_MAX + 1), "", [])
    assert refused.value.limit == limits.QUERY_MAX
    with pytest.raises(InvalidRequest) as refused:
        _check_search("", "", ["x" * (limits.CATEGORY_MAX + 1)])
    assert refused.value.limit == limits.CATEGORY_MAX
    with pytest.raises(UserError) as told:
        build_query(None, None, (), "1" * (limits.TMDB_ID_MAX + 1))  # type: ignore[arg-type]
    assert told.value.values["limit"] == limits.TMDB_ID_MAX
    with pytest.raises(UserError) as told:
        _validated(AlertSpec(name="x" * (limits.ALERT_NAME_MAX + 1), channel_id=1), None)
    assert told.value.values["limit"] == limits.ALERT_NAME_MAX


#: A constant that restates one of the shared limits under another name.
_SHARED = re.compile(
    r"^_?(MAX_(QUERY|CATEGORY|TMDB\w*|NAME|BACKFILL|EXCLUDE|ALERTS\w*)|(QUERY|CATEGORY|TMDB\w*|TITLE|ALERT_NAME)_MAX\w*|PAGE_SIZE)$"
)


def test_no_module_restates_a_shared_limit() -> None:
    found = []
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("cogs").rglob("*.py")]:
        if path == ROOT / "bot" / "limits.py" or "migrations" in path.parts:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, (ast.Assign, ast.AnnAssign))
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, int)
            ):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {t.id}"
                    for t in targets
                    if isinstance(t, ast.Name) and _SHARED.match(t.id)
                ]
    assert found == []
