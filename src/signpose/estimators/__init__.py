"""Estimators: frames in, keypoints out. The rest of signpose knows them only by
``EstimatorSpec`` and the ``Estimator`` protocol.

A spec's name is a registered name (``mediapipe``, the default; ``torch``) or an import
path ``package.module:factory`` for an estimator of your own; the factory is called with
the spec's params as keyword arguments.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from signpose.errors import EstimatorError
from signpose.estimators.base import Estimator, EstimatorSpec

REGISTRY: dict[str, str] = {
    "mediapipe": "signpose.estimators.mediapipe:MediaPipeHolistic",
    "torch": "signpose.estimators.gpu:TorchHolisticEstimator",
}
DEFAULT = "mediapipe"


def _factory(name: str) -> Any:
    target = REGISTRY.get(name, name)
    module_name, _, attribute = target.partition(":")
    if not attribute:
        raise EstimatorError(f"unknown estimator {name!r} (choose from {', '.join(REGISTRY)}, or give module:factory)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise EstimatorError(f"estimator {name!r} cannot be loaded: {error}") from error
    try:
        return getattr(module, attribute)
    except AttributeError as error:
        raise EstimatorError(f"estimator {name!r}: {module_name} has no {attribute}") from error


def estimator_modules(spec: EstimatorSpec) -> tuple[str, ...]:
    """The modules a worker imports to run ``spec``'s estimator: its own and what its
    ``preload`` attribute names (its heavy libraries), so a backend can import them once
    for all its workers. Empty when the estimator cannot be found (make_estimator says why)."""
    try:
        factory = _factory(spec.name)
    except EstimatorError:
        return ()
    return (factory.__module__, *getattr(factory, "preload", ()))


def make_estimator(spec: EstimatorSpec) -> Estimator:
    """The estimator a spec names, built (models load later, on the first clip).
    EstimatorError for an unknown name, option or a missing model file."""
    factory = _factory(spec.name)
    try:  # checked against the signature, so a TypeError inside the factory stays a bug
        inspect.signature(factory).bind(**spec.options)
    except TypeError as error:
        raise EstimatorError(f"estimator {spec.name!r}: {error}") from error
    return factory(**spec.options)


__all__ = ["DEFAULT", "REGISTRY", "Estimator", "EstimatorSpec", "estimator_modules", "make_estimator"]
