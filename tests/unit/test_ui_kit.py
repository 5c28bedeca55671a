"""The small UI kit (issue 11, item 3): one paginator for every list, static components
declared with ``@discord.ui.button``, and colours, dates and view timeouts each defined
in one place, so the code cannot drift back to copies."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.ui.pages import PagesView
from bot.ui.paginator import Paginator
from bot.ui.search_view import SearchResultsView
from bot.ui.views import VIEW_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
UI_SOURCES = sorted((ROOT / "bot" / "ui").glob("*.py")) + sorted((ROOT / "cogs").glob("*.py"))


def _components(view: Any) -> dict[str, dict[str, Any]]:
    return {c["custom_id"]: c for row in view.to_components() for c in row["components"] if c.get("custom_id")}


def test_search_and_meta_share_the_one_paginator() -> None:
    assert issubclass(PagesView, Paginator) and issubclass(SearchResultsView, Paginator)


@pytest.mark.asyncio
async def test_pages_view_buttons_follow_the_page() -> None:
    view = PagesView(author_id=1, title="T", pages=["a", "b", "c"], locale="en-US")
    ids = _components(view)
    assert list(ids) == ["pages:first", "pages:prev", "pages:counter", "pages:next", "pages:last"]
    assert ids["pages:first"]["disabled"] and ids["pages:prev"]["disabled"] and ids["pages:counter"]["disabled"]
    assert ids["pages:counter"]["label"] == "1/3" and not ids["pages:next"].get("disabled")
    assert view.timeout == VIEW_TIMEOUT
    view.page = 2
    view._build()
    ids = _components(view)
    assert ids["pages:counter"]["label"] == "3/3" and ids["pages:next"]["disabled"] and ids["pages:last"]["disabled"]
    assert not ids["pages:first"].get("disabled")
    assert view.embed().description == "c"


@pytest.mark.parametrize(
    ("pattern", "allowed"),
    [
        (r"type: ignore\[method-assign\]", ()),  # callbacks assigned by hand
        (r"timeout\s*=\s*600", ()),  # a view timeout of its own
        (r"format_dt\(|<t:\{", ("style.py",)),  # Discord timestamps
        (r"Colour\.(from_rgb|green|red|orange|blurple|blue)\(", ("style.py",)),  # colours
    ],
)
def test_ui_helpers_are_defined_once(pattern: str, allowed: tuple[str, ...]) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in UI_SOURCES
        if path.name not in allowed
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not offenders, offenders
