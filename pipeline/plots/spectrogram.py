"""Spectrograms with their phone alignment on top: a listening check that fits in a report."""
from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy.signal import spectrogram  # noqa: E402


def voice_sheet(recordings: Sequence[tuple[np.ndarray, int, Sequence[tuple[str, float, float]]]], *,
                titles: Sequence[str], seconds: float = 4.0, max_hz: float = 6000.0) -> Figure:
    """One row per recording: the first `seconds` as a log-power spectrogram (25 ms Hann
    windows, 5 ms hop) under the phone labels of its alignment (phone, start_s, end_s)."""
    fig, axes = plt.subplots(len(recordings), 1, figsize=(12, 2.3 * len(recordings)), squeeze=False)
    for ax, (audio, rate, phones), title in zip(axes[:, 0], recordings, titles):
        clip = np.asarray(audio[: int(seconds * rate)], dtype=float)
        freqs, times, power = spectrogram(clip, fs=rate, window="hann", nperseg=int(0.025 * rate),
                                          noverlap=int(0.020 * rate))
        keep = freqs <= max_hz
        db = 10.0 * np.log10(power[keep] + 1e-12)
        ax.pcolormesh(times, freqs[keep] / 1000.0, db, shading="auto", cmap="magma",
                      vmin=db.max() - 70.0, vmax=db.max())
        for phone, start, end in phones:
            if start >= seconds:
                break
            ax.axvline(start, color="white", linewidth=0.4, alpha=0.6)
            if phone != "sil":
                ax.text((start + min(end, seconds)) / 2.0, max_hz / 1000.0 * 0.97, phone, color="white",
                        fontsize=6, ha="center", va="top")
        ax.set_xlim(0.0, seconds)
        ax.set_ylabel("kHz")
        ax.set_title(title, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig
