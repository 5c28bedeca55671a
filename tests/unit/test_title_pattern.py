"""The ``regex`` criterion's engine (bot/releases/pattern.py): RE2, linear time."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.limits import PATTERN_MAX
from bot.releases import pattern as pattern_module
from bot.releases.pattern import PatternError, PatternProblem, TitlePattern

ROOT = Path(__file__).resolve().parents[2]


def test_search_is_case_insensitive_and_unanchored() -> None:
    multi_4k = TitlePattern.compile(r"multi.*(2160p|4k)")
    assert multi_4k.search("Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP")
    assert multi_4k.search("dune part two 2024 multi 4K web")
    assert not multi_4k.search("Dune.Part.Two.2024.VOSTFR.1080p.WEB.H264-GRP")
    anchored = TitlePattern.compile(r"^Dune\.")
    assert anchored.search("Dune.2021.MULTi.1080p") and not anchored.search("The.Dune.2021")
    assert TitlePattern.compile(r"-(QTZ|FW)$").search("Movie.2024.MULTi.1080p.WEB.H264-FW")
    assert TitlePattern.compile("  S01E0[1-3]  ").source == "S01E0[1-3]"


def test_a_catastrophic_backtracking_pattern_completes() -> None:
    """``(a+)+$`` against 'a'*50_000 + 'b' takes Python's ``re`` longer than the age of
    the universe; RE2 answers in linear time. (No timing assertion: completing is the test.)"""
    evil = TitlePattern.compile("(a+)+$")
    assert evil.search("a" * 50_000 + "b") is False
    assert TitlePattern.compile("(x+x+)+y").search("x" * 50_000) is False
    assert TitlePattern.compile("(.*a){12}").search("a" * 11 + "b" * 50_000) is False


def test_pythons_re_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("Python's re was used")

    for name in ("compile", "search", "match", "fullmatch"):
        monkeypatch.setattr(re, name, refuse)
    pattern = TitlePattern.compile("(a+)+$")
    assert not pattern.search("a" * 1000 + "b")
    assert type(pattern._compiled).__module__.startswith("re2")
    tree = ast.parse((ROOT / "bot" / "releases" / "pattern.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "re" not in imported and "re2" in imported
    assert pattern_module.re2 is not re


@pytest.mark.parametrize(
    ("pattern", "problem", "detail"),
    [
        ("(a", PatternProblem.PARENTHESES, "missing ): (a"),
        ("a)", PatternProblem.PARENTHESES, "unexpected ): a)"),
        ("[a", PatternProblem.BRACKETS, "missing ]: [a"),
        ("[z-a]", PatternProblem.BRACKETS, "invalid character class range: z-a"),
        ("*a", PatternProblem.REPETITION, "no argument for repetition operator: *"),
        ("a{2000}", PatternProblem.REPETITION, "invalid repetition size: {2000}"),
        ("MULTi(?=.*1080p)", PatternProblem.UNSUPPORTED, "invalid perl operator: (?="),
        ("(?<!VOST)FR", PatternProblem.UNSUPPORTED, "invalid perl operator: (?<!"),
        (r"(a)\1", PatternProblem.UNSUPPORTED, "invalid escape sequence: \\1"),
        ("a\\", PatternProblem.ESCAPE, "trailing \\"),
        (r"\q", PatternProblem.ESCAPE, "invalid escape sequence: \\q"),
    ],
)
def test_invalid_patterns_are_refused_with_a_precise_reason(pattern: str, problem: PatternProblem, detail: str) -> None:
    with pytest.raises(PatternError) as refused:
        TitlePattern.compile(pattern)
    assert refused.value.problem is problem
    assert refused.value.detail == detail
    assert refused.value.limit is None


def test_empty_and_too_long_patterns_are_refused() -> None:
    for empty in ("", "   "):
        with pytest.raises(PatternError) as refused:
            TitlePattern.compile(empty)
        assert refused.value.problem is PatternProblem.EMPTY
    assert TitlePattern.compile("a" * PATTERN_MAX).search("a" * PATTERN_MAX)
    with pytest.raises(PatternError) as refused:
        TitlePattern.compile("a" * (PATTERN_MAX + 1))
    assert refused.value.problem is PatternProblem.TOO_LONG and refused.value.limit == PATTERN_MAX == 200


def test_a_pattern_too_large_to_compile_is_refused() -> None:
    with pytest.raises(PatternError) as refused:
        TitlePattern.compile(r"[\p{L}\d]{1000}[\p{L}\d]{1000}[\p{L}\d]{1000}")
    assert refused.value.problem is PatternProblem.TOO_COMPLEX
