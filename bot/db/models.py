"""The schema, as typed ORM models.

Discord ids are 64-bit: ``BigInteger`` everywhere (PostgreSQL's ``integer`` would
overflow). Secrets are stored only as Fernet tokens (see ``bot.services.vault``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.db.types import UTCDateTime, utcnow
from bot.limits import ALERT_NAME_MAX, INFO_HASH_MAX
from bot.states import DeliveryStatus, KeyStatus

__all__ = [
    "Alert",
    "Base",
    "BotState",
    "Delivery",
    "DeliveryStatus",
    "GuildSettings",
    "KeyStatus",
    "MemberKey",
    "SeenRelease",
    "UploadRecord",
    "Watch",
]

# Named constraints let Alembic's batch mode drop and recreate them on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class GuildSettings(Base):
    """One row per server Vigie is (or was) in."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    key_fingerprint: Mapped[str | None] = mapped_column(String(32))
    key_registered_by: Mapped[int | None] = mapped_column(BigInteger)
    key_registered_at: Mapped[datetime | None]
    key_status: Mapped[str] = mapped_column(String(16), default=KeyStatus.UNCHECKED)
    key_status_reason: Mapped[str | None] = mapped_column(Text)
    key_checked_at: Mapped[datetime | None]
    upload_role_id: Mapped[int | None] = mapped_column(BigInteger)
    upload_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    log_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    #: Locale used for messages that have no interaction (alerts, admin notices).
    locale: Mapped[str] = mapped_column(String(16), default="fr")
    last_poll_at: Mapped[datetime | None]
    last_poll_outcome: Mapped[str | None] = mapped_column(Text)
    #: False once Vigie left the server (its key is erased at that moment).
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Members may make their own watches (``/watch``) matched against this server's poll
    #: (``/setup watches on``). Off by default: the admins choose.
    watches_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    alerts: Mapped[list[Alert]] = relationship(back_populates="guild", cascade="all, delete-orphan")


class MemberKey(Base):
    """A member's personal La Cale key: their searches' downloads and uploads use it."""

    __tablename__ = "member_keys"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    api_key_encrypted: Mapped[str] = mapped_column(Text)
    key_fingerprint: Mapped[str] = mapped_column(String(32))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_in_guild: Mapped[int | None] = mapped_column(BigInteger)


class Alert(Base):
    """A saved search whose new matches are posted to a channel."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("guild_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(ForeignKey("guild_settings.guild_id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(ALERT_NAME_MAX))
    #: What the alert matches: ``bot.criteria.Criteria.to_json()`` (the criteria set, by
    #: name). One column, so that a new criterion needs no migration.
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    mention_role_id: Mapped[int | None] = mapped_column(BigInteger)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_match_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    #: Set on every change of the row (Core and ORM updates alike, through ``onupdate``):
    #: with the count and the highest id of a server's running alerts, it tells the
    #: poller its cached copy is stale. Recording a match keeps it unchanged on purpose.
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)

    guild: Mapped[GuildSettings] = relationship(back_populates="alerts")


class Watch(Base):
    """A member's own saved search, whose new matches are sent to them by direct message
    (``/watch``). It runs on the server's poll (when the server turned watches on) or, for
    a member with a personal key, on a poll of that key (``personal``)."""

    __tablename__ = "watches"
    __table_args__ = (UniqueConstraint("guild_id", "user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(ALERT_NAME_MAX))
    #: The criteria, as one value (its own module maps it to and from this JSON).
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Polled with the member's personal key (the server has not turned watches on).
    personal: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The member's language when they made it: their DMs are written in it.
    locale: Mapped[str] = mapped_column(String(16), default="fr")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    #: Paused by Vigie (DMs closed...) and the member not told yet: told at their next command.
    notice_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_match_at: Mapped[datetime | None]
    #: Versions the row for the poller's cache, like ``Alert.updated_at``.
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """One release to one destination: a channel for an alert (``alert_id``), or a member's
    DMs for their watches (``user_id``, ``watch_id``: the watch that recorded it; the row
    is the member's, whichever of their watches matched). The unique (alert, info hash)
    and (member, info hash) pairs make a second post of the same release to the same alert,
    or a second DM of it to the same member, impossible."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "info_hash"),
        UniqueConstraint("user_id", "info_hash"),
        Index("ix_deliveries_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    watch_id: Mapped[int | None] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"), index=True)
    #: The member a DM goes to (``None``: a channel post).
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    #: The channel of an alert's post; ``0`` for a DM (its channel is the member's).
    channel_id: Mapped[int] = mapped_column(BigInteger)
    info_hash: Mapped[str] = mapped_column(String(INFO_HASH_MAX))
    #: The release as La Cale described it, to post it even after it left the newest page.
    release: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pub_date: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Set when the sender claims the row for one message (Discord ``nonce``, at most 25
    #: characters). A pending row that has one may already be posted: it is only ever
    #: re-sent with the same nonce and the same companions, so Discord drops the repeat.
    batch_nonce: Mapped[str | None] = mapped_column(String(25))
    #: The slot (``bot.cluster.ownership.slot``) of the process that claimed the row or
    #: took the claim over, and when: a claimed row is re-sent only by the process that
    #: owns its server, never by another one.
    claimed_by: Mapped[int | None] = mapped_column(Integer)
    claimed_at: Mapped[datetime | None]
    #: The release is in an age-restricted category of La Cale (decided when it was
    #: recorded, with the category tree of then): posted only to an age-restricted channel.
    age_restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SeenRelease(Base):
    """Info hashes a guild's poll has already seen on the newest page: tells a gap (every
    release on the page unseen) from a quiet cycle."""

    __tablename__ = "seen_releases"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    info_hash: Mapped[str] = mapped_column(String(INFO_HASH_MAX), primary_key=True)
    pub_date: Mapped[datetime | None]
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class BotState(Base):
    """Small process-wide facts that must survive restarts (e.g. the hash of the last
    command payload synced to Discord, so unchanged commands are not re-synced)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UploadRecord(Base):
    """Every upload attempt, whatever its outcome (``/uploads`` lists them)."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    key_fingerprint: Mapped[str | None] = mapped_column(String(32))
    info_hash: Mapped[str] = mapped_column(String(INFO_HASH_MAX), index=True)
    title: Mapped[str] = mapped_column(String(300))
    category_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    source_fixed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
