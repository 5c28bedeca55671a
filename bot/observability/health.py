"""The operators' endpoint: ``/healthz``, ``/readyz`` and ``/metrics`` over plain HTTP.

Started by the bot when ``HEALTH_PORT`` is set (off by default), bound to ``HEALTH_HOST``
(``127.0.0.1`` unless the operator opens it: the metrics name no secret, but nothing
outside the machine or the container needs them unless a scraper is set up).

- ``/healthz``: 200 as long as the process lives and its event loop answers (this answer
  is produced by that loop). A supervisor restarts a process that stops answering.
- ``/readyz``: 200 only when the database answers ``SELECT 1`` within a short timeout,
  this process holds its cluster slot, and every shard it owns is connected to the
  gateway; otherwise 503 with a JSON body naming what failed. A standby process (no slot)
  is alive but not ready.
- ``/metrics``: :class:`~bot.observability.metrics.Metrics` in Prometheus' text format;
  the values that live elsewhere (posts pending, slot held) are read just before.

The bot is reached by duck typing (``services.engine``, ``cluster.slot_held``,
``shards``/``shard_ids``/``shard_count``/``is_ready()``) so this module imports no
discord code.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import socket
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, text

from bot.db.models import Delivery, DeliveryStatus
from bot.observability.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger("vigie.health")

#: How long ``SELECT 1`` may take before the database counts as unreachable. Short: an
#: orchestrator probes every few seconds and wants an answer, not a hung request.
DATABASE_TIMEOUT = 2.0
OK = "ok"


class HealthServerError(Exception):
    """The endpoint could not listen (port taken, address not on this machine); ``str()``
    is one line for the operator."""


class HealthServer:
    def __init__(
        self, bot: Any, metrics: Metrics, *, host: str, port: int, database_timeout: float = DATABASE_TIMEOUT
    ) -> None:
        self._bot = bot
        self._metrics = metrics
        self.host = host
        self.port = port
        self._database_timeout = database_timeout
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        # A probe in flight at shutdown gets a second, not the default minute: the whole
        # close has SHUTDOWN_DEADLINE.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            # asyncio rewrites strerror into a long sentence; the errno's own words suffice.
            if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
                raise HealthServerError(
                    f"HEALTH_HOST: {self.host} is not an address of this machine; use 127.0.0.1 (the default) or 0.0.0.0"
                ) from None
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise HealthServerError(
                f"HEALTH_PORT: cannot listen on {self.host}:{self.port} ({reason}); choose a free port or unset HEALTH_PORT"
            ) from None
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or ()
        if sockets:
            self.port = int(sockets[0].getsockname()[1])  # HEALTH_PORT=0: the port the system chose
        log.info("health endpoint on http://%s:%d (/healthz, /readyz, /metrics)", self.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- pages ---------------------------------------------------------------------------
    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _readyz(self, request: web.Request) -> web.Response:
        checks = {
            "database": await self.check_database(),
            "slot": self.check_slot(),
            "shards": self.check_shards(),
        }
        failed = [name for name, result in checks.items() if result != OK]
        body = {"status": "ready" if not failed else "not ready", "checks": checks, "failed": failed}
        return web.Response(status=200 if not failed else 503, text=json.dumps(body), content_type="application/json")

    async def _metrics_page(self, request: web.Request) -> web.Response:
        self._metrics.slot_held.set(1 if self.check_slot() == OK else 0)
        pending = await self._pending_posts()
        if pending is not None:
            self._metrics.posts_pending.set(pending)
        # aiohttp refuses a content_type with parameters; the header carries the version.
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    # -- checks (each returns "ok" or what is wrong, in a few words) ------------------------------
    async def check_database(self) -> str:
        services = getattr(self._bot, "services", None)
        engine = getattr(services, "engine", None)
        if engine is None:
            return "not opened yet"
        try:
            async with asyncio.timeout(self._database_timeout):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except TimeoutError:
            return f"no answer to SELECT 1 within {self._database_timeout:g} s"
        except Exception as exc:
            log.debug("readiness: database check failed", exc_info=True)
            return f"unreachable ({type(exc).__name__})"
        return OK

    def check_slot(self) -> str:
        cluster = getattr(self._bot, "cluster", None)
        if cluster is None:
            return OK  # one process, no slots: nothing to hold
        return OK if getattr(cluster, "slot_held", False) else "slot not held (standby)"

    def owned_shards(self) -> list[int] | None:
        bot = self._bot
        cluster = getattr(bot, "cluster", None)
        ownership = getattr(cluster, "ownership", None)
        if ownership is not None:
            return list(ownership.shard_ids)
        if getattr(bot, "shard_ids", None):
            return list(bot.shard_ids)
        count = getattr(bot, "shard_count", None)
        return list(range(count)) if count else None

    def check_shards(self) -> str:
        bot = self._bot
        owned = self.owned_shards()
        is_ready = getattr(bot, "is_ready", None)
        if owned is None or (is_ready is not None and not is_ready()):
            return "gateway not ready yet"
        shards = getattr(bot, "shards", {}) or {}
        down = [i for i in owned if i not in shards or shards[i].is_closed()]
        if down:
            return "disconnected: shard " + ", ".join(map(str, down))
        return OK

    async def _pending_posts(self) -> int | None:
        """Deliveries waiting for this process's servers (all of them in one process)."""
        services = getattr(self._bot, "services", None)
        sessions = getattr(services, "sessions", None)
        if sessions is None:
            return None
        query = select(func.count()).select_from(Delivery).where(Delivery.status == DeliveryStatus.PENDING)
        ownership = getattr(getattr(self._bot, "cluster", None), "ownership", None)
        if ownership is not None:
            query = query.where(ownership.owns_sql(Delivery.guild_id))
        try:
            async with asyncio.timeout(self._database_timeout):
                async with sessions() as session:
                    return int((await session.execute(query)).scalar_one())
        except Exception:
            log.debug("metrics: pending posts not counted", exc_info=True)
            return None
