"""Names that say where things are: each command's logic sits in the module named after
it, and what several commands share lives in ``bot/``, not in one of the cogs."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_cogs_do_not_import_each_other() -> None:
    """A helper two commands need (category autocomplete…) belongs in ``bot/ui``: a cog
    importing another loads that command's module and hides the helper where no one
    looks for it."""
    offenders = {
        path.name: sorted(m for m in imported_modules(path) if m == "cogs" or m.startswith("cogs."))
        for path in (ROOT / "cogs").glob("*.py")
    }
    assert not {name: mods for name, mods in offenders.items() if mods}


def test_key_modules_hold_what_their_names_say() -> None:
    """``/key``'s logic is in ``bot.services.keys``; encryption at rest in
    ``bot.services.vault``; ``/setup``'s server settings in ``bot.services.guilds``."""
    from bot.services import guilds, keys, vault

    assert {"KeyVault", "KeyDecryptError", "normalize_api_key"} <= set(vars(vault))
    assert {"KeyService", "ResolvedKey"} <= set(vars(keys)) and keys.ResolvedKey.__module__ == keys.__name__
    personal = {"member_key", "set_member_key", "remove_member_key", "resolve_key", "check_key"}
    assert personal <= set(vars(keys.KeyService))
    assert not personal & set(vars(guilds.GuildService)), "personal keys are KeyService's (GuildService.keys)"
    assert imported_modules(ROOT / "cogs" / "keys.py").isdisjoint({"bot.services.vault"})


def test_meta_lookups_are_named_for_meta() -> None:
    """``/meta``'s listings and the category/tag suggestions: ``bot.services.metadata``."""
    from bot.services import metadata

    assert {"category_rows", "tag_groups", "suggest_categories", "suggest_tags", "resolve_tags"} <= set(vars(metadata))
    assert "bot.services.metadata" in imported_modules(ROOT / "cogs" / "meta.py")
