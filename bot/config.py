"""Settings read from the environment and ``.env`` (pydantic-settings).

Bad or missing settings stop the process with one line per problem, all of them at once, in
plain words (exit status 2), never a traceback: ``load_settings`` turns pydantic's error into
:class:`ConfigError`. An empty value (``DISCORD_TOKEN=`` as copied from ``.env.example``)
counts as missing.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from functools import cached_property
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.limits import WATCHES_PER_GUILD_DEFAULT, WATCHES_PER_MEMBER_DEFAULT

#: The La Cale server caches each search ~30 s: polling faster only burns requests.
MIN_POLL_INTERVAL = 30
#: The layout (SHARD_COUNT, CLUSTER_COUNT) is packed into one 32-bit advisory-lock key
#: (bot/cluster/membership.py): 15 bits for the shard count is far beyond any bot's needs.
MAX_SHARD_COUNT = 32767


#: How to make a SECRET_KEY, quoted in the messages about it.
GENERATE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105 - a command, not a secret
#: The opt-in that lets LACALE_BASE_URL be plain http:// to another machine.
INSECURE_HTTP_SETTING = "LACALE_ALLOW_INSECURE_HTTP"


class ConfigError(Exception):
    """Settings are missing or invalid. ``problems`` holds one line per setting;
    ``str()`` is those lines, to print as they are."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class Settings(BaseSettings):
    # env_ignore_empty: ``NAME=`` (as in .env.example) means "not set", so a required
    # setting is reported missing and an optional one keeps its default.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    discord_token: SecretStr = Field(min_length=1)
    secret_key: SecretStr = Field(min_length=16)
    # Previous SECRET_KEY value(s), comma-separated: stored keys written under them stay
    # readable and are re-encrypted under SECRET_KEY at start (see ``old_fernet_keys``).
    secret_key_old: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///data/vigie.sqlite3"
    # Plain http:// to La Cale sends every member's key readable on the way; allowed to a
    # loopback address (a local proxy or the test fake) or with this explicit opt-in.
    # Declared before lacale_base_url, whose validator reads it.
    lacale_allow_insecure_http: bool = False
    lacale_base_url: str = "https://la-cale.space"
    poll_interval_seconds: int = 60
    dev_guild_id: int | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    discord_api_base: str | None = None
    # Whether to sync application commands at start (the fake Discord and a first run want
    # it; large deployments sync on demand with `vigie sync`).
    sync_commands: bool = True

    # Tunables with sensible defaults (documented in .env.example).
    meta_cache_seconds: int = Field(default=3600, ge=60)
    search_cooldown_per_minute: int = Field(default=6, ge=1)
    search_min_interval_seconds: float = Field(default=2.0, ge=0)
    http_timeout_seconds: float = Field(default=20.0, gt=0)
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Bytes that all open /upload previews may hold together (each keeps its .torrent and NFO).
    upload_preview_budget_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    delivery_retention_days: int = Field(default=90, ge=1)
    poll_concurrency: int = Field(default=8, ge=1)
    # Members' own watches (/watch): how many one member may have in a server, and how
    # many a server may hold for all its members.
    watches_per_member: int = Field(default=WATCHES_PER_MEMBER_DEFAULT, ge=1)
    watches_per_guild: int = Field(default=WATCHES_PER_GUILD_DEFAULT, ge=1)
    # Discord's privileged "server members" intent (to be enabled for the bot in the developer
    # portal first): a member leaving a server pauses their watches there at once. Without
    # it, the next DM finds the member gone and pauses them then.
    discord_members_intent: bool = False
    # The operators' endpoint (/healthz, /readyz, /metrics): off unless HEALTH_PORT is set
    # (0: any free port, logged), on loopback unless HEALTH_HOST opens it (0.0.0.0 in a container).
    health_port: int | None = Field(default=None, ge=0, le=65535)
    health_host: str = "127.0.0.1"
    # Discord requests per second for alert posts, for the whole bot: each of the
    # CLUSTER_COUNT processes paces its posts at an equal share (Discord's global limit
    # is 50/s per bot, across processes; the rest is left to commands).
    discord_rest_rate: float = Field(default=40.0, gt=0)

    # Several processes (see bot/cluster). Declared after database_url, whose value the
    # cluster checks read, and in this order: each check reads the ones before it.
    # Total shards, the same on every process; unset: Discord's recommendation (one process).
    shard_count: int | None = Field(default=None, ge=1, le=MAX_SHARD_COUNT)
    cluster_count: int = Field(default=1, ge=1, le=MAX_SHARD_COUNT)
    # Unset: take the first free slot, so that replicas can be identical.
    cluster_id: int | None = Field(default=None, ge=0)

    @field_validator("poll_interval_seconds")
    @classmethod
    def _poll_floor(cls, value: int) -> int:
        if value < MIN_POLL_INTERVAL:
            raise ValueError(
                f"must be at least {MIN_POLL_INTERVAL} s: La Cale caches each search for about 30 s, "
                "polling faster only repeats the same answer"
            )
        return value

    @field_validator("lacale_base_url")
    @classmethod
    def _lacale_url(cls, value: str, info: ValidationInfo) -> str:
        return check_lacale_base_url(value, allow_insecure_http=bool(info.data.get("lacale_allow_insecure_http")))

    @field_validator("discord_api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None if value == "" else value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("cluster_count")
    @classmethod
    def _cluster_count(cls, value: int, info: ValidationInfo) -> int:
        if value == 1:
            return value
        database_url = info.data.get("database_url")
        if database_url is not None and not database_url.startswith("postgresql"):
            raise ValueError(
                f"{value} processes need PostgreSQL (DATABASE_URL=postgresql+asyncpg://...): "
                "a SQLite file serves one process only; set CLUSTER_COUNT=1 or move to PostgreSQL"
            )
        if "shard_count" not in info.data:  # SHARD_COUNT itself is invalid: said on its own line
            return value
        shard_count = info.data["shard_count"]
        if shard_count is None:
            raise ValueError(
                f"{value} processes need SHARD_COUNT (the same on every process): "
                "Discord's recommendation may differ from one process to the next"
            )
        if value > shard_count:
            raise ValueError(f"cannot exceed SHARD_COUNT ({shard_count}): a process would have no shard to run")
        return value

    @field_validator("cluster_id")
    @classmethod
    def _cluster_id(cls, value: int | None, info: ValidationInfo) -> int | None:
        cluster_count = info.data.get("cluster_count")
        if value is not None and cluster_count is not None and value >= cluster_count:
            allowed = "0" if cluster_count == 1 else f"between 0 and {cluster_count - 1}"
            raise ValueError(f"must be {allowed} (CLUSTER_COUNT={cluster_count}), or unset to take the first free slot")
        return value

    @property
    def rest_rate_per_process(self) -> float:
        """This process's share of DISCORD_REST_RATE: every process takes the same share,
        so together they never exceed the whole bot's budget."""
        return self.discord_rest_rate / self.cluster_count

    @cached_property
    def fernet_key(self) -> bytes:
        """A Fernet key derived from SECRET_KEY, so any long random string works as SECRET_KEY."""
        return _derive_fernet_key(self.secret_key.get_secret_value())

    @property
    def old_secret_keys(self) -> list[str]:
        """The SECRET_KEY_OLD values: each comma-separated part, and the whole value too
        (a secret may itself contain a comma; one more candidate key costs nothing)."""
        raw = self.secret_key_old.get_secret_value().strip() if self.secret_key_old else ""
        if not raw:
            return []
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        return list(dict.fromkeys([*parts, raw]))

    @property
    def old_fernet_keys(self) -> list[bytes]:
        """Fernet keys of the previous SECRET_KEY values, tried after the current one."""
        return [_derive_fernet_key(old) for old in self.old_secret_keys]


def _derive_fernet_key(secret: str) -> bytes:
    digest = hashlib.sha256(b"vigie-fernet-v1:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest)


class DatabaseSettings(BaseSettings):
    """What ``vigie db upgrade`` needs: DATABASE_URL (and LOG_LEVEL), no token, no secret,
    so the database can be prepared before the bot is registered with Discord."""

    model_config = Settings.model_config

    database_url: str = Settings.model_fields["database_url"].default
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        return normalize_database_url(value)


def normalize_database_url(value: str) -> str:
    """Accept the plain forms people paste and pick the async driver ourselves."""
    if value.startswith("postgres://"):
        value = "postgresql+asyncpg://" + value[len("postgres://") :]
    elif value.startswith("postgresql://"):
        value = "postgresql+asyncpg://" + value[len("postgresql://") :]
    elif value.startswith("sqlite:///"):
        value = "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
    if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ValueError("use sqlite+aiosqlite:///path/to/file.sqlite3 or postgresql+asyncpg://user:pass@host/db")
    return value


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: traffic that never leaves the machine."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_lacale_base_url(value: str, *, allow_insecure_http: bool = False) -> str:
    """LACALE_BASE_URL normalised (no trailing slash), or ValueError saying what is wrong.

    The address goes into every link Vigie posts publicly and every key travels to it, so:
    no ``user:pass@`` (it would be in every link), no ``?query``/``#fragment`` (links are
    built by appending paths), and https unless the server is on this machine or the
    operator opted in with LACALE_ALLOW_INSECURE_HTTP=true.
    """
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError("is not a valid address (expected e.g. https://la-cale.space)") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must start with https:// (e.g. https://la-cale.space)")
    if "@" in parts.netloc:
        raise ValueError(
            "must not contain a user name or password (user:pass@...): Vigie puts this address in every link it posts"
        )
    if not parts.hostname:
        raise ValueError("has no host name (expected e.g. https://la-cale.space)")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must not contain a ?query or #fragment: Vigie appends paths to it")
    if parts.scheme.lower() == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise ValueError(
            "http:// would send members' API keys unencrypted; use https://, or set "
            f"{INSECURE_HTTP_SETTING}=true if this server is on a network you trust"
        )
    return value.rstrip("/")


def describe_validation_error(exc: ValidationError, model: type[BaseSettings] = Settings) -> list[str]:
    """One plain line per setting: ``SECRET_KEY: must be at least 16 characters; ...``."""
    lines: list[str] = []
    seen: set[str] = set()
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        if field in seen:
            continue
        seen.add(field)
        lines.append(f"{field.upper() or 'configuration'}: {_plain(error, field, model)}")
    return lines


_MISSING_HINTS = {
    "discord_token": "the bot's token: Discord Developer Portal → your application → Bot → Reset Token",
    "secret_key": f"generate one with `{GENERATE_SECRET}`",
}


def _plain(error: Any, field: str, model: type[BaseSettings]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    annotation = str(getattr(model.model_fields.get(field), "annotation", ""))
    secret = "Secret" in annotation or "token" in field or "secret" in field or "url" in field
    shown = "" if secret else f", not {str(error.get('input'))[:40]!r}"
    if kind == "missing":
        hint = _MISSING_HINTS.get(field)
        return "missing or empty; set it in .env or in the environment" + (f" ({hint})" if hint else "")
    if kind in ("string_too_short", "too_short"):
        extra = f"; generate one with `{GENERATE_SECRET}`" if field.startswith("secret_key") else ""
        return f"must be at least {ctx.get('min_length')} characters{extra}"
    if kind == "int_parsing":
        return f"must be a whole number{shown}"
    if kind in ("float_parsing", "float_type"):
        return f"must be a number{shown}"
    if kind == "bool_parsing":
        return f"must be true or false{shown}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '').replace(chr(39), '')}{shown}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def load_database_settings(**overrides: object) -> DatabaseSettings:
    try:
        return DatabaseSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, DatabaseSettings)) from None
