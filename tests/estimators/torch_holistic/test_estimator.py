"""The torch estimator through the seam, on the CPU (CI has no GPU): the same bytes for any
worker count and batch size, clips batched together as alone, its own refusals (device,
batch size) and its provenance. What it shares with the litert estimator is tested in
tests/estimators/holistic/test_estimator.py, its faithfulness in tests/estimators/test_faithful.py."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from signpose.backends import make_backend  # noqa: E402
from signpose.datasets import open_dataset  # noqa: E402
from signpose.errors import EstimatorError  # noqa: E402
from signpose.estimators import EstimatorSpec, make_estimator  # noqa: E402
from signpose.formats.pose import read_pose_file  # noqa: E402
from signpose.extract.driver import extract  # noqa: E402
from signpose.tools.verify import compare_sources  # noqa: E402
from tests.testdata import signing_frames  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Two clips of 3 real signing frames with hands (PHOENIX size), as PNG folders."""
    from PIL import Image

    root = tmp_path_factory.mktemp("gpu") / "data"
    images = signing_frames(count=40)
    for clip, picked in (("a", images[30:33]), ("b", images[36:39])):
        (root / "train" / clip).mkdir(parents=True)
        for index, image in enumerate(picked):
            Image.fromarray(image).save(root / "train" / clip / f"{index:04d}.png")
    return root


def spec(**params) -> EstimatorSpec:
    return EstimatorSpec.of("torch", {"device": "cpu", **params})


def test_any_worker_count_and_batch_size_give_the_same_bytes(dataset, tmp_path) -> None:
    runs = {
        "one": (spec(batch_size=64), 1),
        "two": (spec(batch_size=64), 2),
        "batch2": (spec(batch_size=2), 1),
    }
    for name, (chosen, workers) in runs.items():
        summary = extract(open_dataset(dataset), tmp_path / name, chosen, make_backend("local", workers))
        assert not summary.failed, summary.failed
    for clip in ("a", "b"):
        first = (tmp_path / "one" / "train" / f"{clip}.pose").read_bytes()
        assert (tmp_path / "two" / "train" / f"{clip}.pose").read_bytes() == first
        assert (tmp_path / "batch2" / "train" / f"{clip}.pose").read_bytes() == first
    keypoints = read_pose_file(tmp_path / "one" / "train" / "a.pose")
    assert keypoints.points.shape == (3, 576, 3) and keypoints.part_present("pose").all()
    assert compare_sources(tmp_path / "one", tmp_path / "batch2").equal


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"batch_size": 0}, "--batch-size must be at least 1"),
        ({"device": "tpu"}, "--device must be cuda or cpu"),
    ],
)
def test_what_it_does_not_do_is_refused_at_once(params, message) -> None:
    with pytest.raises(EstimatorError, match=message):
        make_estimator(spec(**params))


def test_cuda_without_a_gpu_is_refused() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(EstimatorError, match="no CUDA device"):
        make_estimator(spec(device="cuda"))
    assert make_estimator(EstimatorSpec.of("torch", {})).device == "cpu"  # the default falls back


def test_provenance_records_versions_device_and_models() -> None:
    provenance = make_estimator(spec()).provenance()
    assert provenance["device"] == "cpu" and provenance["torch_version"] and provenance["gpu"] is None
    assert len(provenance["model_sha256"]) == 6 and "float32" in provenance["dtype"] and provenance["runtime"] == "torch"


def test_clips_batched_together_give_the_bytes_they_give_alone(dataset, tmp_path) -> None:
    """A worker batches the clips it was told of with its current one (frames of two clips
    in one network chunk): each clip's file is byte-identical to the one made alone."""
    from signpose.model.clip import Clip
    from signpose.extract.worker import ClipProcessor

    clips = [Clip("train", name, dataset / "train" / name) for name in ("a", "b")]
    together, alone = ClipProcessor(spec(), tmp_path / "together"), ClipProcessor(spec(), tmp_path / "alone")
    for clip in clips:
        together.prepare(clip)
    for future in list(together._prepared.values()):
        future.result(timeout=120)
    together(clips[0])
    assert ("train", "b") in together._estimated  # b was estimated in a's batch
    together(clips[1])
    for clip in clips:
        alone(clip)
        name = f"train/{clip.clip_id}.pose"
        assert (tmp_path / "together" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()
