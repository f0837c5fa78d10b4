from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from signpose.cli.main import main
from signpose.tools.export.keypoints_pickle import export_pickle
from signpose.formats.pose import read_pose_file
from signpose.errors import SourceError, UnsafePickleError
from signpose.tools.verify import SplitReport, VerifyReport, compare_sources
from tests.runs_builder import (
    ClipSpec,
    build_run,
    make_keypoints,
    pickle_dict,
    standard_clips,
    with_point,
    without_part,
)

HEUTE = "01April_2010_Thursday_heute-6694"


def part(split: SplitReport, name: str):
    return next(p for p in split.parts if p.part == name)


def by_split(report: VerifyReport) -> dict[str, SplitReport]:
    return {s.split: s for s in report.splits}


def changed(clips: list[ClipSpec], clip_id: str, change) -> list[ClipSpec]:
    return [ClipSpec(c.split, c.clip_id, change(c.keypoints), c.frame_names) if c.clip_id == clip_id else c for c in clips]


@pytest.fixture
def run_a(tmp_path) -> Path:
    return build_run(tmp_path / "a", standard_clips())


def test_identical_runs_are_equal(run_a, tmp_path):
    run_b = build_run(tmp_path / "b", standard_clips(), source_root="/mnt/elsewhere/phoenix")
    report = compare_sources(run_a, run_b)
    assert report.equal, report.to_text()
    train = by_split(report)["train"]
    assert (train.frames_a, train.frames_b, train.clips_a, train.clips_b) == (10, 10, 2, 2)
    for p in train.parts:
        assert p.both + p.only_a + p.only_b + p.neither == 10
        assert p.max_abs_diff == 0.0 and p.over_atol == 0 and p.max_diff_at is None
    assert part(train, "pose").both >= 2 and part(train, "pose").neither >= 2  # frame 0 all, last frame none
    assert report.to_text().splitlines()[-1] == "RESULT: EQUAL"
    json.dumps(report.to_json())


def test_one_coordinate_off_by_1e7(run_a, tmp_path):
    clips = changed(standard_clips(), HEUTE, lambda kp: with_point(kp, 0, "pose", 3, 1e-7))
    run_b = build_run(tmp_path / "b", clips)
    original = read_pose_file(run_a / "train" / f"{HEUTE}.pose").points
    assert not np.array_equal(original, read_pose_file(run_b / "train" / f"{HEUTE}.pose").points)
    strict = compare_sources(run_a, run_b)
    assert not strict.equal
    pose = part(by_split(strict)["train"], "pose")
    assert pose.over_atol == 1 and 0 < pose.max_abs_diff < 1e-6
    assert pose.max_diff_at.endswith(f"{HEUTE}/1/0000.png")
    assert "pose differs beyond atol in 1 frames" in strict.to_text().splitlines()[-1]
    assert all(p.over_atol == 0 for p in by_split(strict)["train"].parts if p.part != "pose")
    assert compare_sources(run_a, run_b, atol=1e-6).equal


def test_presence_change(run_a, tmp_path):
    clips = standard_clips()
    keypoints = clips[0].keypoints
    assert keypoints.part_present("face")[0]
    run_b = build_run(tmp_path / "b", changed(clips, HEUTE, lambda kp: without_part(kp, 0, "face")))
    report = compare_sources(run_a, run_b)
    train = by_split(report)["train"]
    face = part(train, "face")
    assert (face.only_a, face.only_b) == (1, 0)
    with_face = sum(c.keypoints.frames_with("face") for c in clips if c.split == "train" and c.keypoints)
    assert face.both == with_face - 1 and face.neither == 10 - with_face
    assert not train.stats_equal  # frames_with_face differs
    assert by_split(report)["dev"].reasons == ()
    assert not report.equal and "face detected on one side only in 1 frames" in report.to_text()


def test_missing_frame_and_extra_clip(run_a, tmp_path):
    clips = standard_clips()
    shorter = make_keypoints(0, 6)
    shorter = type(shorter)(shorter.points[:5], shorter.confidence[:5], shorter.present[:5], 640, 480, 25.0, shorter.layout)
    clips[0] = ClipSpec("train", HEUTE, shorter)
    clips.append(ClipSpec("dev", "extra_clip", make_keypoints(9, 2)))
    report = compare_sources(run_a, build_run(tmp_path / "b", clips))
    train, dev = by_split(report)["train"], by_split(report)["dev"]
    assert train.missing_in_b.count == 1 and train.missing_in_b.examples[0].endswith(f"{HEUTE}/1/0005.png")
    assert train.extra_in_b.count == 0 and (train.frames_a, train.frames_b) == (10, 9)
    assert dev.extra_in_b.count == 2 and (dev.clips_a, dev.clips_b) == (1, 2)
    assert all(path.startswith("/data/") and "extra_clip" in path for path in dev.extra_in_b.examples)
    assert "1 frames missing in B" in report.reasons[0]
    assert not report.equal


def test_stats_differ(run_a, tmp_path):
    run_b = build_run(tmp_path / "b", standard_clips())
    stats = json.loads((run_b / "stats.json").read_text())
    stats["dev"]["failed_frames"] = 1
    (run_b / "stats.json").write_text(json.dumps(stats))
    report = compare_sources(run_a, run_b)
    assert report.reasons == ("split 'dev': stats differ",)
    assert "failed_frames A=0 B=1" in report.to_text()


def test_corrupted_and_missing_pose_files(run_a, tmp_path):
    run_b = build_run(tmp_path / "b", standard_clips())
    pose = run_b / "train" / f"{HEUTE}.pose"
    pose.write_bytes(pose.read_bytes() + b"\0")  # still parses, values equal: only the checksum tells
    report = compare_sources(run_a, run_b)
    train = by_split(report)["train"]
    assert train.problems_b.count == 1 and "sha256 differs" in train.problems_b.examples[0]
    assert train.missing_in_b.count == 0 and not report.equal
    (run_b / "dev" / "03June_2011_Friday_tagesschau-7649.pose").unlink()
    dev = by_split(compare_sources(run_a, run_b))["dev"]
    assert dev.problems_b.count == 1 and "cannot read" in dev.problems_b.examples[0]
    assert dev.missing_in_b.count == 3


def test_run_against_its_exported_pickle(run_a, tmp_path):
    out = tmp_path / "a.pkl"
    export_pickle(run_a, out)
    for a, b in ((run_a, out), (out, run_a)):
        report = compare_sources(a, b)
        assert report.equal, report.to_text()
        assert {report.kind_a, report.kind_b} == {"run folder", "pickle"}


def test_pickle_against_pickle_and_the_manual_check_of_verify_distributed_results(tmp_path):
    single = export_pickle(build_run(tmp_path / "single", standard_clips()), tmp_path / "single.pkl").files[0]
    distributed = export_pickle(build_run(tmp_path / "dist", standard_clips()), tmp_path / "dist.pkl").files[0]
    assert compare_sources(single, distributed).equal
    with single.open("rb") as handle:
        one = pickle.load(handle)
    with distributed.open("rb") as handle:
        two = pickle.load(handle)
    for split in ("train", "dev"):
        rows = [
            sorted(zip(d[split]["image_paths"], d[split]["video_ids"], d[split]["keypoints"]), key=lambda r: r[0])
            for d in (one, two)
        ]
        assert [r[:2] for r in rows[0]] == [r[:2] for r in rows[1]]
        for (_, _, kp1), (_, _, kp2) in zip(*rows):
            for key in kp1:
                assert (kp1[key] is None) == (kp2[key] is None)
                assert kp1[key] is None or np.allclose(kp1[key], kp2[key], atol=1e-6)
    assert one["stats"] == two["stats"]


def test_pickles_that_differ(run_a, tmp_path):
    a = export_pickle(run_a, tmp_path / "a.pkl").files[0]
    clips = changed(standard_clips(), HEUTE, lambda kp: with_point(kp, 0, "right_hand", 0, 0.01))
    b = export_pickle(build_run(tmp_path / "b", clips), tmp_path / "b.pkl").files[0]
    report = compare_sources(a, b)
    hand = part(by_split(report)["train"], "right_hand")
    assert not report.equal and hand.over_atol == 1 and hand.max_abs_diff == pytest.approx(0.01, abs=1e-4)


def test_splits_filter_and_one_sided_split(run_a, tmp_path):
    clips = changed(standard_clips(), HEUTE, lambda kp: with_point(kp, 0, "pose", 0, 0.5))
    run_b = build_run(tmp_path / "b", [c for c in clips if c.split == "train"])
    report = compare_sources(run_a, run_b)
    assert [s.split for s in report.splits] == ["train", "dev"]
    dev = by_split(report)["dev"]
    assert (dev.in_a, dev.in_b) == (True, False) and dev.missing_in_b.count == 3 and "only in A" in dev.reasons
    assert not compare_sources(run_a, run_b, splits=["train"]).equal
    only_dev = compare_sources(run_a, build_run(tmp_path / "c", clips), splits=["dev"])
    assert only_dev.equal and [s.split for s in only_dev.splits] == ["dev"]
    with pytest.raises(SourceError, match="no split 'test' in A or B"):
        compare_sources(run_a, run_b, splits=["test"])


def test_bad_inputs_raise_source_error(run_a, tmp_path):
    with pytest.raises(SourceError, match="no such file or folder"):
        compare_sources(run_a, tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"not a signpose run folder \(no index.jsonl\)"):
        compare_sources(tmp_path / "empty", run_a)
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"\x80\x04garbage")
    with pytest.raises(SourceError, match="not a readable pickle"):
        compare_sources(run_a, garbage)
    wrong = tmp_path / "list.pkl"
    wrong.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(SourceError, match="holds a list"):
        compare_sources(wrong, run_a)
    frame = {"face": None, "left_hand": None, "right_hand": None}
    no_pose = tmp_path / "nopose.pkl"
    no_pose.write_bytes(pickle.dumps({"train": {"image_paths": ["/x/1.png"], "keypoints": [frame], "video_ids": ["v"]}}))
    with pytest.raises(SourceError, match=r"split 'train': keypoints\[0\] has keys .*missing 'pose'"):
        compare_sources(run_a, no_pose)


def test_malicious_pickle_is_refused(run_a, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"train": {"image_paths": [], "keypoints": [Evil()], "video_ids": []}}))
    with pytest.raises(UnsafePickleError, match="refused to load"):
        compare_sources(run_a, evil)
    assert not marker.exists()


def test_report_json_and_text_shape(run_a, tmp_path):
    clips = changed(standard_clips(), HEUTE, lambda kp: with_point(kp, 0, "pose", 0, 0.25))
    report = compare_sources(run_a, build_run(tmp_path / "b", clips))
    record = json.loads(json.dumps(report.to_json()))
    assert record["equal"] is False and record["reasons"] == list(report.reasons)
    assert record["splits"][0]["parts"][0]["part"] == "pose" and record["splits"][0]["parts"][0]["over_atol"] == 1
    text = report.to_text()
    assert "split 'train'" in text and "split 'dev'" in text
    assert text.splitlines()[-1].startswith("RESULT: DIFFERENT (split 'train': pose differs beyond atol in 1 frames")
    with pytest.raises(SourceError, match="--atol must be a number >= 0, not -1"):
        compare_sources(run_a, run_a, atol=-1)


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_pickle_written_by_the_original_scripts_matches_the_run(run_a, tmp_path, protocol):
    # the original scripts pickled their dict in one go; protocol 2 spells array bytes via _codecs.encode
    written = tmp_path / "keypoints.pkl"
    written.write_bytes(pickle.dumps(pickle_dict(run_a, ["train", "dev"]), protocol=protocol))
    report = compare_sources(written, run_a)
    assert report.equal, report.to_text()


def test_clip_failed_on_one_side(run_a, tmp_path):
    clips = [ClipSpec(c.split, c.clip_id, None) if c.split == "dev" else c for c in standard_clips()]
    report = compare_sources(run_a, build_run(tmp_path / "b", clips))
    dev = by_split(report)["dev"]
    assert (dev.clips_a, dev.clips_b, dev.missing_in_b.count) == (1, 0, 3) and not dev.stats_equal
    assert by_split(report)["train"].reasons == ()


def _parquet_with_one_value_moved(source: Path, out: Path, steps: int) -> Path:
    """A copy of a Parquet export whose first clip's first body x is ``steps`` float32 steps away."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    shutil.copytree(source, out)
    path = out / "train.parquet"
    table = pq.read_table(path)
    column = table.column("keypoints").combine_chunks()
    values = column.flatten().flatten().flatten().to_numpy().copy()
    for _ in range(steps):
        values[0] = np.nextafter(values[0], np.float32(2))
    points = column.type.value_type.list_size
    rebuilt = pa.ListArray.from_arrays(column.offsets, pa.FixedSizeListArray.from_arrays(pa.FixedSizeListArray.from_arrays(pa.array(values), 3), points))
    table = table.set_column(table.column_names.index("keypoints"), "keypoints", rebuilt)
    pq.write_table(table.replace_schema_metadata(pq.read_metadata(path).metadata), path, row_group_size=1)
    return out


def test_a_run_equals_its_parquet_export_bit_for_bit(run_a, tmp_path):
    pytest.importorskip("pyarrow")
    from signpose.tools.export.parquet import export_parquet

    export_parquet(run_a, tmp_path / "pq")
    for a, b in ((run_a, tmp_path / "pq"), (tmp_path / "pq", run_a), (tmp_path / "pq", export_pickle(run_a, tmp_path / "a.pkl").files[0])):
        report = compare_sources(a, b)  # atol 0: bitwise, normalised float32 as every export holds them
        assert report.equal, report.to_text()
    assert {compare_sources(run_a, tmp_path / "pq").kind_b} == {"parquet"}
    assert by_split(compare_sources(run_a, tmp_path / "pq"))["train"].stats_equal
    one_split = compare_sources(run_a, tmp_path / "pq" / "dev.parquet", splits=["dev"])  # one file: one split
    assert one_split.equal and main(["verify", str(run_a), str(tmp_path / "pq")]) == 0


def test_a_parquet_export_one_float32_step_off_is_different(run_a, tmp_path):
    pytest.importorskip("pyarrow")
    from signpose.tools.export.parquet import export_parquet

    export_parquet(run_a, tmp_path / "pq")
    changed = _parquet_with_one_value_moved(tmp_path / "pq", tmp_path / "changed", steps=1)
    report = compare_sources(run_a, changed)
    pose = part(by_split(report)["train"], "pose")
    assert not report.equal and pose.over_atol == 1 and 0 < pose.max_abs_diff < 1e-7
    assert pose.max_diff_at.endswith(f"{HEUTE}/1/0000.png")
    assert compare_sources(run_a, changed, atol=1e-6).equal
    assert main(["verify", str(run_a), str(changed)]) == 1


def test_parquet_values_are_the_pose_pixels_over_the_size(run_a, tmp_path):
    """What equal means: a Parquet export holds float32(pixel / width) (and / height) of the
    .pose file's float32 pixels, the values signpose's reader gives; times the size they are
    those pixels again within one float32 step (checked here), not always bit for bit."""
    pytest.importorskip("pyarrow")
    from pose_format import Pose

    from signpose.tools.export.parquet import export_parquet

    export_parquet(run_a, tmp_path / "pq")
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "pq" / "train.parquet")
    pose = Pose.read((run_a / "train" / f"{HEUTE}.pose").read_bytes())
    pixels = np.asarray(pose.body.data.data[:, 0], np.float32)
    points = np.array(table.column("keypoints")[0].as_py(), np.float32)
    width, height = pose.header.dimensions.width, pose.header.dimensions.height
    assert points.tobytes() == (pixels.astype(np.float64) / [width, height, 1]).astype(np.float32).tobytes()
    back = points * np.array([width, height, 1], np.float32)
    assert np.all(np.abs(back - pixels) <= np.spacing(np.abs(pixels)))
