"""Loading keypoint pickles without letting them run code.

A pickle names the functions it calls while loading; ``load_pickle`` admits only the
handful numpy needs to rebuild arrays, so a hostile file is refused before anything runs.
"""

from __future__ import annotations

import importlib
import pickle
import struct
from pathlib import Path
from typing import Any


class SourceError(Exception):
    """An input that cannot be read, or is not of the expected schema."""


class UnsafePickleError(SourceError):
    """A pickle asked for a global that the keypoint schema never needs."""


# (submodule of numpy.core / numpy._core, name): what ndarray and numpy scalars reduce to.
_NUMPY_CORE = {
    ("multiarray", "_reconstruct"),
    ("multiarray", "scalar"),
    ("numeric", "_frombuffer"),
}
_NUMPY_TOP = {"ndarray", "dtype"}
_LATIN1 = {"latin1", "latin-1", "iso-8859-1", "iso8859-1"}


def _latin1_encode(text: Any, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """Protocol 0-2 pickles spell ``bytes`` as ``_codecs.encode(str, 'latin1')`` (numpy's
    array data among them). Only that spelling is honoured: other codecs (zlib, ...) are
    not something array data needs."""
    if not isinstance(text, str) or str(encoding).lower() not in _LATIN1 or errors != "strict":
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _empty_bytes() -> bytes:
    """Protocol 0-2 spell ``b""`` as ``bytes()``; with arguments bytes() could allocate at will."""
    return b""


def _numpy_global(module: str, name: str) -> Any | None:
    if module == "numpy" and name in _NUMPY_TOP:
        return getattr(importlib.import_module("numpy"), name)
    for prefix in ("numpy.core.", "numpy._core."):
        if module.startswith(prefix) and (module[len(prefix):], name) in _NUMPY_CORE:
            sub = module[len(prefix):]
            # numpy 1.x and 2.x each know only one spelling for sure; try both.
            for candidate in (module, "numpy._core." + sub, "numpy.core." + sub):
                try:
                    return getattr(importlib.import_module(candidate), name)
                except (ImportError, AttributeError):
                    continue
    return None


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, handle: Any, path: Path) -> None:
        super().__init__(handle)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module in ("builtins", "__builtin__") and name == "bytes":
            return _empty_bytes
        found = _numpy_global(module, name)
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
        handle = path.open("rb")
    except OSError as error:
        raise SourceError(f"{path}: cannot open ({error.strerror or error})") from error
    with handle:
        try:
            return _RestrictedUnpickler(handle, path).load()
        except UnsafePickleError:
            raise
        except _UNREADABLE as error:
            reason = "it is truncated" if isinstance(error, EOFError) else f"{type(error).__name__}: {error}"
            raise SourceError(f"{path}: not a readable pickle ({reason})") from error
