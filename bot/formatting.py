"""Numbers and sizes as people read them (no Discord here: alerts and the CLI use it too)."""

from __future__ import annotations

import re
import unicodedata

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_SIZE_RE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([kmgtp]?)(i?)(b|o)?\s*$", re.IGNORECASE)
_FACTORS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def format_size(size: int, lang: str = "en") -> str:
    """Binary units, one decimal: ``1.5 GiB`` (``1,5 Gio`` in French)."""
    value = float(max(0, size))
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    text = f"{value:.0f}" if unit == 0 else f"{value:.1f}"
    label = _UNITS[unit]
    if lang == "fr":
        text = text.replace(".", ",")
        label = label.replace("B", "o")
    return f"{text}\u00a0{label}"


def parse_size(text: str) -> int | None:
    """``"700 MB"``, ``"4.5 GiB"``, ``"1,5 Go"``, ``"123"`` (bytes) → bytes; ``None`` if unreadable.

    Decimal (MB = 10^6) and binary (MiB = 2^20) units are both accepted, as people write both.
    """
    m = _SIZE_RE.match(text)
    if not m:
        return None
    number = float(m.group(1).replace(",", "."))
    prefix = m.group(2).lower()
    binary = bool(m.group(3))
    if prefix == "" and m.group(3):
        return None
    base = 1024 if binary else 1000
    return int(number * base ** _FACTORS[prefix])


#: Line breaks of every kind (\r\n, \r, \v, \f, NEL, U+2028/2029...), as ``str.splitlines``
#: knows them.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_BLANKS = re.compile(r"[^\S\n]+")


def clean_text(text: str, *, multiline: bool = False) -> str:
    """Untrusted text (a title, a query, a label) reduced to what it visibly says.

    Removes control characters (Unicode ``Cc``) and format characters (``Cf``: bidi
    overrides and isolates such as U+202E, zero-width spaces and joiners, the BOM, soft
    hyphens...), so ``Dune\u202eexe.4pm`` cannot read as ``Dune mp4.exe``, and surrogates.
    Line breaks and tabs become spaces and runs of blanks one space (``multiline``: line
    breaks are kept, as ``\n``, for verbatim text such as an NFO in a code block; tabs too).
    No Markdown escaping here (no Discord in this module): ``bot.ui.text.escape`` adds it.
    """
    if not text:
        return ""
    if text.isprintable():  # the usual title: no Cc/Cf/Zl/Zp, no tab, no line break
        return text if multiline or ("  " not in text and text.strip() == text) else _BLANKS.sub(" ", text).strip()
    text = _LINE_BREAKS.sub("\n", text)
    kept = []
    for ch in text:
        if ch == "\n" or ch == "\t":
            kept.append(ch if multiline else " ")
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs"):
            continue
        kept.append(ch)
    out = "".join(kept)
    if multiline:
        return out
    return _BLANKS.sub(" ", out.replace("\n", " ")).strip()
