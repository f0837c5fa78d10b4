"""A run as one self-contained HTML page: provenance, detection rates per split, the clips
with the fewest hands (with a contact sheet each), failed clips and failed frames.

Everything is inline (CSS, an SVG chart, images as data URIs), so the file can be mailed
or archived and opens offline. The index is streamed; only the thumbnails' clips are read,
and their contact sheets are drawn in memory. The page is written through the run store's
atomic writer: it appears whole, or not at all.
"""

from __future__ import annotations

import base64
import heapq
import html
import io
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signpose.errors import SourceError
from signpose.run.guard import check_output_path
from signpose.run.reader import RunReader
from signpose.run.record import ClipStatus
from signpose.run.store import INDEX, RUN_INFO, atomic_open, compute_stats
from signpose.tools.inputs import RunInput, trusted
from signpose.tools.render import COLOURS, OTHER_COLOUR, contact_sheet

PART_LABELS = {"pose": "body", "face": "face", "left_hand": "left hand", "right_hand": "right hand", "pose_world": "body (world)"}
HANDS = ("left_hand", "right_hand")
THUMB_FRAMES = 6
THUMB_WIDTH = 560
MAX_LISTED = 200  # failed clips / frames shown; the rest are counted
MAX_FRAME_ERRORS = 3  # per clip

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #ddd;padding:8px;width:560px}.card img{width:100%;display:block}
.err{color:#a00}.muted{color:#777}
"""


ReportError = SourceError  # the folder is not a signpose run (or cannot be read)


def _label(part: str) -> str:
    return PART_LABELS.get(part, part.replace("_", " "))


def _colour(part: str) -> str:
    return "#%02x%02x%02x" % COLOURS.get(part, OTHER_COLOUR)


@dataclass(frozen=True)
class ReportSummary:
    out: Path
    clips: int
    failed_clips: int
    clips_with_failed_frames: int
    thumbnails: int
    bytes: int


@dataclass(frozen=True)
class _Row:
    """What the report needs of one index line (never its frame names)."""

    order: int
    split: str
    clip_id: str
    ok: bool
    frames: int
    detected: dict[str, int]  # by part name
    failed_frames: int
    error: str
    frame_errors: tuple[tuple[str, str], ...]

    @property
    def rated(self) -> tuple[str, ...]:
        """The parts "lowest detection" looks at: the hands where the layout has them."""
        return tuple(part for part in HANDS if part in self.detected) or tuple(self.detected)

    @property
    def hand_rate(self) -> float:
        parts = self.rated
        return sum(self.detected[p] for p in parts) / (len(parts) * self.frames) if self.frames and parts else 0.0


def _rows(reader: RunReader) -> list[_Row]:
    return [
        _Row(
            order, r.split, r.clip_id, r.status is ClipStatus.OK, r.frames, dict(r.detected), r.failed_frames,
            r.error or "", tuple((f.frame, f.error) for f in r.frame_failures[:MAX_FRAME_ERRORS]),
        )
        for order, r in enumerate(reader.records)
    ]


def _parts(stats: dict[str, dict[str, int]]) -> list[str]:
    prefix = "frames_with_"
    return list(dict.fromkeys(key[len(prefix):] for s in stats.values() for key in s if key.startswith(prefix)))


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[Any]], numeric: Collection[int] = ()) -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr>" if any(headers) else ""
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table>{head}{body}</table>"


RUN_FIELDS: tuple[tuple[str, str], ...] = (
    ("dataset_root", "dataset"), ("layout", "dataset layout"), ("splits", "splits"), ("status", "status"),
    ("started", "started"), ("finished", "finished"), ("elapsed_seconds", "elapsed (s)"),
    ("processing_seconds", "processing time (s, start to last clip)"),
    ("clips_total", "clips"), ("clips_processed", "clips processed"), ("clips_skipped", "clips already done"),
    ("clips_retried", "clips retried"), ("frames_processed", "frames processed"),
    ("frames_per_second", "frames/s (whole run, start-up included: low for small runs)"),
    ("backend", "backend"), ("workers", "workers"), ("signpose_version", "signpose"),
    ("pose_format_version", "pose-format"), ("python_version", "python"),
)
MACHINE_FIELDS = {"cpu": "CPU", "cores": "cores", "vector_extensions": "vector extensions", "system": "system"}


def _cell(value: Any) -> Any:
    return ", ".join(map(str, value)) if isinstance(value, list) else value


def _provenance(info: dict[str, Any]) -> str:
    rows = [[label, _cell(info[key])] for key, label in RUN_FIELDS if key in info]
    machine = info.get("machine") if isinstance(info.get("machine"), dict) else {}
    rows += [[f"machine: {label}", _cell(machine[key])] for key, label in MACHINE_FIELDS.items() if key in machine]
    known = {key for key, _ in RUN_FIELDS} | {"estimator", "machine"}
    rows += [[key.replace("_", " "), json.dumps(value)] for key, value in info.items() if key not in known]
    estimator = info.get("estimator") if isinstance(info.get("estimator"), dict) else {}
    params = estimator.get("params") if isinstance(estimator.get("params"), dict) else {}
    provenance = dict(estimator.get("provenance") or {}) if isinstance(estimator.get("provenance"), dict) else {}
    models = provenance.pop("model_sha256", None)
    models = models if isinstance(models, dict) else {}
    options = [["estimator", estimator.get("name", "?")]] + [[key.replace("_", " "), value] for key, value in params.items()]
    options += [[key.replace("_", " "), _cell(value)] for key, value in provenance.items()]
    digests = "".join(f"<tr><td>{_e(name)}</td><td><code>{_e(digest)}</code></td></tr>" for name, digest in models.items())
    return (
        "<h2>Run</h2>" + _table(["", ""], rows)
        + "<h3>Estimator</h3>" + _table(["option", "value"], options)
        + f"<h3>Models (sha256)</h3><table><tr><th>file</th><th>sha256</th></tr>{digests}</table>"
    )


def _rates(stats: dict[str, dict[str, int]], parts: list[str]) -> dict[str, list[float]]:
    return {split: [s.get(f"frames_with_{part}", 0) / s["frames"] if s.get("frames") else 0.0 for part in parts] for split, s in stats.items()}


def _chart(rates: dict[str, list[float]], parts: list[str]) -> str:
    """Grouped bars, one group per split: what share of frames each part was found in.
    Bars are wide enough for their "100%" label, so labels never run into each other."""
    bar, gap, top, plot_h, left = 32, 26, 20, 200, 44
    width = left + max(1, len(rates)) * (len(parts) * bar + gap) + 160
    height = top + plot_h + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="detection rate per split">']
    for tick in range(0, 101, 25):
        y = top + plot_h - tick * plot_h / 100
        out.append(f'<line x1="{left}" x2="{width - 160}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end">{tick}%</text>')
    for g, (split, values) in enumerate(rates.items()):
        x0 = left + gap / 2 + g * (len(parts) * bar + gap)
        for p, (part, value) in enumerate(zip(parts, values)):
            h = value * plot_h
            colour = _colour(part)
            out.append(
                f'<rect x="{x0 + p * bar}" y="{top + plot_h - h:.1f}" width="{bar - 3}" height="{h:.1f}" fill="{colour}" stroke="#555" stroke-width="0.5">'
                f"<title>{_e(split)}: {_e(_label(part))} {value:.1%}</title></rect>"
                f'<text x="{x0 + p * bar + (bar - 3) / 2}" y="{top + plot_h - h - 3:.1f}" font-size="9" text-anchor="middle">{value:.0%}</text>'
            )
        out.append(f'<text x="{x0 + len(parts) * bar / 2}" y="{top + plot_h + 18}" font-size="12" text-anchor="middle">{_e(split)}</text>')
    for p, part in enumerate(parts):
        y = top + 10 + p * 20
        out.append(f'<rect x="{width - 140}" y="{y - 10}" width="12" height="12" fill="{_colour(part)}" stroke="#555" stroke-width="0.5"/><text x="{width - 122}" y="{y}" font-size="12">{_e(_label(part))}</text>')
    return "".join(out) + "</svg>"


def _detection(stats: dict[str, dict[str, int]]) -> str:
    parts = _parts(stats)
    rates = _rates(stats, parts)
    rows = [
        [split, s.get("clips", 0), s.get("frames", 0), s.get("failed_clips", 0), s.get("failed_frames", 0), *(f"{r:.1%}" for r in rates[split])]
        for split, s in stats.items()
    ]
    headers = ["split", "clips", "frames", "failed clips", "failed frames", *(_label(p) for p in parts)]
    return "<h2>Detection per split</h2><p>Share of frames in which each part was detected.</p>" + _chart(rates, parts) + _table(headers, rows, set(range(1, 5 + len(parts))))


def _thumbnail(source: RunInput, row: _Row) -> str:
    """A contact sheet as a JPEG data URI, or the reason there is none."""
    from PIL import Image

    try:
        clip = source.find(row.clip_id, row.split)
        keypoints = trusted(source, clip)
        try:
            sheet = contact_sheet(clip.record, keypoints, frames=THUMB_FRAMES)
        except SourceError:  # the dataset may have moved since the run: the keypoints alone still tell a lot
            sheet = contact_sheet(clip.record, keypoints, frames=THUMB_FRAMES, no_video=True)
    except SourceError as error:
        return f'<p class="err">{_e(error)}</p>'
    image = Image.fromarray(sheet)
    if image.width > THUMB_WIDTH:
        image = image.resize((THUMB_WIDTH, round(image.height * THUMB_WIDTH / image.width)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{_e(row.split)}/{_e(row.clip_id)}" src="data:image/jpeg;base64,{data}">'


def _lowest(run: Path, rows: list[_Row], count: int) -> tuple[str, int]:
    chosen = heapq.nsmallest(count, (r for r in rows if r.ok and r.frames), key=lambda r: (r.hand_rate, r.order))
    if not chosen:
        return "<h2>Lowest hand detection</h2><p class=\"muted\">No clips.</p>", 0
    source = RunInput(run)
    cards = []
    for row in chosen:
        counts = ", ".join(f"{_label(part)} {row.detected[part]}" for part in row.rated)
        cards.append(
            f'<div class="card"><b>{_e(row.split)}/{_e(row.clip_id)}</b> — detected in {row.hand_rate:.0%} '
            f"({_e(counts)} of {row.frames} frames){_thumbnail(source, row)}</div>"
        )
    return (f"<h2>Lowest hand detection</h2><p>The {len(chosen)} clip(s) with the smallest share of frames with each hand (left + right hand frames) / (2 × frames).</p>"
            f'<div class="cards">{"".join(cards)}</div>'), len(chosen)


def _failures(rows: list[_Row]) -> tuple[str, int, int]:
    failed = [r for r in rows if not r.ok]
    partial = [r for r in rows if r.failed_frames]

    def more(items: list) -> str:
        return f'<p class="muted">… and {len(items) - MAX_LISTED} more (see {INDEX}).</p>' if len(items) > MAX_LISTED else ""

    text = f"<h2>Failed clips ({len(failed)})</h2>"
    text += _table(["split", "clip", "error"], [[r.split, r.clip_id, r.error] for r in failed[:MAX_LISTED]]) + more(failed) if failed else '<p class="muted">None.</p>'
    text += f"<h2>Clips with failed frames ({len(partial)})</h2>"
    rows_ = [[r.split, r.clip_id, r.failed_frames, "; ".join(f"{f}: {e}" for f, e in r.frame_errors)] for r in partial[:MAX_LISTED]]
    text += _table(["split", "clip", "failed frames", "first errors"], rows_, {2}) + more(partial) if partial else '<p class="muted">None.</p>'
    return text, len(failed), len(partial)


def write_report(run: Path, out: Path, lowest: int = 8) -> ReportSummary:
    """Write the HTML report of ``run`` to ``out``; ``lowest`` thumbnails of the clips with
    the least hand detection."""
    run, out = Path(run), Path(out)
    if not (run / RUN_INFO).is_file() or not (run / INDEX).is_file():
        raise ReportError(f"{run}: not a signpose run (needs {RUN_INFO} and {INDEX})")
    if lowest < 0:
        raise ReportError(f"lowest must be 0 or more, not {lowest}")
    check_output_path(out)  # never over a run's own files
    if out.is_dir():
        raise ReportError(f"{out}: is a folder; give the file to write, such as {out / 'report.html'}")
    reader = RunReader(run)
    try:
        info = reader.run_info() or {}
        rows = _rows(reader)
        # a run killed before it finished has no stats yet: count them from the index
        stats = reader.stats() or compute_stats(reader.records)
    except OSError as error:
        raise ReportError(f"{run}: cannot read the run ({error})") from error
    lowest_html, thumbnails = _lowest(run, rows, lowest)
    failures_html, failed, partial = _failures(rows)
    title = f"signpose report: {run.name}"
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>"
        f'<p class="muted">{_e(run.absolute())} — {len(rows)} clips, {failed} failed</p>'
        + _provenance(info) + _detection(stats) + lowest_html + failures_html + "</body></html>\n"
    )
    data = page.encode("utf-8")
    try:
        with atomic_open(out) as handle:
            handle.write(data)
    except OSError as error:
        raise ReportError(f"{out}: cannot write ({error.strerror or error})") from error
    return ReportSummary(out, len(rows), failed, partial, thumbnails, len(data))
