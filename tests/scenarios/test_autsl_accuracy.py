"""Accuracy against an independent Holistic result: the AUTSL sample clip and the .pose the
sign-language-datasets project made for it (pixels). Run with -s to see the table.

Measured with mediapipe 0.10.21, video mode (the reference tracked too: pose-format's
loader uses static_image_mode=False), on 43 frames of 512x512:

    part        ours  ref  both  median px  p95 px
    body          43   43    43       4.58   48.39   (all 33 points; legs are off-screen guesses)
    body (vis)    43   43    43       3.68   13.42   (points with visibility >= 0.5 in both)
    face          43   43    43       0.01    0.04
    left hand     36   40    34       2.52   20.97
    right hand    43   43    43       1.30    3.33
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.testdata import locate, testdata  # AUTSL is research-use: only in ../shared/testdata

AUTSL = locate("signing", "autsl")
VIDEO = AUTSL / "signer0_sample1000_color.mp4"
REFERENCE = AUTSL / "signer0_sample1000.pose"
SIZES = {"pose": 33, "face": 468, "left_hand": 21, "right_hand": 21}
MIN_VISIBILITY = 0.5
# Bounds: the measurement above plus a margin for other CPUs' float differences.
MAX_BODY_MEDIAN_PX = 6.0  # visible body points
MAX_FACE_MEDIAN_PX = 2.0
MAX_HAND_MEDIAN_PX = 6.0

pytestmark = pytest.mark.slow  # real MediaPipe in a worker process


def reference_parts() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per part: pixel xy ``[frames, n, 2]`` and confidence ``[frames, n]`` of the reference."""
    from pose_format import Pose

    pose = Pose.read(REFERENCE.read_bytes())
    names = [component.name for component in pose.header.components]
    assert names[:4] == ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"]
    data = np.asarray(pose.body.data.data, dtype=np.float64)[:, 0, :, :2]
    confidence = np.asarray(pose.body.confidence, dtype=np.float64)[:, 0]
    xy, conf, start = {}, {}, 0
    for part, size in SIZES.items():
        xy[part], conf[part] = data[:, start : start + size], confidence[:, start : start + size]
        start += size
    return xy, conf


def distances(ours: np.ndarray, theirs: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    d = np.linalg.norm(ours - theirs, axis=-1)[mask]
    return float(np.median(d)), float(np.percentile(d, 95))


def test_autsl_against_reference(tmp_path: Path) -> None:
    testdata("signing", "autsl", VIDEO.name)  # skips, naming it, if absent
    testdata("signing", "autsl", REFERENCE.name)
    pytest.importorskip("mediapipe")  # measured with MediaPipe's video mode
    from signpose.backends import make_backend
    from signpose.datasets import open_dataset
    from signpose.estimators import EstimatorSpec
    from signpose.formats.pose import read_pose_file
    from signpose.extract.driver import extract
    from signpose.run.store import RunStore

    manifest = tmp_path / "autsl.csv"
    manifest.write_text(f"path,split,clip_id\n{VIDEO.resolve()},test,signer0_sample1000\n", encoding="utf-8")
    run = tmp_path / "run"
    summary = extract(open_dataset(manifest), run, EstimatorSpec.of("mediapipe", dict(mode="video")), make_backend("local", 1))
    assert not summary.failed
    record = RunStore(run).read_index()[("test", "signer0_sample1000")]
    assert (record.frames, record.width, record.height, record.frame_rate) == (43, 512, 512, "30/1")
    ours = read_pose_file(run / record.pose_file)
    theirs, confidence = reference_parts()

    rows, medians = [], {}
    for part in ("pose", "face", "left_hand", "right_hand"):
        xy = ours.part(part)[:, :, :2].astype(np.float64) * (ours.width, ours.height)
        ours_present = ours.part_present(part)
        ref_present = (confidence[part] > 0).any(axis=1)
        both = ours_present & ref_present
        mask = np.repeat(both[:, None], SIZES[part], axis=1)
        label = part.replace("_", " ").replace("pose", "body")
        counts = (int(ours_present.sum()), int(ref_present.sum()), int(both.sum()))
        medians[label] = distances(xy, theirs[part], mask)
        rows.append((label, *counts, *medians[label]))
        if part == "pose":
            visible = mask & (ours.part_confidence(part) >= MIN_VISIBILITY) & (confidence[part] >= MIN_VISIBILITY)
            medians["body (vis)"] = distances(xy, theirs[part], visible)
            rows.append(("body (vis)", *counts, *medians["body (vis)"]))
    table = "part        ours  ref  both  median px  p95 px\n" + "".join(
        f"{name:<11} {o:>4} {r:>4} {b:>5} {median:>10.2f} {p95:>7.2f}\n" for name, o, r, b, median, p95 in rows
    )
    print("\nAUTSL signer0_sample1000, signpose (video mode) vs reference .pose\n" + table)
    (tmp_path / "autsl_accuracy.txt").write_text(table, encoding="utf-8")

    assert medians["body (vis)"][0] <= MAX_BODY_MEDIAN_PX
    assert medians["face"][0] <= MAX_FACE_MEDIAN_PX
    for name, ours_count, ref_count, *_ in rows:
        if "hand" in name:
            assert abs(ours_count - ref_count) <= max(5, 0.2 * ref_count), name
            assert medians[name][0] <= MAX_HAND_MEDIAN_PX, name

    # The same question through `signpose verify`: a folder holding the reference file (format
    # v0.1, XYZKC, 4 components) is read, matched by part and point name, and compared.
    from signpose.tools.verify import compare_sources

    reference = tmp_path / "reference" / "test"
    reference.mkdir(parents=True)
    (reference / "signer0_sample1000.pose").write_bytes(REFERENCE.read_bytes())
    report = compare_sources(run, tmp_path / "reference", atol=1e-4)
    assert report.kind_b == "pose folder" and not report.equal
    split = report.splits[0]
    assert (split.frames_a, split.frames_b, split.clips_a, split.clips_b) == (43, 43, 1, 1)
    parts = {p.part: p for p in split.parts}
    assert list(parts) == ["pose", "face", "left_hand", "right_hand", "pose_world"]
    assert parts["pose_world"].only_a == 43  # the older file has no world landmarks
    assert parts["face"].both == 43 and parts["face"].over_atol > 0 and parts["face"].shape_mismatches == 0
    assert "face differs beyond atol" in report.to_text()
