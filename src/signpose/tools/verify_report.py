"""What ``signpose verify`` found: per split, frames and clips on each side, per part the
frames detected on both / one / neither side and the largest difference, stats, and bad
files; as text for people and as JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

SourceKind = Literal["run folder", "pose folder", "pickle", "parquet"]
Part = str


@dataclass(frozen=True)
class Examples:
    """How many items there are, and the first few of them."""

    count: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class PartReport:
    part: Part
    both: int  # frames where A and B both detected the part
    only_a: int
    only_b: int
    neither: int
    max_abs_diff: float | None  # over frames detected in both; None if there are none
    max_diff_at: str | None  # image path (A's) of the frame where it occurs, if non-zero
    over_atol: int  # frames detected in both whose largest difference exceeds atol
    shape_mismatches: int  # frames detected in both whose arrays differ in shape


@dataclass(frozen=True)
class SplitReport:
    split: str
    in_a: bool
    in_b: bool
    frames_a: int
    frames_b: int
    clips_a: int
    clips_b: int
    missing_in_b: Examples  # image paths of A's frames that B lacks
    extra_in_b: Examples
    parts: tuple[PartReport, ...]
    stats_a: Mapping[str, Any] | None
    stats_b: Mapping[str, Any] | None
    problems_a: Examples  # .pose files missing, unreadable or not matching their checksum
    problems_b: Examples

    @property
    def stats_equal(self) -> bool:
        return self.stats_a == self.stats_b

    @property
    def reasons(self) -> tuple[str, ...]:
        checks = [
            (self.in_a != self.in_b, f"only in {'A' if self.in_a else 'B'}"),
            (self.missing_in_b.count, f"{self.missing_in_b.count} frames missing in B"),
            (self.extra_in_b.count, f"{self.extra_in_b.count} extra frames in B"),
        ]
        for p in self.parts:
            checks += [
                (p.only_a + p.only_b, f"{p.part} detected on one side only in {p.only_a + p.only_b} frames"),
                (p.shape_mismatches, f"{p.part} shape differs in {p.shape_mismatches} frames"),
                (p.over_atol, f"{p.part} differs beyond atol in {p.over_atol} frames (max {p.max_abs_diff or 0:.3g})"),
            ]
        checks.append((not self.stats_equal, "stats differ"))
        for side, bad in (("A", self.problems_a), ("B", self.problems_b)):
            checks.append((bad.count, f"{bad.count} .pose files in {side} fail their checksum or cannot be read"))
        return tuple(message for failed, message in checks if failed)


@dataclass(frozen=True)
class VerifyReport:
    a: str
    b: str
    kind_a: SourceKind
    kind_b: SourceKind
    atol: float
    splits: tuple[SplitReport, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f"split {s.split!r}: {reason}" for s in self.splits for reason in s.reasons)

    @property
    def equal(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        record = _finite(asdict(self))
        return record | {"equal": self.equal, "reasons": list(self.reasons)}

    def to_text(self) -> str:
        lines = [f"A: {self.a} ({self.kind_a})", f"B: {self.b} ({self.kind_b})", f"atol: {self.atol:g}", ""]
        for split in self.splits:
            lines += _split_text(split) + [""]
        reasons = self.reasons
        shown = "; ".join(reasons[:8]) + (f"; and {len(reasons) - 8} more" if len(reasons) > 8 else "")
        lines.append("RESULT: EQUAL" if not reasons else f"RESULT: DIFFERENT ({shown})")
        return "\n".join(line.rstrip() for line in lines)


def _finite(value: Any) -> Any:
    """JSON has no inf/nan: spell them as strings."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def _examples_text(label: str, examples: Examples) -> list[str]:
    more = f" (first {len(examples.examples)} shown)" if examples.count > len(examples.examples) else ""
    return [f"  {label}: {examples.count}{more}"] + [f"    {item}" for item in examples.examples]


def _split_text(s: SplitReport) -> list[str]:
    where = "" if s.in_a and s.in_b else f" -- only in {'A' if s.in_a else 'B'}"
    counts = f"frames: A {s.frames_a}, B {s.frames_b}; clips: A {s.clips_a}, B {s.clips_b}"
    lines = [f"split {s.split!r}{where}", f"  {counts}"]
    lines += _examples_text("frames missing in B", s.missing_in_b) + _examples_text("extra frames in B", s.extra_in_b)
    header = f"{'both':>8}{'only A':>8}{'only B':>8}{'neither':>9}{'max |diff|':>12}{'> atol':>8}"
    lines.append(f"  {'part':<11}{header}  at (A's frame with the max)")
    for p in s.parts:
        diff = "-" if p.max_abs_diff is None else f"{p.max_abs_diff:.3g}"
        shape = f" [shape differs in {p.shape_mismatches}]" if p.shape_mismatches else ""
        counts = f"{p.both:>8}{p.only_a:>8}{p.only_b:>8}{p.neither:>9}{diff:>12}{p.over_atol:>8}"
        lines.append(f"  {p.part:<11}{counts}  {p.max_diff_at or ''}{shape}")
    sa, sb = s.stats_a or {}, s.stats_b or {}
    changed = ", ".join(f"{k} A={sa.get(k)} B={sb.get(k)}" for k in sorted({*sa, *sb}) if sa.get(k) != sb.get(k))
    lines.append("  stats: equal" if s.stats_equal else f"  stats: differ ({changed or 'missing on one side'})")
    lines += _examples_text("bad .pose files in A", s.problems_a) + _examples_text("bad .pose files in B", s.problems_b)
    return lines
