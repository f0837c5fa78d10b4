"""The six networks ship with signpose, each checked by its sha256 before a runtime reads
it; a missing or altered file is a one-line error naming it."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from signpose.errors import EstimatorError
from signpose.estimators.holistic.weights import MODELS, MODELS_DIR, Network, model_sha256, read_model


def test_every_network_ships_with_its_recorded_hash() -> None:
    for network, (file, digest, _) in MODELS.items():
        assert hashlib.sha256((MODELS_DIR / file).read_bytes()).hexdigest() == digest, file
        assert read_model(network)[:8]  # read and checked
    assert len(model_sha256()) == 6
    notice = (MODELS_DIR / "NOTICE").read_text()
    assert "Apache License" in notice and all(file in notice for file, _, _ in MODELS.values())


def test_a_missing_or_altered_model_is_named(tmp_path) -> None:
    file = MODELS[Network.HAND_RECROP][0]
    with pytest.raises(EstimatorError, match=f"{file}: model file missing or unreadable"):
        read_model(Network.HAND_RECROP, tmp_path)
    shutil.copy(MODELS_DIR / file, tmp_path / file)
    with open(tmp_path / file, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(EstimatorError, match=f"{file}: model file altered .*reinstall signpose"):
        read_model(Network.HAND_RECROP, tmp_path)
