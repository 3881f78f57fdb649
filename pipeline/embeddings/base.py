"""The encoder contract and what every encoder shares: windows, resampling, optional imports.

Each encoder turns speech-only waveforms at its own rate into one vector per waveform. Long
recordings are cut into equal windows and the windows' vectors averaged, weighted by length,
so an encoder never holds more than one window of audio per batch item.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from types import ModuleType

import librosa
import numpy as np

from ..errors import EncoderError

INSTALL_HINT = "install the encoders extra: pip install -e '.[encoders]'"


def require(module: str, encoder: str) -> ModuleType:
    """Import an optional package, or say which extra brings it (the encoders are optional)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise EncoderError(f"encoder {encoder}: the package {module!r} is not installed ({err}); "
                           f"{INSTALL_HINT}.") from None
    except OSError as err:  # installed but a compiled part does not load (torchaudio built for another torch)
        raise EncoderError(f"encoder {encoder}: the package {module!r} is installed but does not load ({err}); "
                           f"reinstall it for this torch ({importlib.import_module('torch').__version__}), "
                           f"docs/embeddings.md.") from None


class Encoder(ABC):
    """One vector per speech-only waveform (float32 mono at `sample_rate`)."""

    name: str
    sample_rate: int
    # measures that can be undefined on real speech (too few periods for jitter): stored as NaN,
    # counted in meta.json; any other undefined value stops the stage
    may_be_undefined: frozenset[str] = frozenset()

    @abstractmethod
    def feature_names(self) -> list[str]:
        """One name per dimension of the vectors."""

    @abstractmethod
    def embed(self, waves: list[np.ndarray]) -> np.ndarray:
        """Vectors [n, D] float32 of n waveforms."""


class WindowedEncoder(Encoder):
    """An encoder that embeds windows of at most `window_s` seconds and averages them."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s

    @abstractmethod
    def embed_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        """Vectors [n, D] of windows no longer than `window_s` (NaN where a measure is undefined)."""

    def embed(self, waves: list[np.ndarray]) -> np.ndarray:
        pieces = [split_windows(wave, self.sample_rate, self.window_s) for wave in waves]
        vectors = self.embed_windows([w for windows in pieces for w in windows])
        out, start = [], 0
        for windows in pieces:
            weights = np.array([len(w) for w in windows], dtype=float)
            out.append(weighted_mean(vectors[start:start + len(windows)], weights))
            start += len(windows)
        return np.asarray(out, dtype=np.float32).reshape(len(waves), len(self.feature_names()))


def split_windows(wave: np.ndarray, sample_rate: int, window_s: float) -> list[np.ndarray]:
    """The fewest equal windows of at most window_s each (a 25 s recording at 10 s: three of
    8.3 s, rather than two of 10 s and a 5 s tail whose statistics would be noisier)."""
    n = max(1, int(np.ceil(len(wave) / (window_s * sample_rate))))
    return np.array_split(wave, n)


def weighted_mean(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted mean of rows [n, D], per column over the rows where it is defined (a window
    without voicing has no F0); NaN where no row is."""
    defined = np.isfinite(vectors)
    w = defined * weights[:, None]
    total = w.sum(0)
    summed = (np.where(defined, vectors, 0.0) * w).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, summed / np.where(total > 0, total, 1.0), np.nan)


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """wave at `target` Hz (soxr, as the audio loader)."""
    if rate == target:
        return np.ascontiguousarray(wave, dtype=np.float32)
    return librosa.resample(wave, orig_sr=rate, target_sr=target, res_type="soxr_hq").astype(np.float32)
