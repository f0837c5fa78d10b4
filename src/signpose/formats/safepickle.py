"""Loading keypoint pickles without letting them run code.

A pickle names the functions it calls while loading; ``load_pickle`` admits only the
handful numpy needs to rebuild arrays, so a hostile file is refused before anything runs.
"""

from __future__ import annotations

import importlib
import os
import pickle
import stat
import struct
from pathlib import Path
from typing import Any

from signpose.errors import SourceError, UnsafePickleError


_LATIN1 = {"latin1", "latin-1", "iso-8859-1", "iso8859-1"}


class _Global:
    """What ``find_class`` hands a pickle: a new object for every load, with no attributes
    of its own and none that can be set (BUILD / SETATTR on it fail), so one file cannot
    change what the next one gets. The real functions stay out of the pickle's reach."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise pickle.UnpicklingError(f"refused: the pickle sets {name!r} on a global it loaded")

    def __delattr__(self, name: str) -> None:
        raise pickle.UnpicklingError(f"refused: the pickle deletes {name!r} from a global it loaded")

    def __reduce__(self) -> Any:
        raise TypeError("a global handed to a pickle being loaded is not itself picklable")


class _Latin1Encode(_Global):
    """Protocol 0-2 pickles spell ``bytes`` as ``_codecs.encode(str, 'latin1')`` (numpy's
    array data among them). Only that spelling is honoured: other codecs (zlib, ...) are
    not something array data needs."""

    __slots__ = ()

    def __call__(self, text: Any, encoding: Any = "latin1", errors: Any = "strict") -> bytes:
        if not isinstance(text, str) or str(encoding).lower() not in _LATIN1 or errors != "strict":
            raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
        return text.encode("latin1")


class _EmptyBytes(_Global):
    """Protocol 0-2 spell ``b""`` as ``bytes()``; with arguments bytes() could allocate at will."""

    __slots__ = ()

    def __call__(self) -> bytes:
        return b""


class _Reconstruct(_Global):
    """``numpy.core.multiarray._reconstruct(ndarray, shape, dtype)``: an empty array that
    the pickle's BUILD then fills; only for ndarray itself."""

    __slots__ = ()

    def __call__(self, subtype: Any, shape: Any, dtype: Any) -> Any:
        import numpy

        if subtype is not numpy.ndarray:
            raise pickle.UnpicklingError("refused _reconstruct of anything but numpy.ndarray")
        return _numpy_callable("multiarray", "_reconstruct")(numpy.ndarray, shape, dtype)


class _Scalar(_Global):
    """``numpy.core.multiarray.scalar(dtype, data)``: a numpy scalar."""

    __slots__ = ()

    def __call__(self, *args: Any) -> Any:
        return _numpy_callable("multiarray", "scalar")(*args)


class _FromBuffer(_Global):
    """``numpy.core.numeric._frombuffer(buffer, dtype, shape, order)`` (protocol 5)."""

    __slots__ = ()

    def __call__(self, *args: Any) -> Any:
        return _numpy_callable("numeric", "_frombuffer")(*args)


class _DType(_Global):
    """``numpy.dtype(spec, align, copy)``, always as a copy: ``copy=False`` would hand the
    pickle numpy's shared dtype object, which BUILD would then change for everyone."""

    __slots__ = ()

    def __call__(self, spec: Any, align: Any = False, copy: Any = True) -> Any:
        import numpy

        return numpy.dtype(spec, bool(align), True)


def _numpy_callable(sub: str, name: str) -> Any:
    # numpy 1.x and 2.x each know only one spelling for sure; try both.
    for module in ("numpy._core." + sub, "numpy.core." + sub):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"this numpy has no {sub}.{name}")


# (submodule of numpy.core / numpy._core, name) -> the wrapper class standing in for it.
_NUMPY_CORE: dict[tuple[str, str], type[_Global]] = {
    ("multiarray", "_reconstruct"): _Reconstruct,
    ("multiarray", "scalar"): _Scalar,
    ("numeric", "_frombuffer"): _FromBuffer,
}


def _globals() -> dict[tuple[str, str], Any]:
    """The globals one load may ask for, made anew for it. ``numpy.ndarray`` is the real
    class (``_reconstruct`` needs it; numpy's types refuse attribute changes)."""
    import numpy

    empty_bytes = _EmptyBytes()
    table: dict[tuple[str, str], Any] = {
        ("_codecs", "encode"): _Latin1Encode(),
        ("builtins", "bytes"): empty_bytes,
        ("__builtin__", "bytes"): empty_bytes,  # protocol 0-2 spelling
        ("numpy", "ndarray"): numpy.ndarray,
        ("numpy", "dtype"): _DType(),
    }
    for prefix in ("numpy.core.", "numpy._core."):
        for (sub, name), kind in _NUMPY_CORE.items():
            table[(prefix + sub, name)] = kind()
    return table


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, handle: Any, path: Path) -> None:
        super().__init__(handle)
        self._path = path
        self._globals = _globals()

    def find_class(self, module: str, name: str) -> Any:
        found = self._globals.get((module, name))
        if found is None:
            raise UnsafePickleError(
                f"{self._path}: refused to load: the pickle asks for {module}.{name}, which the keypoint "
                "schema never needs (a pickle can run code when loaded; nothing was run)"
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not part of the keypoint schema")


# How decoding untrusted bytes fails; each means "not a readable pickle".
_UNREADABLE = (
    EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError, KeyError,
    struct.error, RecursionError, MemoryError, OverflowError,
)


def load_pickle(path: Path) -> Any:
    """Load a pickle that may only rebuild numpy arrays, dicts, lists and plain values.

    Raises UnsafePickleError for any other global, SourceError if the file is missing,
    truncated or not a pickle.
    """
    path = Path(path)
    try:
        # Non-blocking, and checked on the descriptor: a FIFO or device is refused, not waited on.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise SourceError(f"{path}: cannot open ({error.strerror or error})") from error
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SourceError(f"{path}: cannot open (not a regular file)")
    handle = os.fdopen(fd, "rb")
    with handle:
        try:
            return _RestrictedUnpickler(handle, path).load()
        except UnsafePickleError:
            raise
        except _UNREADABLE as error:
            reason = "it is truncated" if isinstance(error, EOFError) else f"{type(error).__name__}: {error}"
            raise SourceError(f"{path}: not a readable pickle ({reason})") from error
