"""The voice -> AM estimators behind `sfv.estimator`, one entry point for all of them.

Every estimator takes a repeat's data (D_t to learn from, D_v1 to choose on, D_v1/D_v2/D_e
to predict) and returns the same RepeatResult: z-scale means and calibrated variances per
scored speaker and AM, the selected step (CNN) or penalty (ridge) per AM, a log, and the
arrays needed to predict a new voice. Selection, fusion across repeats and reconstruction
never need to know which estimator made them.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .pretrain import Checkpoint
from .ridge import StatsRidge
from .statistics import speaker_statistics
from .training import RepeatData, RepeatResult, TrainSettings, train_group as train_cnn_group

CNN_ESTIMATORS = ("shared", "per_am")
ESTIMATORS = (*CNN_ESTIMATORS, "stats_ridge")
RIDGE_KEY = "ridge"


def is_cnn(estimator: str) -> bool:
    return estimator in CNN_ESTIMATORS


def progress_units(settings: TrainSettings, n_repeats: int) -> int:
    """The units of progress one group reports: its steps, pre-training included (CNN), or
    its repeats (ridge)."""
    if not is_cnn(settings.estimator):
        return n_repeats
    return settings.iterations + (settings.phonatory.steps if settings.phonatory else 0)


def fit_group(repeats: list[RepeatData], settings: TrainSettings, device: torch.device,
              progress: Callable[[int], None] | None = None, checkpoint: Checkpoint | None = None
              ) -> list[RepeatResult]:
    """Train or fit the estimators of a group of repeats (progress: one unit per CNN step,
    or per fitted repeat for the ridge; `checkpoint`: where the phonatory pre-training of
    this group is saved and resumed)."""
    if is_cnn(settings.estimator):
        return train_cnn_group(repeats, settings, device, progress, checkpoint)
    if settings.estimator != "stats_ridge":
        raise ValueError(f"unknown estimator {settings.estimator!r} (one of {', '.join(ESTIMATORS)})")
    # The repeats of a group share their speakers' recording lists: statistics once per speaker.
    cache: dict[int, np.ndarray] = {}

    def statistics(recordings: list[np.ndarray]) -> np.ndarray:
        if id(recordings) not in cache:
            cache[id(recordings)] = speaker_statistics(recordings)
        return cache[id(recordings)]

    results = []
    for data in repeats:
        results.append(fit_ridge_repeat(data, statistics))
        if progress:
            progress(1)
    return results


def fit_ridge_repeat(data: RepeatData,
                     statistics: Callable[[list[np.ndarray]], np.ndarray] = speaker_statistics) -> RepeatResult:
    """The stats_ridge estimator of one repeat: fitted on D_t, its penalties chosen on D_v1
    (and D_t's GCV), predicting every scored speaker from all of their recordings at once."""
    x_train = np.stack([statistics(r) for r in data.train_recordings])
    x_scored = np.stack([statistics(r) for r in data.scored_recordings])
    v1 = np.array([s == "v1" for s in data.scored_splits])
    model = StatsRidge().fit(x_train, data.train_targets, x_scored[v1], data.scored_targets[v1])
    mean, var = model.predict(x_scored)
    steps = np.arange(1, len(model.alphas) + 1)
    log = [(int(a), float(t), float(v)) for a, t, v in
           zip(steps, model.train_error_.mean(axis=1), model.select_error_.mean(axis=1))]
    n_ams = data.train_targets.shape[1]
    return RepeatResult(data.repeat, mean, var, np.ones(len(mean), dtype=np.int64), model.alpha_index_ + 1,
                        networks={RIDGE_KEY: model.state()}, network_of_am=[RIDGE_KEY] * n_ams, log=log)
