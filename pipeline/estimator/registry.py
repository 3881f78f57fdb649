"""Every estimator `sfv.estimator` can name, and the only place its name is looked up.

Adding one: a `VoiceEstimator` subclass (base.py) and a line in `ESTIMATORS`
(docs/architecture.md, "Add an estimator").
"""
from __future__ import annotations

import numpy as np

from ..config import Params
from ..errors import ParamsError
from .base import FittedModel, VoiceEstimator
from .cnn import PerAmCNN, SharedCNN
from .embedding_ridge import EmbeddingRidgeEstimator
from .stats_ridge import StatsRidgeEstimator

ESTIMATORS: dict[str, type[VoiceEstimator]] = {
    cls.name: cls for cls in (StatsRidgeEstimator, EmbeddingRidgeEstimator, SharedCNN, PerAmCNN)}


def estimator_class(name: str) -> type[VoiceEstimator]:
    if name not in ESTIMATORS:
        raise ParamsError(f"sfv.estimator: unknown estimator {name!r}; use one of {', '.join(ESTIMATORS)}")
    return ESTIMATORS[name]


def check_params(params: Params) -> None:
    """Refuse, naming the key, what the named estimator cannot honour (training or test)."""
    cls = estimator_class(params.sfv.estimator)
    cls.check(params)
    cls.check_test(params)


def estimator_for(params: Params) -> VoiceEstimator:
    """The estimator params.yaml names, after it has checked its training parameters."""
    cls = estimator_class(params.sfv.estimator)
    cls.check(params)
    return cls.from_params(params)


def load_model(spec: dict, arrays: dict[str, np.ndarray]) -> FittedModel:
    """A stored repeat's model; `spec["estimator"]` names its class."""
    return estimator_class(spec["estimator"]).load_model(spec, arrays)
