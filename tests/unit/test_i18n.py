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
