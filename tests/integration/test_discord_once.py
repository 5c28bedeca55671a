"""bot/discord_once.py: inside ``one_try()``, an answer discord.py would send again (500,
502, 504, 524) ends the request at once; outside, and for other answers, nothing changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.discord_once import AnsweredOnce, one_try, stop_blind_retries

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": int(request.match_info["status"])}, status=int(request.match_info["status"])
        )

    app = web.Application()
    app.router.add_route("POST", "/{status}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(stop_blind_retries)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        yield http


@pytest.mark.parametrize("status", [500, 502, 504, 524])
async def test_a_retried_status_ends_the_request_inside_one_try(
    server: str, session: aiohttp.ClientSession, status: int
) -> None:
    with one_try(), pytest.raises(AnsweredOnce) as caught:
        async with session.post(f"{server}/{status}"):
            pass
    assert caught.value.status == status
    # Outside, the same answer is an ordinary response (discord.py then decides).
    async with session.post(f"{server}/{status}") as response:
        assert response.status == status


@pytest.mark.parametrize("status", [201, 400, 403, 408, 429])
async def test_other_answers_are_left_alone(server: str, session: aiohttp.ClientSession, status: int) -> None:
    with one_try():
        async with session.post(f"{server}/{status}") as response:
            assert response.status == status
