"""Estimators: frames in, keypoints out. The rest of signpose knows them only by
``EstimatorSpec`` and the ``Estimator`` protocol.

A spec's name is a registered name (``litert``, the default; ``mediapipe``; ``torch``) or an import
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
    "litert": "signpose.estimators.litert:LiteRTHolistic",
    "mediapipe": "signpose.estimators.mediapipe:MediaPipeHolistic",
    "torch": "signpose.estimators.torch_holistic.estimator:TorchHolisticEstimator",
}
DEFAULT = "litert"


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


def default_options(name: str) -> dict[str, Any]:
    """The options the named estimator takes, with their defaults (what a run records for
    an option left unsaid: ``mode`` is ``image`` for mediapipe, ``frame`` for the others)."""
    parameters = inspect.signature(_factory(name)).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}


def make_estimator(spec: EstimatorSpec) -> Estimator:
    """The estimator a spec names, built (models load later, in ``load`` or on the first
    clip). EstimatorError for an unknown name or option, a missing model file, or an
    estimator that does not offer the whole ``Estimator`` protocol."""
    factory = _factory(spec.name)
    try:  # checked against the signature, so a TypeError inside the factory stays a bug
        inspect.signature(factory).bind(**spec.options)
    except TypeError as error:
        raise EstimatorError(f"estimator {spec.name!r}: {error}") from error
    estimator = factory(**spec.options)
    if not isinstance(estimator, Estimator):
        wanted = ("layout", "hints", "load", "estimate_clip", "estimate_clips", "close", "provenance")
        missing = [name for name in wanted if not hasattr(estimator, name)]
        raise EstimatorError(f"estimator {spec.name!r} lacks {', '.join(missing)} (see signpose.estimators.base.EstimatorBase)")
    return estimator


__all__ = ["DEFAULT", "REGISTRY", "Estimator", "EstimatorSpec", "default_options", "make_estimator"]
