"""Every message exists in both languages with the same placeholders, and every key
the code uses exists."""

import ast
import re
import string
from pathlib import Path

import pytest

from bot import i18n

ROOT = Path(__file__).resolve().parents[2]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def forms(message: object) -> dict[str, str]:
    """A message's templates by plural form (a plain template is its own ``other``)."""
    return dict(message) if isinstance(message, dict) else {"other": str(message)}


def message_placeholders(message: object) -> set[str]:
    """What a message may use: its ``other`` form's placeholders (and ``count`` when it is
    counted). A ``one`` form may leave the number out ("The newest of them…")."""
    found = placeholders(forms(message)["other"])
    return found | {"count"} if isinstance(message, dict) else found


def plural_keys() -> set[str]:
    return {
        key for lang in i18n.LANGS for key in i18n.all_message_keys(lang) if i18n.is_plural(i18n.message(lang, key))
    }


def test_same_keys_and_placeholders() -> None:
    fr, en = i18n.all_message_keys("fr"), i18n.all_message_keys("en")
    assert fr == en, fr ^ en
    for key in en:
        assert message_placeholders(i18n.message("fr", key)) == message_placeholders(i18n.message("en", key)), key


def test_plural_forms_are_well_formed() -> None:
    """Every plural dict has ``other``, the forms its language's rules produce for 0, 1, 2
    (``one`` in both French and English), only forms the language knows (or exact ``=n``),
    and no form uses a placeholder its ``other`` form lacks."""
    assert plural_keys(), "no counted message at all?"
    for lang in i18n.LANGS:
        known = {i18n.plural_form(lang, n) for n in range(0, 2_000_001, 1000)} | {"one", "other"}
        for key in i18n.all_message_keys(lang):
            message = i18n.message(lang, key)
            if not isinstance(message, dict):
                assert isinstance(message, str) and message, (lang, key)
                continue
            assert "other" in message and "one" in message, (lang, key)
            for form, template in message.items():
                assert form in known or (form.startswith("=") and form[1:].isdigit()), (lang, key, form)
                assert isinstance(template, str) and template, (lang, key, form)
                assert placeholders(template) <= message_placeholders(message), (lang, key, form)


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
    from bot.services.search import SortOrder
    from bot.states import KeyStatus, PauseReason, PollOutcome, WatchPause

    built = {f"alert.pause_reason.{reason}" for reason in PauseReason}
    built |= {f"watch.pause_reason.{reason}" for reason in WatchPause}
    built |= {f"watch.notice.fix.{reason}" for reason in WatchPause}
    built |= {f"setup.watches.{state}" for state in ("on", "off")}
    built |= {f"setup.status.key.{value}" for value in KeyStatus}
    # Outcomes recorded as the server's last poll (``not_owned`` and ``still_polling`` are
    # never recorded: another process, or the poll still running, records its own).
    built |= {f"alert.poll_outcome.{outcome}" for outcome in PollOutcome if outcome.stored}
    built |= {f"search.sort.{order.value}" for order in SortOrder}
    built |= {f"alert.test.drop.{kind}" for kind in ("word", "category", "size", "seeders", "exclude", "tmdb")}
    missing = {key for key in built if not i18n.has(key)}
    assert not missing, missing
    assert len(built) > 20


#: Calls whose positional arguments name a message key.
MESSAGE_CALLS = {"t", "UserError", "NoKey", "PreviewClosed"}


def _callee(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def test_counted_messages_get_a_count() -> None:
    """A call that names a counted key (``t(locale, "search.footer", …)``,
    ``UserError("upload.preview.member_busy", …)``) passes ``count=``: the form is chosen
    from that value. Keys picked from a mapping are checked by their callers' tests."""
    counted = plural_keys()
    seen: set[str] = set()
    for path in list((ROOT / "bot").rglob("*.py")) + list((ROOT / "cogs").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or _callee(node) not in MESSAGE_CALLS:
                continue
            keys = {
                c.value for a in node.args for c in ast.walk(a) if isinstance(c, ast.Constant) and c.value in counted
            }
            if keys:
                seen |= keys
                kwargs = {k.arg for k in node.keywords}
                assert "count" in kwargs or None in kwargs, f"{path.name}:{node.lineno} {keys} without count="
    assert len(seen) >= 8, seen


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("fr", ["Page 1/1 · 0 résultat", "Page 1/1 · 1 résultat", "Page 1/1 · 2 résultats"]),
        ("en", ["Page 1/1 · 0 results", "Page 1/1 · 1 result", "Page 1/1 · 2 results"]),
    ],
)
def test_plural_forms_by_language(lang: str, expected: list[str]) -> None:
    """French counts 0 and 1 as singular, English only 1."""
    assert [i18n.t(lang, "search.footer", page=1, pages=1, count=n) for n in (0, 1, 2)] == expected


def test_plural_forms_of_other_messages() -> None:
    assert [i18n.t("fr", "upload.preview.files.value", count=n, size="1 Mo") for n in (0, 1, 2)] == [
        "0 fichier · 1 Mo",
        "1 fichier · 1 Mo",
        "2 fichiers · 1 Mo",
    ]
    assert [i18n.t("en", "upload.preview.files.value", count=n, size="1 MB") for n in (0, 1, 2)] == [
        "0 files · 1 MB",
        "1 file · 1 MB",
        "2 files · 1 MB",
    ]
    # French-only plural: English "posted" does not change.
    assert [i18n.t("fr", "alert.list.posted", count=n) for n in (0, 1, 2)] == ["0 publiée", "1 publiée", "2 publiées"]
    assert [i18n.t("en", "alert.list.posted", count=n) for n in (0, 1, 2)] == ["0 posted", "1 posted", "2 posted"]
    # A form without the number, and an exact ``=0`` form.
    assert i18n.t("en", "alert.add.backfill", count=1) == "The newest of them is being posted now."
    assert i18n.t("fr", "alert.add.backfill", count=3) == "Les 3 plus récentes sont publiées maintenant."
    assert i18n.t("fr", "alert.add.existing", count=0) == "Aucune sortie déjà sur La Cale n'y correspond."
    assert i18n.t("en", "alert.add.existing", count=2).startswith("2 releases already on La Cale match it")
    # French ``many`` (a million) falls back to ``other``.
    assert i18n.t("fr", "search.footer", page=1, pages=1, count=1_000_000) == "Page 1/1 · 1000000 résultats"


def test_counted_message_without_count_still_answers(caplog: pytest.LogCaptureFixture) -> None:
    """A forgotten ``count`` is a bug to log, never a crash: the ``other`` form is shown."""
    assert i18n.t("en", "search.footer", page=1, pages=2) == "Page {page}/{pages} · {count} results"
    assert "needs an integer count" in caplog.text
