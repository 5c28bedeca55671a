"""/alert list and /uploads use the one paginator: every entry is reachable, an entry is
never cut across two pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.db.models import UploadRecord
from bot.db.types import utcnow
from bot.ui.pages import ALERTS_PER_PAGE, UPLOADS_PER_PAGE
from tests.e2e.conftest import VigieWorld

pytestmark = pytest.mark.asyncio


def description(message: dict[str, Any]) -> str:
    return str(message["embeds"][0].get("description", ""))


def counter(message: dict[str, Any]) -> str:
    for row in message.get("components", []):
        for comp in row.get("components", []):
            if comp.get("custom_id") == "pages:counter":
                return str(comp["label"])
    raise AssertionError(f"no page counter in {message.get('components')}")


async def test_alert_list_pages_through_every_alert(world: VigieWorld) -> None:
    await world.register_key()
    names = [f"alerte{i:02d}" for i in range(ALERTS_PER_PAGE + 3)]
    for name in names:
        await (await world.invoke("alert add", name=name, query=name)).wait_final()

    rec = await world.invoke("alert list")
    first = await rec.wait_final()
    assert counter(first) == "1/2"
    assert f"({len(names)})" in first["embeds"][0]["title"]
    on_first = [n for n in names if f"**{n}**" in description(first)]
    assert len(on_first) == ALERTS_PER_PAGE

    second = await (await world.discord.click(rec, "pages:next")).wait_final()
    assert counter(second) == "2/2"
    on_second = [n for n in names if f"**{n}**" in description(second)]
    assert sorted(on_first + on_second) == names  # each alert once, none lost
    back = await (await world.discord.click(rec, "pages:first")).wait_final()
    assert counter(back) == "1/2" and description(back) == description(first)


async def test_uploads_lists_every_recent_attempt_five_to_a_page(world: VigieWorld) -> None:
    assert world.bot is not None
    user = world.admin.id
    start = utcnow()
    async with world.bot.services.sessions.begin() as session:
        for i in range(UPLOADS_PER_PAGE + 2):
            session.add(
                UploadRecord(
                    user_id=user,
                    info_hash=f"{i:040x}",
                    title=f"Release.{i:02d}.MULTi.1080p.WEB",
                    outcome="uploaded",
                    created_at=start + timedelta(seconds=i),
                )
            )
    rec = await world.invoke("uploads")
    first = await rec.wait_final()
    assert counter(first) == "1/2" and "7 most recent attempts" in first["embeds"][0]["footer"]["text"]
    # Newest first; an attempt's two lines stay together on one page.
    assert description(first).index("Release.06") < description(first).index("Release.05")
    assert description(first).count("\n\n") == UPLOADS_PER_PAGE - 1
    second = await (await world.discord.click(rec, "pages:next")).wait_final()
    assert "Release.01" in description(second) and "Release.00" in description(second)
    assert "Release.06" not in description(second)
