from __future__ import annotations

import builtins
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

from signpose.errors import SourceError, UnsafePickleError
from signpose.safepickle import load_pickle


class _System:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Eval:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.eval, (f"open({str(self.marker)!r}, 'w').close()",))


class _Popen:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (subprocess.Popen, (["touch", str(self.marker)],))


def _seed_shaped(payload: object) -> dict:
    """A seed-looking pickle with the payload where a frame would be."""
    return {"train": {"image_paths": ["/d/0001.png"], "keypoints": [payload], "video_ids": ["v"]}, "stats": {}}


# Protocol 2 writes Python 2 module names (__builtin__.eval, commands.Popen): match the name.
@pytest.mark.parametrize(("evil", "global_name"), [(_System, ".system"), (_Eval, ".eval"), (_Popen, ".Popen")])
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickles_are_refused_before_running(tmp_path, evil, global_name, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_seed_shaped(evil(marker)), protocol=protocol))
    with pytest.raises(UnsafePickleError) as caught:
        load_pickle(path)
    message = str(caught.value)
    assert str(path) in message and global_name in message and "nothing was run" in message
    assert not marker.exists()
    assert isinstance(caught.value, SourceError)


def test_codecs_encode_only_as_latin1(tmp_path):
    # protocol 2 spells bytes as _codecs.encode(text, 'latin1'); any other codec is refused
    import codecs

    class Zlib:
        def __reduce__(self):
            return (codecs.encode, ("x", "zlib_codec"))

    path = tmp_path / "zlib.pkl"
    path.write_bytes(pickle.dumps(Zlib(), protocol=2))
    with pytest.raises(SourceError, match="encoding 'zlib_codec'"):
        load_pickle(path)


def test_bytes_only_as_empty_bytes(tmp_path):
    # protocol 2 spells b"" as bytes(); bytes(n) would allocate n bytes at the pickle's will
    class Huge:
        def __reduce__(self):
            return (bytes, (10**12,))

    path = tmp_path / "huge.pkl"
    path.write_bytes(pickle.dumps(Huge(), protocol=2))
    with pytest.raises(SourceError, match="TypeError"):
        load_pickle(path)


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_numpy_arrays_and_plain_values_load(tmp_path, protocol):
    data = {
        "a": np.arange(12, dtype=np.float32).reshape(4, 3),
        "b": [None, True, 1, 2.5, "s", (1, 2)],
        "c": np.float32(3.5),
        "d": np.zeros((0, 4), dtype=np.float64),
    }
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    loaded = load_pickle(path)
    assert loaded["b"] == data["b"] and loaded["c"] == data["c"]
    np.testing.assert_array_equal(loaded["a"], data["a"])
    assert loaded["a"].dtype == np.float32 and loaded["d"].shape == (0, 4)


@pytest.mark.parametrize(
    ("content", "reason"), [(b"", "truncated"), (b"this is not a pickle", "not a readable pickle"), (None, "truncated")]
)
def test_garbage_and_truncated_files(tmp_path, content, reason):
    path = tmp_path / "bad.pkl"
    if content is None:
        whole = pickle.dumps({"x": np.ones((50, 3), np.float32)}, protocol=4)
        content = whole[: len(whole) // 2]
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        load_pickle(path)
    assert str(path) in str(caught.value) and reason in str(caught.value)
    assert not isinstance(caught.value, UnsafePickleError)


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match="cannot open"):
        load_pickle(tmp_path / "absent.pkl")
