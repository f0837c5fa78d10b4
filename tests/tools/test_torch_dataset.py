"""The PyTorch dataset: a real run (litert on real frames), read by a DataLoader with two
worker processes and pose-format's zero_pad_collator; shapes, masks, labels, padding that
never leaks into real frames, the same tensors from the run and from its Parquet export,
and shoulder-width normalisation as pose-format's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from signpose.errors import DependencyError
from signpose.formats.pose import read_pose_file
from signpose.run.reader import RunReader
from tests.conftest import REPO
from tests.tools.conftest import LITERT_CLIPS


def test_the_module_imports_without_torch_and_says_how_to_get_it(tmp_path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import signpose.tools.torch_dataset as module\n"
        "try:\n    module.ClipDataset(sys.argv[1])\nexcept module.DependencyError as error:\n    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("pip install torch") and "needs torch" in lines[0], done.stdout


def test_without_torch_the_error_is_a_signpose_error(monkeypatch, tmp_path) -> None:
    from signpose.tools.torch_dataset import ClipDataset

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(DependencyError, match="pip install torch"):
        ClipDataset(tmp_path)


def _loader(path: Path, **options):
    torch = pytest.importorskip("torch")
    from pose_format.torch.masked.collator import zero_pad_collator

    from signpose.tools.torch_dataset import ClipDataset

    clips = ClipDataset(path, **options)
    loader = torch.utils.data.DataLoader(clips, batch_size=3, shuffle=False, num_workers=2, collate_fn=zero_pad_collator)
    return clips, list(loader)


def _check_against_the_run(batch, run: Path) -> None:
    """Every item of the batch holds its clip's frames as the run's .pose has them, and its
    padded frames are zeros with a False mask."""
    from pose_format.torch.masked import MaskedTensor

    pose = batch["pose"]
    assert isinstance(pose, MaskedTensor)
    records = {(r.split, r.clip_id): r for r in RunReader(run).records}
    longest = max(batch["length"].tolist())
    assert pose.tensor.shape == (len(batch["clip_id"]), longest, 1, 576, 3) and pose.mask.shape == pose.tensor.shape
    assert batch["confidence"].shape == (len(batch["clip_id"]), longest, 1, 576)
    for item, (split, clip_id) in enumerate(zip(batch["split"], batch["clip_id"])):
        record = records[(split, clip_id)]
        keypoints = read_pose_file(run / record.pose_file)
        length = int(batch["length"][item])
        assert length == keypoints.num_frames
        data, mask = pose.tensor[item].numpy(), pose.mask[item].numpy()
        assert data[:length, 0].tobytes() == keypoints.points.tobytes()  # bit for bit, as every export holds them
        assert np.array_equal(mask[:length, 0], np.repeat((keypoints.confidence > 0)[..., None], 3, axis=2))
        assert batch["confidence"][item, :length, 0].numpy().tobytes() == keypoints.confidence.tobytes()
        assert np.array_equal(batch["present"][item, :length].numpy(), keypoints.present)
        # padding: zeros, masked out, in every tensor
        assert not data[length:].any() and not mask[length:].any()
        assert not batch["confidence"][item, length:].any() and not batch["present"][item, length:].any()
        assert mask[:length].any()  # the real frames hold detections


def test_a_dataloader_with_two_workers_over_a_real_run(litert_run) -> None:
    clips, batches = _loader(litert_run)
    assert len(clips) == len(LITERT_CLIPS) and len(batches) == 1
    batch = batches[0]
    assert list(zip(batch["split"], batch["clip_id"])) == [(s, c) for s, c, _ in LITERT_CLIPS]
    assert batch["length"].tolist() == [n for _, _, n in LITERT_CLIPS]
    assert batch["signer"] == ["", "", ""] and batch["gloss"] == ["", "", ""]
    _check_against_the_run(batch, litert_run)


def test_the_same_tensors_from_the_parquet_export(litert_run, tmp_path) -> None:
    pytest.importorskip("pyarrow")
    from signpose.tools.export.parquet import export_parquet

    export_parquet(litert_run, tmp_path / "pq")
    _, from_run = _loader(litert_run, split="train")
    _, from_parquet = _loader(tmp_path / "pq", split="train")
    for key in ("length", "confidence", "present"):
        assert from_run[0][key].equal(from_parquet[0][key])
    assert from_run[0]["pose"].tensor.equal(from_parquet[0]["pose"].tensor) and from_run[0]["pose"].mask.equal(from_parquet[0]["pose"].mask)
    _check_against_the_run(from_parquet[0], litert_run)


def test_labels_come_with_the_clips(phoenix_run) -> None:
    clips, batches = _loader(phoenix_run, split="train")
    records = RunReader(phoenix_run).ok_clips("train")
    got = [(s, g, t) for batch in batches for s, g, t in zip(batch["signer"], batch["gloss"], batch["translation"])]
    assert got == [(r.signer, r.gloss, r.translation) for r in records] and len(clips) == 5


def test_normalised_by_shoulder_width_as_pose_format_does(litert_run) -> None:
    torch = pytest.importorskip("torch")
    from pose_format import Pose

    from signpose.tools.torch_dataset import ClipDataset

    clips = ClipDataset(litert_run, split="train", normalize=True)
    item = clips[0]
    record = clips.clips[0].record
    pose = Pose.read((litert_run / record.pose_file).read_bytes())
    expected = pose.get_components([c.name for c in pose.header.components if c.name != "POSE_WORLD_LANDMARKS"]).normalize()
    data, mask = item["pose"].tensor[:, 0].numpy(), item["pose"].mask[:, 0].numpy()
    reference = np.ma.filled(expected.body.data[:, 0], 0)
    np.testing.assert_allclose(data[:, :543], reference, atol=1e-5)
    assert np.array_equal(mask[:, :543, 0], ~np.ma.getmaskarray(expected.body.data[:, 0]).any(axis=2))
    keypoints = read_pose_file(litert_run / record.pose_file)
    assert data[:, 543:].tobytes() == keypoints.part("pose_world").tobytes()  # world landmarks stay in metres
    shoulders = torch.from_numpy(data[:, [11, 12], :])  # the body's LEFT_SHOULDER, RIGHT_SHOULDER
    assert float((shoulders[:, 0] - shoulders[:, 1]).norm(dim=-1).mean()) == pytest.approx(1.0, abs=1e-4)
    assert np.abs(((shoulders[:, 0] + shoulders[:, 1]) / 2).numpy().mean(axis=0)).max() < 1e-4
