"""The source's estimator: the 1-D CNN with a mean and a variance head per AM, trained with the
Gaussian NLL, its step chosen per AM on D_v1 (training.py), one backbone for all AMs
(`shared`) or one network per AM (`per_am`, as the source)."""
from __future__ import annotations

from dataclasses import asdict
from typing import ClassVar

import numpy as np
import torch

from ..config import Params
from ..errors import ParamsError
from .base import Checkpoint, Progress, RepeatData, RepeatResult, VoiceEstimator
from .cnn_model import CnnModel
from .training import TrainSettings, train_group

GPU_GROUP = 25  # repeats stacked into one network on a GPU when sfv.group_size is 0


class VoiceCNN(VoiceEstimator):
    per_am: ClassVar[bool]
    has_encoder = True
    progress_unit = "step"

    def __init__(self, settings: TrainSettings):
        self.settings = settings

    @classmethod
    def from_params(cls, params: Params) -> VoiceCNN:
        return cls(TrainSettings.from_params(params))

    def fingerprint(self, group_size: int) -> dict:
        """The training settings (the checkpoint interval aside: it only says how often
        pre-training is saved) and the group size (a stacked network's batch statistics)."""
        settings = asdict(self.settings)
        if settings["phonatory"]:
            del settings["phonatory"]["checkpoint_every"]
        return {"estimator": self.name, "settings": settings, "group_size": group_size}

    def group_size(self, requested: int, n_repeats: int, device: torch.device) -> int:
        """On a CPU one network at a time is fastest (a grouped convolution there costs more
        than the separate ones, docs/benchmarks.md); on a GPU stacking is what fills the device."""
        if requested:
            return requested
        return min(n_repeats, GPU_GROUP) if device.type == "cuda" else 1

    def progress_units(self, n_repeats: int) -> int:
        """Steps, pre-training included: every repeat of a group takes them together."""
        return self.settings.iterations + (self.settings.phonatory.steps if self.settings.phonatory else 0)

    def fit(self, repeats: list[RepeatData], device: torch.device, progress: Progress | None = None,
            checkpoint: Checkpoint | None = None) -> list[RepeatResult]:
        return train_group(repeats, self.settings, self.per_am, device, progress, checkpoint)

    @classmethod
    def load_model(cls, spec: dict, arrays: dict[str, np.ndarray]) -> CnnModel:
        return CnnModel.load(spec, arrays)


class SharedCNN(VoiceCNN):
    """One backbone and a head pair per AM, per repeat (sfv's default CNN)."""

    name = "shared"
    per_am = False


class PerAmCNN(VoiceCNN):
    """One network per AM, per repeat (the source's layout; 96 times the work)."""

    name = "per_am"
    per_am = True

    @classmethod
    def check(cls, params: Params) -> None:
        super().check(params)
        if params.sfv.phonatory and params.phonatory.weight > 0:
            raise ParamsError("phonatory.weight > 0 keeps one module per encoder while the heads train, which only "
                              "estimator: shared has (per_am would need one per AM)")
