"""RunStore: safe names, atomic files, folder preparation, the index (resumable after a
crash at any byte), done-ness by checksum, finalisation and the write probe."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from signpose.run.record import ClipResult, ClipStatus, FrameFailure
from signpose.run.lock import run_lock
from signpose.run.reader import RunReader
from signpose.run.store import INDEX, RUN_INFO, STATS, TMP_MARK, RunStore, StoreError, compute_stats, safe_name

from tests.runs_builder import append_records
from tests.testdata import SHARED  # the PHOENIX annotations are research-use: never in tests/data

TESTDATA = SHARED
PHOENIX_CSVS = [
    TESTDATA / "phoenix" / "PHOENIX-2014-T" / "annotations" / "manual" / f"PHOENIX-2014-T.{split}.corpus.csv"
    for split in ("train", "dev", "test")
] + [TESTDATA / "phoenix" / "phoenix-2014-multisigner" / "annotations" / "manual" / f"{split}.corpus.csv" for split in ("train", "dev", "test")]


def result(split: str, clip_id: str, *, ok: bool = True, frames: int = 3, failed: int = 0, store: RunStore | None = None, data: bytes | None = None, **extra) -> ClipResult:
    """A ClipResult; with ``store`` (and ok) its .pose is really written and checksummed."""
    pose_file = checksum = None
    if ok and store is not None:
        pose_file, checksum = store.write_pose(split, clip_id, data if data is not None else f"pose of {clip_id}".encode())
    return ClipResult(
        split=split,
        clip_id=clip_id,
        status=ClipStatus.OK if ok else ClipStatus.FAILED,
        source=f"/data/{split}/{clip_id}",
        frames=frames,
        failed_frames=failed,
        frame_failures=tuple(FrameFailure(f"f{i}.png", "broken") for i in range(failed)),
        detected={"pose": frames, "face": max(frames - 1, 0), "left_hand": 1, "right_hand": 0},
        pose_file=pose_file,
        checksum=checksum,
        error=None if ok else "no frames",
        **extra,
    )


def temporaries(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if TMP_MARK in path.name]


# -- safe_name -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", "..", ".", "", "x/../y", "/abs", "nul\0byte", "a..b/.."])
def test_safe_name_refuses_escaping_names(name: str) -> None:
    with pytest.raises(StoreError, match="refusing to write clip id"):
        safe_name(name, "clip id")


@pytest.mark.parametrize(
    "name",
    [
        "25October_2010_Monday_tagesschau-17",
        "01April_2010_Thursday_heute_default-0",
        "11August_2010_Wednesday_tagesschau-2",
        "train",
        "dev",
        "all",
        "clip with spaces",
        "ümlaut-ß",
    ],
)
def test_safe_name_accepts_normal_names(name: str) -> None:
    assert safe_name(name, "clip id") == name


def test_safe_name_accepts_every_real_phoenix_clip_name() -> None:
    present = [csv for csv in PHOENIX_CSVS if csv.is_file()]
    if not present:
        pytest.skip(f"needs the PHOENIX annotation CSVs in {TESTDATA / 'phoenix'} (research-use data, only in ../shared/testdata)")
    names = [line.split("|", 1)[0] for csv in present for line in csv.read_text(encoding="utf-8").splitlines()[1:] if line]
    assert len(names) > 10000
    for name in names:
        assert safe_name(name, "clip id") == name


def test_pose_relpath_checks_split_and_clip(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert store.pose_relpath("dev", "clip-1") == "dev/clip-1.pose"
    with pytest.raises(StoreError, match="split"):
        store.pose_relpath("..", "clip")
    with pytest.raises(StoreError, match="clip id"):
        store.pose_relpath("dev", "../../etc/passwd")


# -- write_pose ------------------------------------------------------------------------------


def test_write_pose_is_atomic_and_returns_path_and_sha256(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    data = os.urandom(100_000)
    relpath, checksum = store.write_pose("train", "clip-1", data)
    assert relpath == "train/clip-1.pose"
    assert (store.root / relpath).read_bytes() == data
    assert checksum == hashlib.sha256(data).hexdigest()
    assert temporaries(store.root) == []
    # rewriting replaces the content whole
    relpath2, checksum2 = store.write_pose("train", "clip-1", b"second")
    assert relpath2 == relpath and (store.root / relpath).read_bytes() == b"second"
    assert checksum2 == hashlib.sha256(b"second").hexdigest()
    assert sorted(p.name for p in (store.root / "train").iterdir()) == ["clip-1.pose"]


def test_write_pose_refuses_unsafe_ids_and_writes_nothing(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    for clip_id in ("../evil", "a/b"):
        with pytest.raises(StoreError):
            store.write_pose("train", clip_id, b"x")
    assert sorted(tmp_path.rglob("*")) == []


def test_a_write_that_fails_midway_leaves_the_old_file_whole(tmp_path: Path, monkeypatch) -> None:
    store = RunStore(tmp_path)
    store.write_pose("train", "c", b"old content")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises((OSError, StoreError)):  # disk full: an OutputError (a StoreError) naming it
        store.write_pose("train", "c", b"new content that never lands")
    monkeypatch.undo()
    assert (tmp_path / "train" / "c.pose").read_bytes() == b"old content"
    # nothing half-written under a final name; any leftover is a temporary the store removes
    assert sorted(p.name for p in (tmp_path / "train").iterdir() if TMP_MARK not in p.name) == ["c.pose"]
    store.remove_temporaries()
    assert temporaries(tmp_path) == []


# -- prepare ---------------------------------------------------------------------------------


def test_prepare_accepts_a_new_or_empty_folder(tmp_path: Path) -> None:
    new = tmp_path / "a" / "b" / "new"
    RunStore(new).prepare(overwrite=False)
    assert new.is_dir()
    empty = tmp_path / "empty"
    empty.mkdir()
    RunStore(empty).prepare(overwrite=False)
    hidden_only = tmp_path / "hidden"
    hidden_only.mkdir()
    (hidden_only / ".DS_Store").write_bytes(b"x")
    RunStore(hidden_only).prepare(overwrite=False)


@pytest.mark.parametrize("overwrite", [False, True])
def test_prepare_refuses_a_foreign_non_empty_folder(tmp_path: Path, overwrite: bool) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "mine.pose").write_bytes(b"not ours")
    with pytest.raises(StoreError, match="not empty and holds no signpose run"):
        RunStore(tmp_path).prepare(overwrite=overwrite)
    assert (tmp_path / "thesis.tex").read_text() == "precious"
    assert (tmp_path / "train" / "mine.pose").read_bytes() == b"not ours"


def test_prepare_refuses_a_file(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("x")
    with pytest.raises(StoreError, match="not a folder"):  # the run lock, taken before prepare, checks it
        with run_lock(path):
            RunStore(path).prepare(overwrite=False)


def make_run(root: Path) -> RunStore:
    store = RunStore(root)
    store.prepare(overwrite=False)
    store.write_run_info({"status": "complete"})
    append_records(store, *(result("train", clip_id, store=store) for clip_id in ("a", "b")), result("dev", "c", store=store))
    store.finalize([("train", "a"), ("train", "b"), ("dev", "c")])
    return store


def test_prepare_without_overwrite_keeps_a_run(tmp_path: Path) -> None:
    store = make_run(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    store.prepare(overwrite=False)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert set(store.read_index()) == {("train", "a"), ("train", "b"), ("dev", "c")}


def test_prepare_with_overwrite_clears_the_run_but_not_foreign_files(tmp_path: Path) -> None:
    store = make_run(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "train" / "readme.txt").write_text("mine too")
    (tmp_path / "train" / ".clip-x.pose.tmp-123").write_bytes(b"torn")
    store.prepare(overwrite=True)
    for name in (INDEX, STATS, RUN_INFO):
        assert not (tmp_path / name).exists(), name
    assert list(tmp_path.rglob("*.pose")) == []
    assert temporaries(tmp_path) == []
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "train" / "readme.txt").read_text() == "mine too"
    assert store.read_index() == {}
    assert store.read_run_info() is None


def test_prepare_removes_leftover_temporaries_everywhere(tmp_path: Path) -> None:
    store = make_run(tmp_path)
    leftovers = [
        tmp_path / f".{INDEX}{TMP_MARK}4242",
        tmp_path / "train" / f".a.pose{TMP_MARK}999",
        tmp_path / "dev" / f".new.pose{TMP_MARK}1",
        tmp_path / f".probe{TMP_MARK}node7-55",
    ]
    for path in leftovers:
        path.write_bytes(b"half")
    store.prepare(overwrite=False)
    assert temporaries(tmp_path) == []
    assert (tmp_path / "train" / "a.pose").exists()  # finished files stay
    assert set(store.read_index()) == {("train", "a"), ("train", "b"), ("dev", "c")}


# -- index -----------------------------------------------------------------------------------


def test_index_round_trips_every_field(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    original = result(
        "train",
        "x",
        store=store,
        failed=2,
        frame_names=("a.png", "b.png", "c.png"),
        width=210,
        height=260,
        fps=25.0,
        frame_rate="25/1",
        signer="Signer08",
        gloss="DRUCK TIEF KOMMEN",
        translation="tiefer luftdruck bestimmt in den nächsten tagen unser wetter",
    )
    append_records(store, original)
    assert store.read_index() == {("train", "x"): original}


def test_read_index_missing_file_is_empty(tmp_path: Path) -> None:
    assert RunStore(tmp_path).read_index() == {}


def test_read_index_last_record_per_clip_wins(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    append_records(
        store,
        result("train", "a", ok=False),
        result("train", "b", frames=5),
        result("train", "a", frames=9),
        result("dev", "a", frames=1),  # same id in another split is another clip
    )
    index = store.read_index()
    assert set(index) == {("train", "a"), ("train", "b"), ("dev", "a")}
    assert index[("train", "a")].status is ClipStatus.OK and index[("train", "a")].frames == 9


@pytest.mark.parametrize("cut", [1, 10, 37, -2])
def test_read_index_ignores_a_torn_last_line(tmp_path: Path, cut: int) -> None:
    store = RunStore(tmp_path)
    append_records(store, result("train", "a"), result("train", "b"))
    data = (tmp_path / INDEX).read_bytes()
    last_start = data.rindex(b"\n", 0, len(data) - 1) + 1
    (tmp_path / INDEX).write_bytes(data[: last_start + cut] if cut > 0 else data[:cut])
    assert set(store.read_index()) == {("train", "a")}


def test_read_index_skips_lines_that_are_not_records(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    append_records(store, result("train", "a"))
    with (tmp_path / INDEX).open("a") as handle:
        handle.write("\n5\n[]\n{}\n" + json.dumps({**result("train", "z").to_json(), "status": "weird"}) + "\n")
    append_records(store, result("train", "b"))
    assert set(store.read_index()) == {("train", "a"), ("train", "b")}


def test_append_after_a_torn_last_line_keeps_the_new_record(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    append_records(store, result("train", "a"), result("train", "b"))
    data = (tmp_path / INDEX).read_bytes()
    (tmp_path / INDEX).write_bytes(data[:-20])  # the machine died mid-append of b
    append_records(store, result("train", "c"))
    assert set(store.read_index()) == {("train", "a"), ("train", "c")}


def test_read_index_ignores_a_line_torn_inside_a_utf8_character(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    append_records(store, result("train", "a"), result("train", "b", translation="es wird überall regnen"))
    data = (tmp_path / INDEX).read_bytes()
    (tmp_path / INDEX).write_bytes(data[: data.rindex("ü".encode()) + 1])
    assert set(store.read_index()) == {("train", "a")}


# -- is_done ---------------------------------------------------------------------------------


def test_is_done_only_for_ok_clips_with_their_whole_file(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    data = os.urandom(5000)
    done = result("train", "a", store=store, data=data)
    assert store.is_done(done)
    path = tmp_path / done.pose_file

    path.write_bytes(data[:2500])  # truncated
    assert not store.is_done(done)
    flipped = bytearray(data)
    flipped[1234] ^= 0x01
    path.write_bytes(bytes(flipped))  # same size, other content
    assert not store.is_done(done)
    path.write_bytes(data)
    assert store.is_done(done)
    path.unlink()  # missing
    assert not store.is_done(done)

    assert not store.is_done(result("train", "f", ok=False))
    path.write_bytes(data)
    from dataclasses import replace

    assert not store.is_done(replace(done, checksum=None))
    assert not store.is_done(replace(done, pose_file=None))
    assert not store.is_done(replace(done, checksum="0" * 64))
    assert not store.is_done(replace(done, status=ClipStatus.FAILED))


# -- finalize and stats ----------------------------------------------------------------------


def test_finalize_writes_the_index_in_the_given_order_and_matching_stats(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.prepare(overwrite=False)
    order = [("train", "t1"), ("train", "t2"), ("train", "t3"), ("dev", "d1"), ("test", "e1")]
    # finished in another order; t2 failed; t3 done twice (the later record wins)
    append_records(
        store,
        result("test", "e1", store=store, frames=4, failed=1),
        result("train", "t3", ok=False, frames=0),
        result("dev", "d1", store=store, frames=6),
        result("train", "t2", ok=False, frames=0),
        result("train", "t1", store=store, frames=5),
        result("train", "t3", store=store, frames=7, failed=2),
        result("old", "gone", store=store, frames=2),  # from an earlier selection
    )

    store.finalize(order)
    keys = order + [("old", "gone")]
    ordered = list(store.read_index().values())
    assert [record.key for record in ordered] == keys
    lines = (tmp_path / INDEX).read_text(encoding="utf-8").splitlines()
    assert [(json.loads(line)["split"], json.loads(line)["clip_id"]) for line in lines] == keys
    assert temporaries(tmp_path) == []

    stats = RunReader(tmp_path).require_stats()
    assert stats == json.loads(json.dumps(compute_stats(ordered)))
    assert list(stats) == ["train", "dev", "test", "old"]
    assert stats["train"] == {
        "clips": 3,
        "frames": 12,
        "failed_clips": 1,
        "failed_frames": 2,
        "frames_with_pose": 12,
        "frames_with_face": 4 + 6 + 0,  # frames - 1 per record: t1, t3, t2
        "frames_with_left_hand": 3,
        "frames_with_right_hand": 0,
    }
    assert stats["dev"]["clips"] == 1 and stats["dev"]["frames"] == 6
    assert stats["test"]["failed_frames"] == 1 and stats["test"]["failed_clips"] == 0
    # finalising again changes nothing (bytes do not depend on finishing order)
    before = (tmp_path / INDEX).read_bytes(), (tmp_path / STATS).read_bytes()
    store.finalize(order)
    assert ((tmp_path / INDEX).read_bytes(), (tmp_path / STATS).read_bytes()) == before


def test_finalize_of_an_empty_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.finalize([("train", "x")])
    assert not (tmp_path / INDEX).exists() or (tmp_path / INDEX).read_bytes() == b""
    assert store.read_index() == {}
    assert json.loads((tmp_path / STATS).read_text(encoding="utf-8")) == {}


def test_compute_stats_has_no_timing_keys() -> None:
    stats = compute_stats([result("train", "a"), result("train", "b", ok=False, frames=0)])
    assert set(stats["train"]) == {
        "clips",
        "frames",
        "failed_clips",
        "failed_frames",
        "frames_with_pose",
        "frames_with_face",
        "frames_with_left_hand",
        "frames_with_right_hand",
    }
    assert stats["train"]["failed_clips"] == 1 and stats["train"]["clips"] == 2


def test_run_info_round_trip(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert store.read_run_info() is None
    store.write_run_info({"status": "running", "options": {"mode": "image"}, "ü": 1})
    assert store.read_run_info() == {"status": "running", "options": {"mode": "image"}, "ü": 1}
    assert temporaries(tmp_path) == []


# -- write_probe -----------------------------------------------------------------------------


def test_write_probe_leaves_nothing_behind(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    store.write_probe("node-1")
    assert (tmp_path / "run").is_dir()
    assert list((tmp_path / "run").iterdir()) == []


def test_write_probe_under_a_file_is_a_clear_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = RunStore(blocker / "run")
    with pytest.raises(OSError) as caught:
        store.write_probe("node-1")
    message = str(caught.value)
    assert "on node-1" in message and "cannot write into the output folder" in message and str(blocker / "run") in message


def test_write_probe_on_a_read_only_folder_is_a_clear_oserror(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("runs as root, where chmod 0o555 does not stop writes")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OSError) as caught:
            RunStore(folder).write_probe("node-2")
        message = str(caught.value)
        assert "on node-2" in message and "cannot write into the output folder" in message and str(folder) in message
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_a_record_naming_another_file_is_not_done(tmp_path: Path) -> None:
    """Resume hashes only the file the store itself writes for a clip: an index line that
    points elsewhere (../../x, another clip's file) does not count as done."""
    store = RunStore(tmp_path / "run")
    store.prepare(overwrite=False)
    good = result("train", "a", store=store)
    other = result("train", "b", store=store)
    outside = tmp_path / "outside.pose"
    outside.write_bytes(b"pose of a")
    assert store.is_done(good)
    assert not store.is_done(replace(good, pose_file=other.pose_file, checksum=other.checksum))
    assert not store.is_done(replace(good, pose_file="../outside.pose"))
