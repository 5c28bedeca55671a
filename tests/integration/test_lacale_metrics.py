"""Every exchange of the La Cale client reaches the bot's metrics with a bounded endpoint
and the right outcome (against the fake La Cale, through the client's one request path)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.lacale import LaCaleClient, LaCaleError
from bot.observability.metrics import Metrics, lacale_endpoint
from tests.fakes.lacale import DOWNLOAD, META, SEARCH, FakeLaCale


def requests(metrics: Metrics) -> dict[tuple[str, str], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            if s.name == "vigie_lacale_requests_total":
                out[(s.labels["endpoint"], s.labels["outcome"])] = s.value
    return out


async def test_each_outcome_is_counted_once_per_exchange() -> None:
    metrics = Metrics()
    async with (
        FakeLaCale() as fake,
        LaCaleClient(
            fake.default_key, base_url=fake.base_url, timeout=0.5, max_retries=0, observe=metrics.lacale_request
        ) as client,
    ):
        fake.add_torrent("Dune.2021")
        torrent = (await client.search("dune"))[0]
        await client.meta()
        await client.download_torrent(torrent.info_hash)
        faults = [
            (lambda: fake.fail_next(SEARCH, 503), "5xx"),
            (lambda: fake.fail_next(SEARCH, 429, retry_after=0), "429"),
            (lambda: fake.fail_next(SEARCH, 401), "4xx"),
            (lambda: fake.delay_next(SEARCH, 2.0), "timeout"),
            (lambda: fake.drop_next(SEARCH, times=2), "connection"),  # aiohttp retries a dropped keep-alive once
            (lambda: fake.challenge_next(SEARCH), "malformed"),
            (lambda: fake.invalid_json_next(SEARCH), "malformed"),
            (lambda: fake.oversize_next(SEARCH, 9 * 1024 * 1024), "too_large"),
        ]
        for inject, _ in faults:
            inject()
            with pytest.raises(LaCaleError):
                await client.search("dune")
        fake.fail_next(META, 403)
        with pytest.raises(LaCaleError):
            await client.meta()
    counted = requests(metrics)
    assert counted.pop(("search", "ok")) == 1
    assert counted.pop(("meta", "ok")) == 1
    assert counted.pop(("download", "ok")) == 1
    assert counted.pop(("meta", "4xx")) == 1
    expected: dict[tuple[str, str], float] = {}
    for _, outcome in faults:
        expected[("search", outcome)] = expected.get(("search", outcome), 0) + 1
    assert counted == expected


def test_endpoints_are_bounded_names() -> None:
    assert lacale_endpoint(SEARCH) == "search"
    assert lacale_endpoint(META) == "meta"
    assert lacale_endpoint("/api/external/upload") == "upload"
    assert lacale_endpoint(DOWNLOAD + "/" + "a" * 40) == "download"
    assert lacale_endpoint("/somewhere/else") == "other"


def test_two_bots_in_one_process_have_their_own_registries() -> None:
    first, second = Metrics(), Metrics()
    first.command_done("search", "ok", 0.2)
    assert b'vigie_commands_total{command="search",outcome="ok"} 1.0' in first.render()
    assert b"vigie_commands_total{" not in second.render()
