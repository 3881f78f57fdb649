"""`embedding_ridge`: stats_ridge's ridge on the voice representations the field uses.

The input row of a speaker is the mean of their recordings' vectors from the `embeddings`
stage (eGeMAPS, Praat measures, a pretrained speaker or speech encoder, or several of them
joined), optionally followed by the log-mel statistics stats_ridge reads. Everything after the
row is stats_ridge's: the same splits, columns standardised on D_t, α per AM on D_t's GCV and
D_v1, the same variance model, permutation null, fusion and selection. A stored repeat records
the encoders it read, so `sfv predict` computes the same row for a new voice.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import Params
from ..embeddings import EmbeddingSettings
from ..errors import DatasetError
from .base import FittedModel
from .ridge import StatsRidge
from .statistics import speaker_statistics
from .stats_ridge import StatsRidgeEstimator


@dataclass(frozen=True)
class EmbeddingInput:
    """Which vectors make a speaker's row: the encoders' (in order) and, if `with_logmel`, the
    log-mel statistics after them."""

    encoders: tuple[str, ...]
    layers: tuple[int, ...]
    window_s: float
    batch_size: int  # a batch pads its windows to one length, so it is part of what made the vectors
    with_logmel: bool

    def spec(self) -> dict:
        return {"encoders": list(self.encoders), "layers": list(self.layers), "window_s": self.window_s,
                "batch_size": self.batch_size, "with_logmel": self.with_logmel}

    @classmethod
    def from_spec(cls, spec: dict) -> EmbeddingInput:
        return cls(tuple(spec["encoders"]), tuple(spec["layers"]), float(spec["window_s"]), int(spec["batch_size"]),
                   bool(spec["with_logmel"]))

    def settings(self) -> EmbeddingSettings:
        """How the embeddings stage made the vectors, for a new voice (`sfv predict`)."""
        return EmbeddingSettings(self.encoders, self.layers, self.window_s, self.batch_size)

    def row(self, embeddings: np.ndarray, logmels: list[np.ndarray] | None) -> np.ndarray:
        """A speaker's input row [P] from their recordings' vectors [n_rec, D] (and normalised
        log-mels, when the row carries their statistics). Recordings count equally, as the
        log-mel statistics pool them."""
        vector = np.asarray(embeddings, np.float64).mean(axis=0)
        return np.concatenate([vector, speaker_statistics(logmels)]) if self.with_logmel else vector


@dataclass(frozen=True)
class EmbeddingVoiceModel:
    """One repeat's ridge on input rows; `predict` reads the speaker's row, as [1, P]."""

    ridge: StatsRidge
    inputs: EmbeddingInput

    def predict(self, recordings: list[np.ndarray], device: torch.device) -> tuple[np.ndarray, np.ndarray, int]:
        mean, var = self.ridge.predict(np.concatenate(recordings).mean(axis=0)[None])
        return mean[0], var[0], 1

    def spec(self) -> dict:
        return {"input": self.inputs.spec()}

    def arrays(self) -> dict[str, np.ndarray]:
        return self.ridge.state()


class EmbeddingRidgeEstimator(StatsRidgeEstimator):
    name = "embedding_ridge"
    needs_embeddings = True
    clip = True  # GE2E's ReLU dimensions are zero in most speakers (StatsRidge)

    def __init__(self, inputs: EmbeddingInput) -> None:
        self.inputs = inputs

    @classmethod
    def from_params(cls, params: Params) -> EmbeddingRidgeEstimator:
        e = params.embedding
        return cls(EmbeddingInput(tuple(e.encoder), tuple(e.layers), e.window_s, e.batch_size, e.with_logmel))

    def fingerprint(self, group_size: int) -> dict:
        return {"estimator": self.name, "input": self.inputs.spec(), "clip": self.clip}

    def speaker_inputs(self, features: dict[str, list[np.ndarray]], embeddings: dict[str, np.ndarray] | None
                       ) -> dict[str, list[np.ndarray]]:
        """Each speaker's row, as their one 'recording' [1, P]: what `fit`, the permutation
        null and the stored model read."""
        missing = sorted(set(features) - set(embeddings or {}))
        if missing:
            raise DatasetError(f"embedding_ridge: no embeddings for speaker(s) {', '.join(missing[:5])}"
                            f"{' ...' if len(missing) > 5 else ''}; run the embeddings stage (dvc repro embeddings)")
        return {s: [self.inputs.row(embeddings[s], features[s] if self.inputs.with_logmel else None)[None]]
                for s in features}

    def vector(self, recordings: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(recordings).mean(axis=0)

    def model(self, ridge: StatsRidge) -> FittedModel:
        return EmbeddingVoiceModel(ridge, self.inputs)

    @classmethod
    def load_model(cls, spec: dict, arrays: dict[str, np.ndarray]) -> EmbeddingVoiceModel:
        return EmbeddingVoiceModel(StatsRidge.from_state(arrays), EmbeddingInput.from_spec(spec["input"]))
