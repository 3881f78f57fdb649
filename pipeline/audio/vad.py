"""Voice activity detection: Silero's neural VAD (shipped inside the silero-vad package, no
download) and an energy detector as a dependency-light fallback. Both return speech segments
[k, 2] in seconds."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

SEGMENT_DECIMALS = 3  # segments are stored in milliseconds
# Silero hears every recording at one level: its loud frames (the LEVEL_PERCENTILE-th
# percentile of the RMS of LEVEL_FRAME_MS frames) at LEVEL_DBFS, raised by at most MAX_GAIN_DB.
LEVEL_DBFS = -20.0
LEVEL_PERCENTILE = 95
MAX_GAIN_DB = 60.0
LEVEL_FRAME_MS = 32
Progress = Callable[[float], None]  # hears the percent of a recording done
Detector = Callable[..., np.ndarray]  # (audio, progress=None) -> segments [k, 2] (s)


def energy_vad(audio: np.ndarray, sample_rate: int, *, threshold_db: float, min_speech_s: float,
               min_silence_s: float, frame_ms: float = 20.0) -> np.ndarray:
    """Segments where the frame energy is `threshold_db` above the recording's noise floor
    (the 10th percentile of frame energies); gaps shorter than `min_silence_s` are bridged and
    segments shorter than `min_speech_s` dropped."""
    hop = int(sample_rate * frame_ms / 1000)
    n = len(audio) // hop
    if n == 0:
        return np.zeros((0, 2))
    frames = audio[: n * hop].reshape(n, hop).astype(np.float64)
    energy_db = 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    active = energy_db > np.percentile(energy_db, 10) + threshold_db
    return _clean(_runs(active) * hop / sample_rate, min_speech_s, min_silence_s)


def level_normalised(audio: np.ndarray) -> np.ndarray:
    """16 kHz `audio` scaled so its loud frames sit at LEVEL_DBFS, clipped to ±1 (float32). Silero's
    speech probability falls with the level: in the paper-scale run (docs/planning.md) a quiet
    synthetic recording had no speech for it at all, and found it 12 dB louder. Digital silence
    stays silence, and the gain cap keeps a near-silent recording near silent."""
    audio = np.asarray(audio, dtype=np.float32)
    frame = SileroVad.sample_rate * LEVEL_FRAME_MS // 1000
    n = len(audio) // frame
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1))
    level = float(np.percentile(rms, LEVEL_PERCENTILE))
    if level <= 0:
        return audio
    gain = min(10 ** (LEVEL_DBFS / 20) / level, 10 ** (MAX_GAIN_DB / 20))
    return np.clip(audio * gain, -1.0, 1.0).astype(np.float32)


class SileroVad:
    """Silero VAD (v5+, JIT model from the silero-vad package) at 16 kHz.

    Importing silero_vad sets torch's thread count to 1 for the whole process; it is restored
    here so the rest of a process keeps its cores. The model itself runs on one thread: it
    steps through 32 ms windows, too small to share, and on a loaded 2-core machine the waiting
    of torch's thread pool made it many times slower (issue 31).
    """

    sample_rate = 16000

    def __init__(self, threshold: float, min_speech_s: float, min_silence_s: float) -> None:
        threads = torch.get_num_threads()
        from silero_vad import get_speech_timestamps, load_silero_vad

        torch.set_num_threads(threads)
        self._model = load_silero_vad()
        self._timestamps = get_speech_timestamps
        self.threshold, self.min_speech_s, self.min_silence_s = threshold, min_speech_s, min_silence_s

    def __call__(self, audio: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """Speech segments [k, 2] (s) of 16 kHz audio; `progress` hears the percent done (Silero
        steps through the audio window by window, minutes for an hour-long recording)."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            found = self._timestamps(torch.from_numpy(np.ascontiguousarray(level_normalised(audio))), self._model,
                                     threshold=self.threshold, sampling_rate=self.sample_rate,
                                     min_speech_duration_ms=int(1000 * self.min_speech_s),
                                     min_silence_duration_ms=int(1000 * self.min_silence_s), speech_pad_ms=30,
                                     progress_tracking_callback=progress)
        finally:
            torch.set_num_threads(threads)
        self._model.reset_states()
        return np.array([[t["start"], t["end"]] for t in found], dtype=float).reshape(-1, 2) / self.sample_rate


def _runs(active: np.ndarray) -> np.ndarray:
    """[k, 2] frame index ranges [start, end) of the True runs."""
    edges = np.diff(np.r_[0, active.astype(np.int8), 0])
    return np.column_stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)]).astype(float)


def _clean(segments: np.ndarray, min_speech_s: float, min_silence_s: float) -> np.ndarray:
    merged: list[list[float]] = []
    for start, end in segments:
        if merged and start - merged[-1][1] < min_silence_s:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    out = np.array([s for s in merged if s[1] - s[0] >= min_speech_s], dtype=float)
    return out.reshape(-1, 2)


def frame_f1(truth: np.ndarray, found: np.ndarray, duration_s: float, hop_s: float = 0.01) -> float:
    """F1 of speech frames (hop_s grid) between two segment lists [k, 2] (s)."""
    n = int(duration_s / hop_s)
    centres = (np.arange(n) + 0.5) * hop_s

    def mask(segments):
        m = np.zeros(n, dtype=bool)
        for start, end in segments:
            m |= (centres >= start) & (centres < end)
        return m

    t, f = mask(truth), mask(found)
    return float(2 * (t & f).sum() / max(t.sum() + f.sum(), 1))


def make_detector(method: str, sample_rate: int, *, vad_threshold: float, energy_threshold_db: float,
                  min_speech_s: float, min_silence_s: float) -> Detector:
    """The VAD the settings name (`audio.vad`: silero | energy), as (audio, progress=None) ->
    segments [k, 2] (s); the vad stage and `sfv predict` both take it from here. The energy VAD
    is one vectorised pass and reports no progress."""
    if method == "silero":
        return SileroVad(vad_threshold, min_speech_s, min_silence_s)
    if method == "energy":
        return lambda wave, progress=None: energy_vad(wave, sample_rate, threshold_db=energy_threshold_db,
                                                      min_speech_s=min_speech_s, min_silence_s=min_silence_s)
    raise ValueError(f"unknown VAD {method!r}; use silero or energy")


def stored_segments(segments: np.ndarray) -> np.ndarray:
    """Segments [n, 2] (s) rounded as the vad stage stores them (decimal milliseconds), so
    `sfv predict` frames a new voice exactly as the pipeline framed its recordings."""
    rounded = [float(f"{v:.{SEGMENT_DECIMALS}f}") for v in np.asarray(segments, np.float64).ravel()]
    return np.asarray(rounded, np.float64).reshape(-1, 2)
