"""Typed errors raised by the La Cale client.

Every failure of the API, of the network or of the answer's shape becomes one of these,
so that callers (cogs, CLI, alert scheduler) decide what to do from a type, never from
an aiohttp or JSON exception.
"""

from __future__ import annotations


class LaCaleError(Exception):
    """Base of every error the client raises."""

    #: HTTP status that caused it, when there was one.
    status: int | None = None

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidRequest(LaCaleError):
    """Refused before sending: a limit of the API would be exceeded (q > 200, cat > 64...).

    ``field`` names the offending parameter and ``limit`` the documented bound, so the
    message shown to a user can name both.
    """

    def __init__(self, message: str, *, field: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.limit = limit


class BadRequest(LaCaleError):
    """400: the server refused the request; ``message`` is the server's own text."""

    status = 400


class AuthError(LaCaleError):
    """Base of key problems (401/403)."""


class MissingKey(AuthError):
    """401: no key reached the server."""

    status = 401


class KeyRefused(AuthError):
    """403: the key is invalid, revoked, or (on upload) lacks the ``upload:write`` scope."""

    status = 403

    def __init__(self, message: str = "", *, upload: bool = False) -> None:
        super().__init__(message, status=403)
        #: True when the 403 answered an upload: the key may only lack the upload scope.
        self.upload = upload


class Duplicate(LaCaleError):
    """409: a torrent with the same info hash is already on La Cale."""

    status = 409


class RateLimited(LaCaleError):
    """429 (from the server or from our own client-side limiter)."""

    status = 429

    def __init__(self, message: str = "", *, retry_after: float) -> None:
        super().__init__(message, status=429)
        self.retry_after = max(0.0, float(retry_after))


class KeyBusy(RateLimited):
    """Refused before sending: this key's searches are booked further ahead than a member
    should wait (other members' searches and the alert polls go first). ``retry_after`` is
    when a new search would be accepted. Raised by our own limiter, never by the server."""

    def __init__(self, message: str = "", *, retry_after: float, wait: float) -> None:
        super().__init__(message, retry_after=retry_after)
        #: How long the search would have waited for its turn.
        self.wait = max(0.0, float(wait))


class Unavailable(LaCaleError):
    """The service cannot be used right now: 5xx, timeout, connection error, or an answer
    that is not the expected JSON (a Cloudflare challenge page, garbage)."""


class ServerError(Unavailable):
    """5xx."""


class Timeout(Unavailable):
    """No answer in time. For an upload, the upload may still have gone through."""


class ConnectionFailed(Unavailable):
    """DNS, refused connection, TLS, reset..."""


class MalformedResponse(Unavailable):
    """The answer was not the JSON shape the API documents (HTML challenge, bad JSON)."""


class ResponseTooLarge(MalformedResponse):
    """The answer is larger than the client accepts for its kind (a JSON answer, a
    .torrent, an error body): refused from its ``Content-Length`` before reading, or as
    soon as more than ``limit`` bytes arrived. Not retried: the same request would get
    the same answer.

    ``declared`` is the announced ``Content-Length`` (None when chunked or absent);
    ``received`` counts the body bytes actually read before stopping (0 when refused
    from the header)."""

    def __init__(self, message: str, *, limit: int, declared: int | None = None, received: int = 0) -> None:
        super().__init__(message)
        self.limit = limit
        self.declared = declared
        self.received = received


class NotFound(LaCaleError):
    """404: e.g. a torrent download for an unknown info hash."""

    status = 404
