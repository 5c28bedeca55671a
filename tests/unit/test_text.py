"""Untrusted text shown in Discord: one cleaning function (control and format characters
out, line breaks folded) under the one escaping function (Markdown and mentions)."""

from __future__ import annotations

import unicodedata

import pytest

from bot.formatting import clean_text
from bot.services.metadata import Suggestion, _fits
from bot.services.uploads.validation import code_span
from bot.ui.cards import code_block
from bot.ui.text import escape, inline_code, plain, safe_title

HOSTILE = [
    "\u202e",  # right-to-left override
    "\u202d",
    "\u202a",
    "\u202b",
    "\u202c",  # other embeddings/overrides
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",  # isolates
    "\u200e",
    "\u200f",
    "\u061c",  # direction marks
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",  # zero-width characters
    "\ufeff",  # BOM
    "\u00ad",  # soft hyphen
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x9b",  # C0/C1 controls
]


def invisible(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


@pytest.mark.parametrize("char", HOSTILE)
def test_control_and_format_characters_are_removed(char: str) -> None:
    assert clean_text(f"Dune{char}exe.4pm") == "Duneexe.4pm"
    assert invisible(clean_text(f"a{char}b", multiline=True)) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Dune\nPart\r\nTwo", "Dune Part Two"),
        ("a\tb\u2028c\u2029d\x85e\x0bf\x0cg", "a b c d e f g"),
        ("  spaced \n\n  out  ", "spaced out"),
        ("Le.Cœur.2024 — ½", "Le.Cœur.2024 — ½"),  # visible text is kept as is
        ("👨\u200d👩\u200d👧", "👨👩👧"),
        ("", ""),
    ],
)
def test_line_breaks_and_tabs_fold_to_spaces(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_multiline_keeps_line_breaks_and_tabs() -> None:
    assert clean_text("a\r\nb\rc\td\u202e", multiline=True) == "a\nb\nc\td"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("**bold** __u__ ~~s~~ `c` ||sp||", "\\*\\*bold\\*\\* \\_\\_u\\_\\_ \\~\\~s\\~\\~ \\`c\\` \\|\\|sp\\|\\|"),
        ("[click](http://evil.example)", "\\[click\\](http://evil.example)"),
        ("@everyone @here", "@\u200beveryone @\u200bhere"),
        (
            "<@123456789012345678> <@&1> <#2> <t:1700000000:R> </cmd:3>",
            "\\<@\u200b123456789012345678> \\<@&1> \\<#2> \\<t:1700000000:R> \\</cmd:3>",
        ),
        ("> quote", "\\> quote"),
        ("# title", "\\# title"),
        ("1. item", "1\\. item"),
        ("Dune\u202eexe.4pm\nnext", "Duneexe.4pm next"),
    ],
)
def test_escape_cleans_then_neutralises_markdown_and_mentions(raw: str, expected: str) -> None:
    assert escape(raw) == expected


def test_escape_leaves_no_hidden_character_but_its_own_mention_breaker() -> None:
    text = "".join(HOSTILE) + "**x** @everyone\n" + "".join(HOSTILE)
    out = escape(text)
    assert invisible(out.replace("@\u200beveryone", "")) == []
    assert out == "\\*\\*x\\*\\* @\u200beveryone"


def test_safe_title_is_clean_and_fits() -> None:
    title = safe_title("**Dune**\u202e\u200b\n" * 80, 256)
    assert len(title) <= 256 and invisible(title) == [] and "**" not in title.replace("\\*", "")


def test_inline_code_and_code_span_cannot_be_closed_or_reordered() -> None:
    assert inline_code("a`b\u202ec\nd") == "`a'bc d`"
    assert code_span("a`b\u202ec\nd") == "`a'bc d`"
    assert plain("1. **x**\u202e\ny", 100) == "1. **x** y"


@pytest.mark.parametrize("run", range(1, 12))
def test_nfo_code_block_cannot_break_out_of_its_fence(run: int) -> None:
    nfo = "line\n" + "`" * run + "\u200b`" * run + "@everyone **x**\u202e\r\nend"
    block = code_block(nfo)
    inner = block[len("```\n") : -len("\n```")]
    assert block.startswith("```\n") and block.endswith("\n```")
    assert "``" not in inner  # no two backticks side by side: no fence can form
    assert "\u202e" not in inner and "\r" not in inner and "\nend" in inner


def test_autocomplete_labels_are_clean() -> None:
    assert _fits("Films\u202e HD\n— films") == "Films HD — films"
    assert Suggestion(_fits("\u202e"), "x").label == "?"
