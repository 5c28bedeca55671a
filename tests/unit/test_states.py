"""Pause reasons, poll outcomes, notice kinds and statuses live in ``bot.states`` only:
their stored words never change (no migration), each has its words in both languages,
and no module writes them as bare strings again."""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pytest

from bot import i18n
from bot.states import (
    CHANNEL_PAUSE_REASONS,
    KEY_PAUSE_REASONS,
    DeliveryStatus,
    KeyStatus,
    NoticeKind,
    PauseReason,
    PollOutcome,
)
from bot.ui.status import pause_reason_text, poll_outcome_text

ROOT = Path(__file__).resolve().parents[2]


def test_stored_words_are_the_ones_already_in_databases() -> None:
    assert [r.value for r in PauseReason] == [
        "user",
        "channel_forbidden",
        "channel_missing",
        "key_refused",
        "no_key",
        "key_unreadable",
    ]
    assert {o.value for o in PollOutcome if o.stored} == {
        "ok",
        "gap",
        "gap_unfilled",
        "unavailable",
        "rate_limited",
        "key_refused",
        "error",
        "timeout",
    }
    assert {k.value for k in KeyStatus} == {"unchecked", "valid", "refused", "unreadable"}
    assert {s.value for s in DeliveryStatus} == {"pending", "delivered", "baseline", "dropped"}
    assert {k.value for k in NoticeKind} == {"channel_forbidden", "channel_missing", "key_refused"}
    # A member is its word: rows read back as plain strings compare equal, keys format alike.
    assert (
        PauseReason.KEY_REFUSED == "key_refused"
        and f"{PollOutcome.GAP}" == "gap"
        and str(NoticeKind.KEY_REFUSED) == "key_refused"
    )


def test_groups_of_pause_reasons() -> None:
    assert (
        set(KEY_PAUSE_REASONS) == {r for r in PauseReason if r.about_key} == {"no_key", "key_refused", "key_unreadable"}
    )
    assert (
        set(CHANNEL_PAUSE_REASONS)
        == {r for r in PauseReason if r.about_channel}
        == {"channel_forbidden", "channel_missing"}
    )
    assert PauseReason.of(None) is PauseReason.USER and PauseReason.of("key_refused") is PauseReason.KEY_REFUSED
    assert PauseReason.of("from-a-newer-version") is PauseReason.USER


@pytest.mark.parametrize("locale", ["fr", "en-US"])
def test_every_state_has_words(locale: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="vigie")
    labels = [pause_reason_text(locale, r) for r in PauseReason]
    labels += [poll_outcome_text(locale, o) for o in PollOutcome if o.stored]
    labels += [i18n.t(locale, f"alert.admin.{k}", names="x", channel="#x") for k in NoticeKind]
    labels += [i18n.t(locale, f"setup.status.key.{k}", fingerprint="f") for k in KeyStatus]
    assert not [r for r in caplog.records if "missing message key" in r.getMessage()]
    assert not [label for label in labels if not label or re.fullmatch(r"[a-z_]+\.[a-z0-9_.]+", label)]  # no bare key
    assert len(set(labels)) == len(labels)
    assert pause_reason_text(locale, None) == pause_reason_text(locale, PauseReason.USER)


_STATE_NAME = re.compile(r"^_?(PAUSE|OUTCOME|NOTICE|STATUS)_[A-Z_]+$")
_WORDS = {str(v) for enum in (PauseReason, PollOutcome, NoticeKind) for v in enum}


def test_no_state_word_is_written_outside_bot_states() -> None:
    """No ``PAUSE_X = "..."`` constants in other modules, and no ``pause_reason="..."``."""
    found: list[str] = []
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("cogs").rglob("*.py")]:
        if path == ROOT / "bot" / "states.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value in _WORDS:
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                found += [f"{where}:{node.lineno} {n}" for n in names if _STATE_NAME.match(n)]
            # (``outcome=`` elsewhere is a command's outcome in logs and metrics.)
            alerts = where.parts[:3] == ("bot", "services", "alerts")
            if isinstance(node, ast.keyword) and node.arg in (
                ("pause_reason", "outcome", "kind", "reason") if alerts else ("pause_reason",)
            ):
                if isinstance(node.value, ast.Constant) and node.value.value in _WORDS:
                    found.append(f"{where}:{node.lineno} {node.arg}={node.value.value!r}")
    assert found == []
