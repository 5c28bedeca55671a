"""What operators see of a running Vigie, in Prometheus' terms (``/metrics``).

One :class:`Metrics` per bot, each with its own :class:`~prometheus_client.CollectorRegistry`
(never the library's global one): tests run several bots in one process, and a metric
registered twice in the global registry is an error. This module imports neither discord
nor the database: services, the La Cale client and the sender record into it through plain
method calls, and values that live elsewhere (posts pending, slot held) are read at scrape
time by the health server (:mod:`bot.observability.health`).

Labels are bounded sets (a command's name, an endpoint, an outcome word): never a server,
channel or user id, which would make one series per server.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics", "lacale_endpoint", "lacale_outcome"]

#: The classic text format, which every Prometheus version reads (the page uses nothing
#: of format 1.0.0, whose only addition is UTF-8 metric names).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: A command answers within Discord's 3 s, or defers and finishes within minutes (uploads).
COMMAND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)
#: La Cale's timeout is 20 s by default.
LACALE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
#: A cycle is spread over the poll interval (60 s by default): most take about that long.
CYCLE_BUCKETS = (1.0, 5.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0, 120.0, 180.0, 300.0, 600.0)


class _PollResultLike(Protocol):
    @property
    def outcome(self) -> str: ...
    @property
    def gap_notices(self) -> Any: ...


class _CycleReportLike(Protocol):
    guilds: int
    requests: int
    outcomes: dict[str, int]
    started: float
    finished: float


class Metrics:
    """Every series Vigie exports, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "vigie_commands",
            "Slash commands answered, by command and outcome (ok, or the error's kind)",
            ["command", "outcome"],
            registry=r,
        )
        self.command_seconds = Histogram(
            "vigie_command_duration_seconds",
            "Time from the member's command to Vigie's answer, by command",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=r,
        )
        self.lacale_requests = Counter(
            "vigie_lacale_requests",
            "HTTP requests to La Cale, by endpoint and outcome "
            "(ok, 4xx, 429, 5xx, 3xx, timeout, connection, too_large, malformed)",
            ["endpoint", "outcome"],
            registry=r,
        )
        self.lacale_seconds = Histogram(
            "vigie_lacale_request_duration_seconds",
            "Duration of HTTP requests to La Cale, by endpoint",
            ["endpoint"],
            buckets=LACALE_BUCKETS,
            registry=r,
        )
        self.poll_cycle_seconds = Histogram(
            "vigie_poll_cycle_duration_seconds",
            "Duration of an alert poll cycle (every due server polled once)",
            buckets=CYCLE_BUCKETS,
            registry=r,
        )
        self.poll_cycles = Counter("vigie_poll_cycles", "Alert poll cycles completed", registry=r)
        self.servers_polled = Counter(
            "vigie_poll_servers",
            "Servers polled for alerts, by the poll's outcome (ok, gap, rate_limited...)",
            ["outcome"],
            registry=r,
        )
        self.servers_last_cycle = Gauge(
            "vigie_poll_servers_last_cycle",
            "Servers due in the last alert poll cycle",
            registry=r,
        )
        self.gaps = Counter(
            "vigie_alert_gaps",
            "Gap notices: a channel told that releases published in a time range may have been missed",
            registry=r,
        )
        self.posts_pending = Gauge(
            "vigie_alert_posts_pending",
            "Alert deliveries (a release for a channel) waiting to be posted, "
            "for this process's servers; read from the database at scrape time",
            registry=r,
        )
        self.posts_sent = Counter(
            "vigie_alert_posts_sent",
            "Alert deliveries posted (a release for a channel)",
            registry=r,
        )
        self.messages_sent = Counter(
            "vigie_alert_messages_sent",
            "Alert messages posted (up to ten releases each)",
            registry=r,
        )
        self.posts_failed = Counter(
            "vigie_alert_posts_failed",
            "Alert messages that failed, by reason: retry_later (outcome unknown, "
            "re-sent with the same nonce), rejected (Discord refused it), channel_unavailable (alerts paused)",
            ["reason"],
            registry=r,
        )
        self.posts_dropped = Counter(
            "vigie_alert_posts_dropped",
            "Alert deliveries given up after repeated refusals",
            registry=r,
        )
        self.discord_rate_limited = Counter(
            "vigie_discord_rate_limited",
            "HTTP 429 answers from Discord's REST API, by scope "
            "(user, shared, global; cloudflare: a 429 without Via header, an IP ban)",
            ["scope"],
            registry=r,
        )
        self.slot_held = Gauge(
            "vigie_slot_held",
            "1 while this process holds its cluster slot (0: standby or lost)",
            registry=r,
        )
        self.slot_held.set(1)
        # Series that exist from the start with 0, so that a rate() over them works from the
        # first scrape and dashboards show 0 rather than "no data".
        for reason in ("retry_later", "rejected", "channel_unavailable"):
            self.posts_failed.labels(reason=reason)

    # -- recording -------------------------------------------------------------------------
    def command_done(self, command: str, outcome: str, seconds: float) -> None:
        self.commands.labels(command=command, outcome=outcome).inc()
        self.command_seconds.labels(command=command).observe(max(0.0, seconds))

    def lacale_request(self, path: str, error: BaseException | None, seconds: float) -> None:
        """The La Cale client's observer (``LaCaleClient(observe=...)``): one exchange."""
        endpoint = lacale_endpoint(path)
        self.lacale_requests.labels(endpoint=endpoint, outcome=lacale_outcome(error)).inc()
        self.lacale_seconds.labels(endpoint=endpoint).observe(max(0.0, seconds))

    def cycle_done(self, report: _CycleReportLike, results: Iterable[_PollResultLike | None] = ()) -> None:
        """One alert poll cycle finished (called by the scheduler with its report)."""
        self.poll_cycles.inc()
        self.poll_cycle_seconds.observe(max(0.0, report.finished - report.started))
        self.servers_last_cycle.set(report.guilds)
        for outcome, count in report.outcomes.items():
            self.servers_polled.labels(outcome=outcome).inc(count)
        gaps = sum(len(r.gap_notices or ()) for r in results if r is not None)
        if gaps:
            self.gaps.inc(gaps)

    def posted(self, deliveries: int) -> None:
        self.messages_sent.inc()
        self.posts_sent.inc(deliveries)

    def post_failed(self, reason: str) -> None:
        self.posts_failed.labels(reason=reason).inc()

    def posts_gave_up(self, deliveries: int) -> None:
        self.posts_dropped.inc(deliveries)

    def discord_429(self, scope: str) -> None:
        self.discord_rate_limited.labels(scope=scope).inc()

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


# -- La Cale labels ---------------------------------------------------------------------------
_ENDPOINTS = (
    ("/api/external/meta", "meta"),
    ("/api/external/upload", "upload"),
    ("/api/torrents/download/", "download"),
    ("/api/external", "search"),
)


def lacale_endpoint(path: str) -> str:
    """A bounded name for a request path (a download's info hash is not a label)."""
    for prefix, name in _ENDPOINTS:
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return name
    return "other"


def lacale_outcome(error: BaseException | None) -> str:
    """``ok`` for a usable answer; else the HTTP status class (``429`` apart: it is about
    pacing, not failure), or what went wrong before an answer (``timeout``, ``connection``)
    or while reading it (``too_large``, ``malformed``). Matched by the error's class name:
    this module does not import the La Cale package."""
    if error is None:
        return "ok"
    kind = type(error).__name__
    if kind == "Timeout":
        return "timeout"
    if kind == "ConnectionFailed":
        return "connection"
    if kind == "ResponseTooLarge":
        return "too_large"
    status = getattr(error, "status", None)
    if not isinstance(status, int) or 200 <= status < 300:
        return "malformed" if kind == "MalformedResponse" else "error"
    if status == 429:
        return "429"
    return f"{status // 100}xx"
