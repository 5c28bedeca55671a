"""Whether a URL's host names a public machine: the cover URL is fetched by La Cale's
server, so a host that reaches *its* network (a cloud metadata endpoint, a database on
10.x, the site's own loopback) must never be accepted.

Only the text of the host is judged, never DNS: resolving would not help (La Cale resolves
again, later, maybe differently) and would let members make Vigie send DNS queries. So the
rule is the one browsers' URL parsers follow, made strict: every IP literal is refused in
any notation they accept, and so are the names that only ever mean a local machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: How a host that is not a public name was recognised; ``None`` for a public name.
HostProblem = Literal["ip_literal", "local_name", "invalid"]

#: Name suffixes that never reach the public internet: RFC 6761/6762/8375 special-use
#: names, ICANN's reserved ``.internal``, and the home-router and intranet habits that
#: resolve only inside a network (``metadata.google.internal`` is Google Cloud's metadata
#: server; ``.localdomain`` and ``.lan`` are what routers hand out).
LOCAL_SUFFIXES: tuple[str, ...] = (
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "home.arpa",
    "arpa",  # in-addr.arpa / ip6.arpa: reverse lookups, never an image host
    "test",
    "invalid",
)

#: A label the WHATWG URL parser reads as a number (decimal, ``0x`` hex, octal with a
#: leading 0): when the *last* label is one, browsers, curl and Node parse the whole host
#: as IPv4 (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``10.0.0.5.``).
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
#: Every dot URL parsers treat as a label separator (IDNA: ideographic and full-width).
_DOTS = re.compile("[\u002e\u3002\uff0e\uff61]")


@dataclass(frozen=True, slots=True)
class HostVerdict:
    #: ``None``: a public name. Otherwise why it is refused.
    problem: HostProblem | None
    #: The host as compared (lower case, ASCII, no trailing dot): shown in the message.
    host: str


def judge_host(raw_host: str) -> HostVerdict:
    """Judge the host part of a URL (as :func:`urllib.parse.urlsplit` gives it in
    ``hostname``, or with IPv6 brackets): ``problem`` is ``None`` only for a name that
    could be a public one."""
    host = raw_host.strip()
    if not host:
        return HostVerdict("invalid", host)
    # IPv6 literals ("[::1]", "[::ffff:127.0.0.1]", zone ids) and anything with a colon.
    if ":" in host or host.startswith("["):
        return HostVerdict("ip_literal", host.strip("[]"))
    # Percent-escapes are decoded by URL parsers before the host is read ("127.0.0.%31"):
    # no public host needs one, so one is never accepted.
    if "%" in host:
        return HostVerdict("invalid", host)
    host = _DOTS.sub(".", host)
    if not host.isascii():
        # What a browser would connect to: IDNA maps full-width digits to ASCII ones
        # ("１２７.０.０.１" is 127.0.0.1), so the checks below see the mapped name.
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return HostVerdict("invalid", host)
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]  # "localhost." and "127.0.0.1." are the same hosts
    labels = host.split(".")
    if not host or len(host) > 253 or any(not label for label in labels):
        return HostVerdict("invalid", host)
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return HostVerdict("ip_literal", host)
    if not all(_LABEL.fullmatch(label) for label in labels):
        return HostVerdict("invalid", host)
    if len(labels) == 1:
        # A bare name ("nas", "router") is resolved through the local search domain.
        return HostVerdict("local_name", host)
    if any(host == suffix or host.endswith("." + suffix) for suffix in LOCAL_SUFFIXES):
        return HostVerdict("local_name", host)
    return HostVerdict(None, host)
