"""What a request becomes: the estimator a run being resumed was started with unless another
is asked for, the estimator's own default mode, options it lacks refused in one line, and
the workers planned once from the estimator's hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from signpose.errors import EstimatorError
from signpose.estimators import DEFAULT
from signpose.extract.plan import Request, estimator_spec, make_plan
from tests.toy_cli import NAME as TOY, make_toy_dataset

OPTIONS = {"mode": None, "refine_face": False, "model_complexity": 1, "min_detection_confidence": 0.5,
           "min_tracking_confidence": 0.5, "world_landmarks": True, "device": None, "batch_size": None}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return make_toy_dataset(tmp_path / "data", clips=2)


def test_a_resumed_run_keeps_its_estimator_unless_told_otherwise(data) -> None:
    previous = {"estimator": {"name": TOY, "params": {}}}
    assert make_plan(Request(data, options=OPTIONS, workers=1), previous).spec.name == TOY
    assert make_plan(Request(data, estimator="litert", options=OPTIONS, workers=1), previous).spec.name == "litert"
    assert make_plan(Request(data, options=OPTIONS, workers=1), None).spec.name == DEFAULT == "litert"


def test_the_mode_left_unsaid_is_the_estimator_s_own() -> None:
    assert estimator_spec("litert", OPTIONS).options["mode"] == "frame"
    assert estimator_spec("torch", OPTIONS).options["mode"] == "frame"
    assert estimator_spec("mediapipe", OPTIONS).options["mode"] == "image"  # its signature: no mediapipe import
    assert estimator_spec("mediapipe", OPTIONS | {"mode": "video"}).options["mode"] == "video"
    assert "device" not in estimator_spec("litert", OPTIONS).options


def test_an_option_the_estimator_lacks_is_one_line() -> None:
    with pytest.raises(EstimatorError, match="--batch-size is an option of --estimator torch, not of litert"):
        estimator_spec("litert", OPTIONS | {"batch_size": 8})


def test_workers_are_sized_by_the_estimator_s_hints(data) -> None:
    notes: list[str] = []
    plan = make_plan(Request(data, estimator="litert", options=OPTIONS, workers=3), None, note=notes.append)
    assert plan.backend.workers == 3 and not notes
    many = make_plan(Request(data, estimator="litert", options=OPTIONS, workers=10_000), None, note=notes.append)
    assert many.backend.workers < 10_000 and "GB is available" in notes[0]  # capped by memory, with a note why
