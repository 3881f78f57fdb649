"""Whole-recording prediction: a recording cut into segments, and their predictions fused by
inverse-variance weighting."""
from __future__ import annotations

import numpy as np


def fuse(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fuse L segment predictions (mean, var [L, K]) of one speaker into one per AM.

    Returns m_hat [K] = w * sum_l F_l / G_l with 1/w = sum_l 1/G_l, the fused variance w [K]
    (as if segments were independent), and the calibrated uncertainty L * w [K]: segments of
    one voice are not independent, and L * w is the harmonic-mean variance of one segment,
    which does not shrink just because a recording is long.
    """
    mean, var = np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)
    if mean.shape != var.shape or mean.ndim != 2 or len(mean) == 0:
        raise ValueError(f"mean and var must both be [L >= 1, K], got {mean.shape} and {var.shape}")
    precision = 1.0 / var
    w = 1.0 / precision.sum(axis=0)
    return w * (mean * precision).sum(axis=0), w, len(mean) * w


def segment_starts(n_frames: int, length: int) -> np.ndarray:
    """Starts of non-overlapping segments of `length` frames covering a recording; a recording
    shorter than one segment is one (short) segment, and a tail of half a segment or more gets
    a last segment ending at the recording's end."""
    if n_frames <= length:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_frames - length + 1, length)
    if n_frames - (starts[-1] + length) >= length // 2:
        starts = np.append(starts, n_frames - length)
    return starts.astype(np.int64)


def crop(frames: np.ndarray, start: int, length: int) -> np.ndarray:
    """frames[start:start + length] as [n_mels, length]; a recording shorter than `length` is
    repeated end to end (the network needs one length per batch)."""
    if len(frames) < length:
        frames = np.tile(frames, (int(np.ceil(length / len(frames))) + 1, 1))
    return frames[start:start + length].T
