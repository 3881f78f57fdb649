"""Speaker-level statistics of normalised log-mels: the input of the sample-efficient estimators.

Per-recording normalisation sets every band's mean to 0 and its SD to 1 over the speech
frames, so the long-term spectrum is gone; what is left of a speaker's formants, nasal
resonances and source is in the shape of each band's distribution, in how the bands move
together, and in how fast they change. A few thousand such numbers summarise a speaker's
whole recording steadily, where a CNN has to find them from 105 voices.
"""
from __future__ import annotations

import numpy as np

QUANTILES = (0.1, 0.5, 0.9)


def statistic_names(n_mels: int) -> list[str]:
    """Names of the entries of `speaker_statistics`, in order."""
    bands = range(1, n_mels + 1)
    upper = zip(*np.triu_indices(n_mels, 1))
    return ([f"skew_{b}" for b in bands] + [f"kurtosis_{b}" for b in bands]
            + [f"corr_{i + 1}_{j + 1}" for i, j in upper] + [f"delta_sd_{b}" for b in bands]
            + [f"lag1_{b}" for b in bands]
            + [f"q{round(100 * q)}_{b}" for q in QUANTILES for b in bands])


def speaker_statistics(recordings: list[np.ndarray]) -> np.ndarray:
    """Statistics [P] of one speaker's normalised log-mel recordings (each [frames, n_mels]),
    pooled over all their frames: per band the third and fourth moments, the 10/50/90 %
    quantiles, the SD of the frame-to-frame change and the lag-1 autocorrelation, and the
    correlation of every pair of bands. P = n_mels * (n_mels + 13) / 2 (2,464 for 64 bands).

    The moments are raw moments of already standardised bands; the frame-to-frame terms are
    taken within each recording, never across the joint between two.
    """
    if not recordings or any(r.ndim != 2 or len(r) < 2 for r in recordings):
        raise ValueError("statistics need at least one recording of two or more frames [frames, n_mels]")
    x = np.concatenate(recordings).astype(np.float64)
    n_mels = x.shape[1]
    steps = np.concatenate([np.diff(r.astype(np.float64), axis=0) for r in recordings])
    lagged = np.concatenate([r[1:].astype(np.float64) * r[:-1] for r in recordings])
    correlation = (x.T @ x) / len(x)
    return np.concatenate([
        (x ** 3).mean(0), (x ** 4).mean(0), correlation[np.triu_indices(n_mels, 1)],
        steps.std(0), lagged.mean(0), np.quantile(x, QUANTILES, axis=0).ravel(),
    ])
