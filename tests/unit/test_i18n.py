"""Every message exists in both languages with the same placeholders, and every key
the code uses exists."""

import re
import string
from pathlib import Path

from bot import i18n

ROOT = Path(__file__).resolve().parents[2]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_same_keys_and_placeholders() -> None:
    fr, en = i18n.all_message_keys("fr"), i18n.all_message_keys("en")
    assert fr == en, (fr ^ en)
    for key in en:
        assert placeholders(i18n._catalogue("fr")["messages"][key]) == placeholders(i18n._catalogue("en")["messages"][key]), key


def test_keys_used_in_code_exist() -> None:
    used: set[str] = set()
    pattern = re.compile(r"""(?:t\([^,()]+,\s*|UserError\(\s*|NoKey\(\s*|_key=)["']([a-z_]+\.[a-z0-9_.]+)["']""")
    for path in list((ROOT / "bot").rglob("*.py")) + list((ROOT / "cogs").rglob("*.py")):
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    missing = {k for k in used if not i18n.has(k)}
    assert not missing, missing


def test_lang_of() -> None:
    assert i18n.lang_of("fr") == "fr" and i18n.lang_of("fr-CA") == "fr"
    assert i18n.lang_of("en-US") == "en" and i18n.lang_of("de") == "en" and i18n.lang_of(None) == "en"


def test_french_text() -> None:
    assert "clé" in i18n.t("fr", "error.no_key")
    assert i18n.t("de", "error.rate_limited", seconds=3).endswith("3 s.")


def test_keys_built_from_values_exist() -> None:
    """Keys assembled at run time (``f"alert.pause_reason.{reason}"``…) escape the static
    scan above: every value they are built from has its message, so a renamed prefix or a
    new reason cannot silently show a raw key or an untranslated fallback."""
    from bot.db.models import KeyStatus
    from bot.services.alerts import poll
    from bot.services.alerts.service import PAUSE_REASONS
    from bot.services.search import SortOrder

    built = {f"alert.pause_reason.{reason}" for reason in PAUSE_REASONS}
    built |= {f"setup.status.key.{value}" for name, value in vars(KeyStatus).items() if name.isupper()}
    # Outcomes recorded as the server's last poll (``not_owned`` is never recorded: another
    # process polls that server and records its own outcome).
    built |= {f"alert.poll_outcome.{value}" for name, value in vars(poll).items() if name.startswith("OUTCOME_") and value != "not_owned"}
    built |= {f"search.sort.{order.value}" for order in SortOrder}
    built |= {f"alert.test.drop.{kind}" for kind in ("word", "category", "size", "seeders", "exclude", "tmdb")}
    missing = {key for key in built if not i18n.has(key)}
    assert not missing, missing
    assert len(built) > 20
