"""The contract every voice -> AM estimator keeps, and the records that cross it.

An estimator (`VoiceEstimator`) holds its hyper-parameters, built from params.yaml by
`from_params`. `fit` learns each repeat of a group on its D_t, makes every choice (a CNN's
step, the ridge's penalty) on its D_v1, and returns per repeat a `RepeatResult`: the z-scale
means and calibrated variances of its scored speakers (D_v1, D_v2, D_e) and a `FittedModel`
whose `predict` answers for a new voice. Repeats are fitted in groups because stacking them
is what makes the CNN fast; an estimator with nothing to share fits them one by one.

Selection, fusion across repeats, reconstruction and `sfv predict` only see these records,
so a new estimator is a class here and a line in the registry (docs/architecture.md).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Protocol

import numpy as np
import pandas as pd
import torch

from ..config import Params
from ..errors import ParamsError

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Checkpoint:
    """Where a group's pre-training is saved, and what it must match to be resumed."""

    path: Path
    fingerprint: str


@dataclass(frozen=True)
class RepeatData:
    """What one repeat learns from and scores; targets are z-scored with this repeat's D_t."""

    repeat: int
    seed: int
    train_features: list[np.ndarray]  # D_t speakers' frames [frames, n_mels], recordings joined
    train_targets: np.ndarray  # [n_t, K] z-scale
    scored_ids: list[str]  # D_v1, D_v2, D_e speakers
    scored_splits: list[str]
    scored_recordings: list[list[np.ndarray]]  # each speaker's recordings [frames, n_mels]
    scored_targets: np.ndarray  # [n_s, K] z-scale (D_v1 rows make the choices)
    train_recordings: list[list[np.ndarray]] = field(default_factory=list)  # D_t speakers' recordings, apart
    train_waveforms: list[list[np.ndarray]] = field(default_factory=list)  # their speech samples (phonatory module)


class FittedModel(Protocol):
    """One repeat's learned estimator: what `sfv predict` and the stored repeat keep."""

    def predict(self, recordings: list[np.ndarray], device: torch.device) -> tuple[np.ndarray, np.ndarray, int]:
        """A speaker's z-scale means [K], calibrated variances [K] and the number of units
        fused (segments, or 1 for an estimator that reads the whole speaker at once), from
        normalised log-mel recordings [frames, n_mels]."""

    def spec(self) -> dict:
        """What rebuilding the model needs besides its arrays (JSON-serialisable)."""

    def arrays(self) -> dict[str, np.ndarray]:
        """The learned arrays, flat names, for storage."""


@dataclass
class RepeatResult:
    repeat: int
    mean_z: np.ndarray  # [n_s, K] the scored speakers' predictions, at each AM's choice
    var_z: np.ndarray  # [n_s, K] calibrated uncertainty
    n_segments: np.ndarray  # [n_s] units fused per speaker (1 for a whole-speaker estimator)
    choice: np.ndarray  # [K] what D_v1 chose per AM: the CNN's step, the ridge's penalty number (1-based)
    model: FittedModel
    log: list[tuple[int, float, float]] = field(default_factory=list)  # (choice, training loss, D_v1 MSE)
    pretrain_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [steps] phonatory ε-loss


class VoiceEstimator(ABC):
    """A voice -> AM estimator: hyper-parameters in the instance, learning in `fit`."""

    name: ClassVar[str]  # its value of sfv.estimator
    supports_permutation: ClassVar[bool] = False  # cheap enough to refit B x N times (sfv.test: permutation)
    has_encoder: ClassVar[bool] = False  # a trainable voice encoder (sfv.phonatory pre-trains it)
    progress_unit: ClassVar[str] = "repeat"  # what `progress_units` counts
    needs_embeddings: ClassVar[bool] = False  # reads the embeddings stage's vectors (speaker_inputs)

    @classmethod
    @abstractmethod
    def from_params(cls, params: Params) -> VoiceEstimator:
        """The estimator params.yaml describes."""

    @classmethod
    def check(cls, params: Params) -> None:
        """Refuse, naming the key, training parameters this estimator cannot honour."""
        if params.sfv.phonatory and not cls.has_encoder:
            raise ParamsError(f"sfv.phonatory: the phonatory module trains a voice encoder, and {cls.name} has none; "
                              f"use an estimator with one ({', '.join(_with_encoder())}) and test: corrected")

    @classmethod
    def check_test(cls, params: Params) -> None:
        """Refuse a selection test that needs what this estimator cannot give."""
        if params.sfv.test == "permutation" and not cls.supports_permutation:
            raise ParamsError(f"sfv.test: permutation refits the estimator {params.sfv.permutations} times per "
                              f"repeat, which only {', '.join(_permutable())} afford(s); with estimator {cls.name} "
                              f"use test: corrected (or paper)")

    def fingerprint(self, group_size: int) -> dict:
        """Everything of this estimator a repeat's result depends on, and nothing else (so a
        setting another estimator reads never refits this one's stored repeats)."""
        return {"estimator": self.name}

    def speaker_inputs(self, features: dict[str, list[np.ndarray]], embeddings: dict[str, np.ndarray] | None
                       ) -> dict[str, list[np.ndarray]]:
        """What `fit` and the permutation null read per speaker, from their normalised log-mel
        recordings and (needs_embeddings) their recordings' vectors [n_rec, D]."""
        return features

    def group_size(self, requested: int, n_repeats: int, device: torch.device) -> int:
        """Repeats fitted together; 0 asks for the estimator's own choice."""
        return requested or 1

    def progress_units(self, n_repeats: int) -> int:
        """The units of progress one group of `n_repeats` reports."""
        return n_repeats

    @abstractmethod
    def fit(self, repeats: list[RepeatData], device: torch.device, progress: Progress | None = None,
            checkpoint: Checkpoint | None = None) -> list[RepeatResult]:
        """Learn every repeat of the group (on D_t, choosing on D_v1) and score D_v1, D_v2 and D_e."""

    @classmethod
    @abstractmethod
    def load_model(cls, spec: dict, arrays: dict[str, np.ndarray]) -> FittedModel:
        """A stored repeat's model, from what `FittedModel.spec` and `arrays` saved."""

    def permutation_null(self, splits: pd.DataFrame, features: dict[str, list[np.ndarray]], targets: pd.DataFrame,
                         permutations: int, exceedances: int, seed: int, desc: str) -> pd.DataFrame:
        """The selection statistic under up to B shufflings of the AMs, each AM's stopping after
        `exceedances` shuffled values reach its observed one (supports_permutation only)."""
        raise NotImplementedError(f"{self.name} does not support the permutation null")


def _permutable() -> list[str]:
    from .registry import ESTIMATORS

    return [name for name, cls in ESTIMATORS.items() if cls.supports_permutation]


def _with_encoder() -> list[str]:
    from .registry import ESTIMATORS

    return [name for name, cls in ESTIMATORS.items() if cls.has_encoder]
