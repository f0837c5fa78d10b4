from __future__ import annotations

import builtins
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

from signpose.errors import SourceError, UnsafePickleError
from signpose.formats.safepickle import load_pickle


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


def _pickle_shaped(payload: object) -> dict:
    """A keypoints-pickle-looking pickle with the payload where a frame would be."""
    return {"train": {"image_paths": ["/d/0001.png"], "keypoints": [payload], "video_ids": ["v"]}, "stats": {}}


# Protocol 2 writes Python 2 module names (__builtin__.eval, commands.Popen): match the name.
@pytest.mark.parametrize(("evil", "global_name"), [(_System, ".system"), (_Eval, ".eval"), (_Popen, ".Popen")])
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickles_are_refused_before_running(tmp_path, evil, global_name, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_pickle_shaped(evil(marker)), protocol=protocol))
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


# -- a pickle cannot change what the next load gets (issue #9, item 8) ---------------------


def _unicode(text: str) -> bytes:
    data = text.encode("utf-8")
    return pickle.BINUNICODE + len(data).to_bytes(4, "little") + data


def _build_on_global(module: str, name: str, state: bytes) -> bytes:
    """PROTO 2; GLOBAL module.name; <state>; BUILD; STOP: a pickle that loads a global the
    schema allows and then sets attributes on the very object it was handed."""
    return pickle.PROTO + b"\x02" + pickle.GLOBAL + f"{module}\n{name}\n".encode() + state + pickle.BUILD + pickle.STOP


# (None, {'__defaults__': ()}): slot state, applied with setattr
_CLEAR_DEFAULTS = pickle.NONE + pickle.EMPTY_DICT + _unicode("__defaults__") + pickle.EMPTY_TUPLE + pickle.SETITEM + pickle.TUPLE2
# {'poisoned': True}: instance state, merged into the object's __dict__
_POISON_DICT = pickle.EMPTY_DICT + _unicode("poisoned") + pickle.NEWTRUE + pickle.SETITEM


@pytest.mark.parametrize(
    ("module", "name", "state"),
    [
        ("_codecs", "encode", _CLEAR_DEFAULTS),
        ("_codecs", "encode", _POISON_DICT),
        ("__builtin__", "bytes", _POISON_DICT),
        ("numpy.core.numeric", "_frombuffer", _POISON_DICT),
        ("numpy.core.numeric", "_frombuffer", _CLEAR_DEFAULTS),
        ("numpy.core.multiarray", "_reconstruct", _POISON_DICT),
        ("numpy", "dtype", _POISON_DICT),
    ],
    ids=["codecs-defaults", "codecs-dict", "bytes-dict", "frombuffer-dict", "frombuffer-defaults", "reconstruct-dict", "dtype-dict"],
)
def test_pickle_setting_attributes_on_a_global_changes_nothing_for_the_next_load(tmp_path, module, name, state):
    import importlib
    import pickletools

    import signpose.formats.safepickle as safepickle

    hostile = _build_on_global(module, name, state)
    pickletools.dis(hostile, out=open(os.devnull, "w"))  # a well-formed pickle
    real = getattr(importlib.import_module(module.replace("__builtin__", "builtins")), name)
    defaults_before = getattr(real, "__defaults__", None)
    path = tmp_path / "hostile.pkl"
    path.write_bytes(hostile)
    try:
        with pytest.raises(SourceError):
            load_pickle(path)
        # nothing any module holds was changed ...
        assert not hasattr(real, "poisoned") and getattr(real, "__defaults__", None) == defaults_before
        for helper in ("_latin1_encode", "_empty_bytes"):
            assert not hasattr(getattr(safepickle, helper, None), "poisoned")
        # ... and the next legitimate file (protocol 2: _codecs.encode, numpy) loads as ever
        good = tmp_path / "good.pkl"
        for protocol in (2, 5):
            good.write_bytes(pickle.dumps({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": b""}, protocol=protocol))
            loaded = load_pickle(good)
            np.testing.assert_array_equal(loaded["a"], np.arange(6, dtype=np.float32).reshape(2, 3))
            assert loaded["b"] == b""
    finally:  # on code that let the pickle through, leave the process as it was
        for target in (real, getattr(safepickle, "_latin1_encode", None), getattr(safepickle, "_empty_bytes", None)):
            if target is not None and "poisoned" in getattr(target, "__dict__", {}):
                del target.poisoned
        if hasattr(real, "__defaults__") and real.__defaults__ != defaults_before:
            real.__defaults__ = defaults_before
        fn = getattr(safepickle, "_latin1_encode", None)
        if fn is not None and fn.__defaults__ != ("latin1", "strict"):
            fn.__defaults__ = ("latin1", "strict")


def test_each_load_gets_its_own_globals(tmp_path):
    from signpose.formats.safepickle import _RestrictedUnpickler

    one = _RestrictedUnpickler(open(os.devnull, "rb"), tmp_path / "a.pkl")
    two = _RestrictedUnpickler(open(os.devnull, "rb"), tmp_path / "b.pkl")
    for module, name in [("_codecs", "encode"), ("builtins", "bytes"), ("numpy.core.multiarray", "_reconstruct"), ("numpy", "dtype")]:
        first, second = one.find_class(module, name), two.find_class(module, name)
        assert first is not second
        with pytest.raises((AttributeError, pickle.UnpicklingError)):
            first.anything = 1


def test_a_fifo_is_refused_without_blocking(tmp_path):
    from tests.fifo_helpers import finishes

    fifo = tmp_path / "keypoints.pkl"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match="not a regular file"):
        finishes(lambda: load_pickle(fifo), fifo)
