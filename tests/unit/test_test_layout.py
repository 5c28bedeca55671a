"""The test tree is laid out like the source, so a newcomer knows where a test goes.

- tests/unit: pure logic, no service started;
- tests/integration: services run against the fakes or a real database (SQLite, PostgreSQL);
- tests/e2e: the real bot logged into the fake Discord (the `world` fixture);
- tests/fakes: the fake La Cale and the fake Discord (a package) themselves (their own tests live in
  e2e);
- tests/support: shared helpers (PostgreSQL server, alert harness, torrent factory), no tests;
- tests/data: data files the tests read (the parser's labelled release names), no code.

A test file anywhere else (at the root of tests/, in a new folder, or in support/)
fails here, so the tree cannot drift back.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
TEST_FOLDERS = {"unit", "integration", "e2e", "fakes"}
HELPER_FOLDERS = {"support"}
DATA_FOLDERS = {"data"}


def _test_files() -> list[Path]:
    """Every file pytest would collect under tests/ (its default `test_*.py` / `*_test.py`)."""
    return sorted(
        p
        for p in TESTS.rglob("*.py")
        if "__pycache__" not in p.parts and (p.name.startswith("test_") or p.name.endswith("_test.py"))
    )


def test_no_test_file_outside_the_four_folders() -> None:
    misplaced = [
        str(p.relative_to(TESTS))
        for p in _test_files()
        if len(p.relative_to(TESTS).parts) < 2 or p.relative_to(TESTS).parts[0] not in TEST_FOLDERS
    ]
    assert not misplaced, f"test files must live in tests/{{{','.join(sorted(TEST_FOLDERS))}}}/: {misplaced}"


def test_tests_root_holds_only_the_known_folders() -> None:
    """No helper module or stray folder at the root either: helpers go to tests/support/."""
    allowed = TEST_FOLDERS | HELPER_FOLDERS | DATA_FOLDERS | {"__init__.py", "__pycache__", "conftest.py"}
    stray = sorted(p.name for p in TESTS.iterdir() if p.name not in allowed and not p.name.startswith("."))
    assert not stray, (
        f"unexpected entries at the root of tests/: {stray} (tests go to {sorted(TEST_FOLDERS)}, helpers to tests/support/)"
    )


def test_the_folders_are_packages() -> None:
    """`from tests.support.postgres import ...` and the fixture imports rely on these being packages."""
    missing = [name for name in sorted(TEST_FOLDERS | HELPER_FOLDERS) if not (TESTS / name / "__init__.py").is_file()]
    assert not missing, f"missing __init__.py in tests/{missing}"


#: The fake Discord grew to 4,000 lines in one file; it is a package of one module per concern.
#: A module past this size is a concern that wants a module of its own.
FAKE_MODULE_MAX_LINES = 800


def test_fake_discord_is_a_package_of_modest_modules() -> None:
    fakes = TESTS / "fakes"
    assert not (fakes / "discord.py").exists(), "the fake Discord is the package tests/fakes/discord/, not one file"
    package = fakes / "discord"
    assert (package / "__init__.py").is_file()
    too_long = {
        p.name: n
        for p in sorted(package.glob("*.py"))
        if (n := len(p.read_text().splitlines())) > FAKE_MODULE_MAX_LINES
    }
    assert not too_long, f"split these fake Discord modules by concern (max {FAKE_MODULE_MAX_LINES} lines): {too_long}"


def test_data_folders_hold_no_code() -> None:
    """tests/data holds data only: a module there would be a helper out of tests/support."""
    code = sorted(str(p.relative_to(TESTS)) for name in DATA_FOLDERS for p in (TESTS / name).rglob("*.py"))
    assert not code, f"tests/data holds data files only; helpers go to tests/support/: {code}"
