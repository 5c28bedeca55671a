"""Settings read from the environment and ``.env`` (pydantic-settings).

A bad or missing setting must stop the process with one line naming it (exit status 2),
never a traceback: ``load_settings`` turns pydantic's error into :class:`ConfigError`.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cached_property
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The La Cale server caches each search ~30 s: polling faster only burns requests.
MIN_POLL_INTERVAL = 30


class ConfigError(Exception):
    """A setting is missing or invalid. ``str()`` is the one line to print."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr = Field(min_length=1)
    secret_key: SecretStr = Field(min_length=16)
    # Previous SECRET_KEY value(s), comma-separated: stored keys written under them stay
    # readable and are re-encrypted under SECRET_KEY at start (see ``old_fernet_keys``).
    secret_key_old: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///data/vigie.sqlite3"
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

    @field_validator("poll_interval_seconds")
    @classmethod
    def _poll_floor(cls, value: int) -> int:
        if value < MIN_POLL_INTERVAL:
            raise ValueError(
                f"must be at least {MIN_POLL_INTERVAL} s: La Cale caches each search for about 30 s, "
                "polling faster only repeats the same answer"
            )
        return value

    @field_validator("lacale_base_url", "discord_api_base")
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
        # Accept the plain forms people paste and pick the async driver ourselves.
        if value.startswith("postgres://"):
            value = "postgresql+asyncpg://" + value[len("postgres://") :]
        elif value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value[len("postgresql://") :]
        elif value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://user:pass@host/db")
        return value

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


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem as one line: ``DISCORD_TOKEN: missing``."""
    first = exc.errors()[0]
    name = str(first["loc"][0]).upper() if first.get("loc") else "configuration"
    if first.get("type") == "missing":
        return f"{name}: missing (set it in the environment or in .env)"
    msg = str(first.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    return f"{name}: {msg}"


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
