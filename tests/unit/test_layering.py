"""bot/services, bot/lacale, bot/db, bot/criteria and bot/releases never import discord.py: the
logic of the bot stays testable and reusable without Discord (the cogs and bot/ui translate
between the two).

Checked twice: in the source (a direct ``import discord``/``from discord...``, even inside
a function), and at run time (every module of those packages imported in a fresh
interpreter where ``discord`` cannot be imported, so an indirect import fails too)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot/services", "bot/lacale", "bot/db", "bot/criteria", "bot/releases")


def _modules() -> list[tuple[Path, str]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)))
    return found


def _imports_discord(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name == "discord" or a.name.startswith("discord.") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return (
            node.level == 0
            and node.module is not None
            and (node.module == "discord" or node.module.startswith("discord."))
        )
    return False


def test_the_walk_sees_the_packages() -> None:
    names = {name for _, name in _modules()}
    assert {
        "bot.services.alerts.pipeline",
        "bot.services.guilds",
        "bot.lacale.client",
        "bot.db.models",
        "bot.criteria.criteria",
        "bot.releases.parse",
    } <= names


def test_no_source_imports_discord() -> None:
    found = []
    for path, _ in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if _imports_discord(node):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")  # type: ignore[attr-defined]
    assert found == []


_CHILD = """
import importlib, json, sys
sys.modules["discord"] = None  # ``import discord`` (and discord.*) now raises ImportError
failed = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"failed": failed, "discord": sorted(m for m in sys.modules if m.startswith("discord.") and sys.modules[m] is not None)}))
"""


def test_no_module_needs_discord_at_run_time() -> None:
    names = [name for _, name in _modules()]
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(names)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(out.stdout)
    assert result == {"failed": {}, "discord": []}


def test_the_check_catches_an_indirect_import(tmp_path: Path) -> None:
    """The run-time check fails for a module that imports discord through another one."""
    (tmp_path / "layer_probe_a.py").write_text("import layer_probe_b\n")
    (tmp_path / "layer_probe_b.py").write_text("from discord import Embed\n")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + _CHILD,
            json.dumps(["layer_probe_a"]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert list(json.loads(out.stdout)["failed"]) == ["layer_probe_a"]
    assert _imports_discord(ast.parse("from discord.ext import commands").body[0])
    assert _imports_discord(ast.parse("import discord.utils as u").body[0])
    assert not _imports_discord(ast.parse("from bot.observability import discord_http").body[0])
