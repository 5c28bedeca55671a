"""The fake Discord checks bodies against Discord's own OpenAPI description, read at test
time from outside the project: the spec is never copied into the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.discord import spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not spec.available(), reason=f"Discord's OpenAPI description not found (set {spec.SPEC_ENV})")
def test_the_spec_is_read_from_outside_the_repository() -> None:
    path = spec.spec_path()
    assert path is not None
    path = path.resolve()
    assert not path.is_relative_to(ROOT), path
    assert "CreateForumThreadRequest" in spec.schemas()


def test_no_copy_of_discords_schemas_in_the_repository() -> None:
    copies = [
        p.relative_to(ROOT)
        for p in ROOT.rglob("*.json")
        if ".venv" not in p.parts
        and "node_modules" not in p.parts
        and '"SnowflakeType"' in p.read_text(errors="ignore")
    ]
    assert not copies, copies
