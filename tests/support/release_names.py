"""The parser accuracy dataset (tests/data/release_names_fr.tsv) and how it is scored.

Shared by the accuracy test (tests/unit/test_release_parser.py) and the benchmark
(benchmarks/release_parser.py), so both score the same way: a field is read correctly
when the parser's value equals the hand label, an empty label meaning "the name does not
say" (so reading something there is a miss too); languages compare as sets.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.releases import ReleaseInfo

DATASET = Path(__file__).resolve().parents[1] / "data" / "release_names_fr.tsv"
FIELDS = ("resolution", "source", "codec", "languages")


@dataclass(frozen=True, slots=True)
class LabelledName:
    name: str
    resolution: str | None
    source: str | None
    codec: str | None
    languages: frozenset[str]
    cited_from: str

    def expected(self, field_name: str) -> object:
        return getattr(self, field_name)


def load_release_names(path: Path = DATASET) -> list[LabelledName]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    rows = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    return [
        LabelledName(
            name=row["name"],
            resolution=row["resolution"] or None,
            source=row["source"] or None,
            codec=row["codec"] or None,
            languages=frozenset(value for value in row["languages"].split(",") if value),
            cited_from=row["cited_from"],
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Miss:
    name: str
    field: str
    expected: object
    read: object


@dataclass(slots=True)
class Score:
    total: int = 0
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    misses: list[Miss] = field(default_factory=list)

    def share(self, field_name: str) -> float:
        return self.correct[field_name] / self.total if self.total else 0.0


def score(names: Sequence[LabelledName], read: Callable[[str], ReleaseInfo]) -> Score:
    result = Score()
    for labelled in names:
        info = read(labelled.name)
        result.total += 1
        for field_name in FIELDS:
            expected, got = labelled.expected(field_name), getattr(info, field_name)
            if expected == got:
                result.correct[field_name] += 1
            else:
                result.misses.append(Miss(labelled.name, field_name, expected, got))
    return result
