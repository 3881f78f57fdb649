"""`stats_ridge`: ridge regression of the AMs on speaker statistics (ridge.py), as an estimator.

A speaker is one unit: the statistics of all their recordings pooled, one prediction, no
segments to fuse. Its penalty per AM is chosen on D_v1 (and D_t's GCV); the same SVD serves
every shuffling of the AMs, so it is the estimator that affords the exact permutation null.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
import pandas as pd
import torch

from ..config import Params
from .base import Checkpoint, FittedModel, Progress, RepeatData, RepeatResult, VoiceEstimator
from .null import permutation_table
from .ridge import StatsRidge
from .statistics import speaker_statistics

GROUP = 10  # repeats per group: they share their speakers' statistics, computed once


@dataclass(frozen=True)
class RidgeVoiceModel:
    """One repeat's fitted ridge, reading a speaker's recordings through their statistics."""

    ridge: StatsRidge

    def predict(self, recordings: list[np.ndarray], device: torch.device) -> tuple[np.ndarray, np.ndarray, int]:
        mean, var = self.ridge.predict(speaker_statistics(recordings)[None])
        return mean[0], var[0], 1

    def spec(self) -> dict:
        return {}

    def arrays(self) -> dict[str, np.ndarray]:
        return self.ridge.state()


class StatsRidgeEstimator(VoiceEstimator):
    name = "stats_ridge"
    supports_permutation = True
    clip: ClassVar[bool] = False  # new rows clipped to D_t's range (StatsRidge)

    @classmethod
    def from_params(cls, params: Params) -> StatsRidgeEstimator:
        return cls()

    def group_size(self, requested: int, n_repeats: int, device: torch.device) -> int:
        """Fixed: the results do not depend on it, and a longer run keeps its first repeats."""
        return GROUP

    def fit(self, repeats: list[RepeatData], device: torch.device, progress: Progress | None = None,
            checkpoint: Checkpoint | None = None) -> list[RepeatResult]:
        cache: dict[int, np.ndarray] = {}

        def statistics(recordings: list[np.ndarray]) -> np.ndarray:
            if id(recordings) not in cache:
                cache[id(recordings)] = self.vector(recordings)
            return cache[id(recordings)]

        results = []
        for data in repeats:
            results.append(fit_repeat(data, statistics, self.model, self.clip))
            if progress:
                progress(1)
        return results

    def vector(self, recordings: list[np.ndarray]) -> np.ndarray:
        """A speaker's input row of the ridge, from their recordings."""
        return speaker_statistics(recordings)

    def model(self, ridge: StatsRidge) -> FittedModel:
        """The fitted ridge as the model a repeat stores and `sfv predict` runs."""
        return RidgeVoiceModel(ridge)

    @classmethod
    def load_model(cls, spec: dict, arrays: dict[str, np.ndarray]) -> RidgeVoiceModel:
        return RidgeVoiceModel(StatsRidge.from_state(arrays))

    def permutation_null(self, splits: pd.DataFrame, features: dict[str, list[np.ndarray]], targets: pd.DataFrame,
                         permutations: int, exceedances: int, seed: int, desc: str) -> pd.DataFrame:
        return permutation_table(splits, features, targets, permutations, exceedances, seed, desc,
                                 self.vector, self.clip)


def fit_repeat(data: RepeatData, statistics: Callable[[list[np.ndarray]], np.ndarray] = speaker_statistics,
               model: Callable[[StatsRidge], FittedModel] = RidgeVoiceModel, clip: bool = False) -> RepeatResult:
    """One repeat: fitted on D_t, its penalties chosen on D_v1 (and D_t's GCV), predicting every
    scored speaker from all of their recordings at once (`statistics`: a cache of their input
    rows; `model` wraps the fitted ridge for storage and `sfv predict`)."""
    x_train = np.stack([statistics(r) for r in data.train_recordings])
    x_scored = np.stack([statistics(r) for r in data.scored_recordings])
    v1 = np.array([s == "v1" for s in data.scored_splits])
    ridge = StatsRidge(clip=clip).fit(x_train, data.train_targets, x_scored[v1], data.scored_targets[v1])
    mean, var = ridge.predict(x_scored)
    steps = np.arange(1, len(ridge.alphas) + 1)
    log = [(int(a), float(t), float(v)) for a, t, v in
           zip(steps, ridge.train_error_.mean(axis=1), ridge.select_error_.mean(axis=1))]
    return RepeatResult(data.repeat, mean, var, np.ones(len(mean), dtype=np.int64), ridge.alpha_index_ + 1,
                        model(ridge), log)
