"""One builder wires the alert pipeline (``bot.services.alerts.pipeline``): every user gets
the same links between the parts, and nobody wires them by hand again."""

from __future__ import annotations

import ast
import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cluster.ownership import Ownership
from bot.db.engine import create_engine, create_sessionmaker
from bot.services.alerts.fetch import SiteMeta
from bot.services.alerts.pipeline import SCHEDULER_TASK, SENDER_TASK, AlertPipeline
from bot.services.guilds import GuildService
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.vault import KeyVault

ROOT = Path(__file__).resolve().parents[2]
#: Constructed only by the builder (outside the pipeline's own package).
PARTS = {"AlertScheduler", "GuildPoller", "Recorder", "DeliverySender", "AlertService"}


class _Poster:
    async def send_releases(self, post: Any) -> int:
        raise AssertionError("nothing is posted here")

    async def send_gap_notice(self, notice: Any) -> None:
        raise AssertionError

    async def notify_admins(self, notice: Any) -> None:
        raise AssertionError


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    sessions = create_sessionmaker(engine)
    async with aiohttp.ClientSession() as http:
        access = LaCaleAccess(http, "http://127.0.0.1:9")
        vault = KeyVault(base64.urlsafe_b64encode(b"0" * 32))
        meta = MetaCache(access)
        yield {
            "sessions": sessions,
            "vault": vault,
            "access": access,
            "guilds": GuildService(sessions, vault, access, meta),
            "site_meta": SiteMeta(meta),
            "poster": _Poster(),
        }
    await engine.dispose()


async def test_ownership_and_post_pace_reach_every_part(parts: dict[str, Any]) -> None:
    slot = Ownership(4, 2, 1)
    p = AlertPipeline.build(**parts, interval=60.0, ownership=slot, rest_rate=40.0)
    assert p.sender.ownership == p.poller.ownership == p.scheduler.ownership == p.ownership == slot
    assert p.sender.pacer is not None and p.sender.pacer.rate == 20.0  # this slot's share of the bot's budget
    # The cluster slot learnt later (the cog's cog_load): every part moves together.
    p.set_ownership(Ownership(4, 4, 3))
    assert p.sender.ownership == p.poller.ownership == p.scheduler.ownership == Ownership(4, 4, 3)
    assert p.sender.pacer is not None and p.sender.pacer.rate == 10.0
    assert AlertPipeline.build(**parts, interval=60.0).sender.pacer is None  # no budget: discord.py's limits only


async def test_parts_are_linked(parts: dict[str, Any]) -> None:
    p = AlertPipeline.build(**parts, interval=30.0, concurrency=3, record_delay=0.5, record_batch=7, retention_days=12)
    assert p.poller.recorder is p.recorder and p.scheduler._poller is p.poller and p.scheduler._sender is p.sender
    assert p.scheduler.interval == 30.0 and p.scheduler._concurrency == 3
    assert p.recorder._max_delay == 0.5 and p.recorder._max_batch == 7
    assert p.poller._retention.days == 12 and p.scheduler._retention.days == 12
    assert p.alerts._meta is p.site_meta is p.poller._meta
    # A backfill recorded by /alert add wakes the sender.
    assert not p.sender._wake.is_set()
    p.alerts._on_pending()
    assert p.sender._wake.is_set()


async def test_start_and_stop_own_the_background_tasks(parts: dict[str, Any]) -> None:
    p = AlertPipeline.build(**parts, interval=60.0)
    gateway = asyncio.Event()
    polled = asyncio.Event()

    async def run() -> None:
        polled.set()
        await asyncio.Event().wait()

    p.scheduler.run = run  # type: ignore[method-assign]
    spawned: list[str] = []

    def spawn(coro: Any, *, name: str) -> asyncio.Task[Any]:
        spawned.append(name)
        return asyncio.create_task(coro, name=name)

    p.start(spawn=spawn, before_polls=gateway.wait)
    assert spawned == [SENDER_TASK, SCHEDULER_TASK]
    await asyncio.sleep(0.05)
    assert not polled.is_set()  # polls wait for the gateway...
    assert not p.tasks[0].done()  # ...the sender does not
    with pytest.raises(RuntimeError):
        p.start()
    gateway.set()
    await asyncio.wait_for(polled.wait(), 5)
    tasks = list(p.tasks)
    await p.stop()
    assert p.tasks == [] and all(t.cancelled() for t in tasks)


def _constructions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = (
                node.func.id
                if isinstance(node.func, ast.Name)
                else node.func.attr
                if isinstance(node.func, ast.Attribute)
                else None
            )
            if name in PARTS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(...)")
    return found


def test_nobody_wires_the_pipeline_by_hand() -> None:
    """The cog, the tests' harness and the benchmarks build it with AlertPipeline.build.
    (The kill -9 benchmark's child is a sender alone, with no poller to link to.)"""
    files = [
        *ROOT.joinpath("cogs").rglob("*.py"),
        *ROOT.joinpath("bot").rglob("*.py"),
        *ROOT.joinpath("benchmarks").rglob("*.py"),
        ROOT / "tests" / "support" / "alert_harness.py",
    ]
    inside = ROOT / "bot" / "services" / "alerts"
    found = [c for f in files if f.parent != inside for c in _constructions(f)]
    allowed = [c for c in found if c.startswith("benchmarks/alerts.py:") and c.endswith(" DeliverySender(...)")]
    assert len(allowed) <= 1
    assert [c for c in found if c not in allowed] == []
