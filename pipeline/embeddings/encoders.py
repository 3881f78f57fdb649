"""Encoder specs to encoders, and several encoders as one: what the stage and `sfv predict` call."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..config import EmbeddingParams
from ..errors import EncoderError
from .base import Encoder, resample

MIN_SPEECH_S = 0.5  # less speech than this gives no F0 statistics and a single, padded GE2E partial


@dataclass(frozen=True)
class EmbeddingSettings:
    """The encoders of a run and how they are fed (the `embedding:` section)."""

    specs: tuple[str, ...]
    layers: tuple[int, ...]
    window_s: float
    batch_size: int

    @classmethod
    def from_params(cls, params: EmbeddingParams) -> EmbeddingSettings:
        return cls(params.encoder, params.layers, params.window_s, params.batch_size)


def encoder_for(spec: str, layers: tuple[int, ...], window_s: float, batch_size: int,
                device: torch.device) -> Encoder:
    """The encoder a spec names: egemaps, praat, resemblyzer, speechbrain:<source>, hf:<source>."""
    kind, _, source = spec.partition(":")
    if spec == "egemaps":
        from .egemaps import EgemapsEncoder
        return EgemapsEncoder(window_s)
    if spec == "praat":
        from .praat import PraatEncoder
        return PraatEncoder(window_s)
    if spec == "resemblyzer":
        from .ge2e import ResemblyzerEncoder
        return ResemblyzerEncoder(batch_size, device)
    if kind == "speechbrain" and source:
        from .pretrained import SpeechBrainEncoder
        return SpeechBrainEncoder(source, window_s, batch_size, device)
    if kind == "hf" and source:
        from .pretrained import HfEncoder
        return HfEncoder(source, layers, window_s, batch_size, device)
    raise EncoderError(f"encoder {spec!r}: not one of egemaps, praat, resemblyzer, speechbrain:<source>, "
                       f"hf:<source>")


class EncoderSet:
    """Several encoders as one: their vectors concatenated in order, names prefixed by encoder
    (`praat/f1_mean_hz`), and the wall seconds each spent."""

    def __init__(self, encoders: list[Encoder]) -> None:
        self.encoders = encoders
        self.wall_s = {e.name: 0.0 for e in encoders}

    @classmethod
    def build(cls, settings: EmbeddingSettings, device: torch.device) -> EncoderSet:
        return cls([encoder_for(s, settings.layers, settings.window_s, settings.batch_size, device)
                    for s in settings.specs])

    def feature_names(self) -> list[str]:
        return [f"{e.name}/{n}" for e in self.encoders for n in e.feature_names()]

    def may_be_undefined(self) -> np.ndarray:
        """Boolean [D]: the dimensions that may hold NaN (Encoder.may_be_undefined)."""
        return np.array([n in e.may_be_undefined for e in self.encoders for n in e.feature_names()], dtype=bool)

    def dims(self) -> dict[str, int]:
        return {e.name: len(e.feature_names()) for e in self.encoders}

    def embed(self, waves: list[np.ndarray], sample_rate: int) -> np.ndarray:
        """Vectors [n, D] float32 of n speech-only waveforms at `sample_rate`, each resampled to
        every encoder's rate."""
        short = [i for i, w in enumerate(waves) if len(w) < MIN_SPEECH_S * sample_rate]
        if short:
            raise EncoderError(f"waveforms {short} hold under {MIN_SPEECH_S} s of speech")
        parts = []
        for encoder in self.encoders:
            start = time.perf_counter()
            parts.append(encoder.embed([resample(w, sample_rate, encoder.sample_rate) for w in waves]))
            self.wall_s[encoder.name] += time.perf_counter() - start
        return np.concatenate(parts, axis=1).astype(np.float32)


def embed_recordings(waves_16k: list[np.ndarray], specs: tuple[str, ...], layers: tuple[int, ...], window_s: float,
                     batch_size: int, device: torch.device) -> np.ndarray:
    """Vectors [n, D] of speech-only 16 kHz waveforms, as the embeddings stage computes them
    (for `sfv predict`; build an EncoderSet once instead when embedding many batches)."""
    return EncoderSet.build(EmbeddingSettings(specs, layers, window_s, batch_size), device).embed(waves_16k, 16000)
