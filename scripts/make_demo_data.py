"""Build the `make demo` dataset: short clips of real signing, as folders of PNG frames.

Cuts six 12-frame clips, where Holistic finds hands, from the three ASL videos shipped in
tests/data/signing (sign-language-processing.github.io, CC BY 4.0; see tests/data/README.md)
into a plain frame-folder dataset with splits:

    DEST/train/different_1/images0001.png ... images0012.png
    DEST/train/different_2/...  DEST/dev/house_1/...  DEST/dev/house_2/...
    DEST/test/wrong_what_1/...  DEST/test/wrong_what_2/...

Frames are decoded with signpose's own video reader and written unchanged (320x240 RGB PNG,
no metadata), so the same repository gives the same bytes. DEST is rebuilt from scratch in a
temporary folder beside it and swapped in, so an interrupted build leaves no partial dataset.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import sys
from contextlib import closing
from pathlib import Path

from PIL import Image

from signpose.sources.video import iter_rgb_frames

REPO = Path(__file__).resolve().parent.parent
SIGNING = REPO / "tests" / "data" / "signing"
FRAMES_PER_CLIP = 12
# (split, clip id, video, first frame, 0-based): windows where Holistic (mediapipe 0.10.21,
# image mode) finds a hand in every frame or nearly; wrong_what is signed with one hand.
CLIPS: tuple[tuple[str, str, str, int], ...] = (
    ("train", "different_1", "slp_site_asl_different.mp4", 10),
    ("train", "different_2", "slp_site_asl_different.mp4", 30),
    ("dev", "house_1", "slp_site_asl_house.mp4", 26),
    ("dev", "house_2", "slp_site_asl_house.mp4", 38),
    ("test", "wrong_what_1", "slp_site_asl_wrong_what.mp4", 33),
    ("test", "wrong_what_2", "slp_site_asl_wrong_what.mp4", 45),
)
SOURCES = """\
Demo dataset made by scripts/make_demo_data.py: {clips} clips of {frames} frames, PNG frames
cut unchanged from real ASL videos in tests/data/signing (frame numbers 0-based):

{lines}

Videos: sign-language-processing/sign-language-processing.github.io,
src/assets/videos/original/ (commit f5738f0), licensed CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/); the repository's LICENSE:
"Copyright (c) 2026 Nagish Inc.". Change made: cut into frames.
"""


def build(dest: Path) -> tuple[int, str]:
    """Write the dataset to ``dest``; return the frame count and a sha256 of all frame files."""
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    digest = hashlib.sha256()
    lines = []
    for split, clip_id, video, first in CLIPS:
        folder = tmp / split / clip_id
        folder.mkdir(parents=True)
        count = 0
        with closing(iter_rgb_frames(SIGNING / video)) as decoded:  # closes the file when cut short
            for count, rgb in enumerate(itertools.islice(decoded, first, first + FRAMES_PER_CLIP), 1):
                path = folder / f"images{count:04d}.png"
                Image.fromarray(rgb).save(path, format="PNG", compress_level=6)
                digest.update(path.read_bytes())
        if count != FRAMES_PER_CLIP:
            sys.exit(f"{SIGNING / video}: has too few frames for {split}/{clip_id} (frames {first}-{first + FRAMES_PER_CLIP - 1})")
        lines.append(f"  {split}/{clip_id}: {video}, frames {first}-{first + FRAMES_PER_CLIP - 1}")
    total = len(CLIPS) * FRAMES_PER_CLIP
    text = SOURCES.format(clips=len(CLIPS), frames=FRAMES_PER_CLIP, lines="\n".join(lines))
    (tmp / "SOURCES.txt").write_text(text, encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return total, digest.hexdigest()


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/demo-data")
    frames, sha = build(out)
    splits = len({split for split, *_ in CLIPS})
    print(f"{out}: {len(CLIPS)} clips in {splits} splits, {frames} PNG frames cut from "
          f"tests/data/signing/slp_site_asl_*.mp4 (CC BY 4.0, see {out}/SOURCES.txt); frames sha256 {sha[:16]}")
