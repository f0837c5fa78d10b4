"""One-line progress text for a run: clips, frames, frames/s and ETA."""

from __future__ import annotations

from signpose.extract.driver import Progress


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def format_progress(progress: Progress, width: int = 24) -> str:
    total = max(progress.clips_total, 1)
    filled = int(width * progress.clips_done / total)
    rate = progress.frames_done / progress.elapsed if progress.elapsed > 0 else 0.0
    if progress.clips_done and progress.clips_done < progress.clips_total:
        eta = _duration(progress.elapsed / progress.clips_done * (progress.clips_total - progress.clips_done))
    else:
        eta = "--:--" if progress.clips_done < progress.clips_total else _duration(0)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {progress.clips_done}/{progress.clips_total} clips"
        f" | {progress.frames_done} frames | {rate:.1f} frames/s | ETA {eta}"
    )
