"""Praat's voice measures through parselmouth, the ones the voice-profiling literature reads
size and shape from (docs/embeddings.md defines each).

Formants are read at the voiced frames only (where Praat's pitch tracker finds F0), because
a formant track through silence or frication measures noise. The vocal-tract length comes
from the formant spacing of a uniform tube closed at the glottis and open at the lips:
F_i = (2i - 1) c / (4 L), so the spacing ΔF = c / (2 L) and L = c / (2 ΔF), with ΔF fitted
to F1..F4 by least squares through the origin (Reby & McComb 2003) and c = 35,000 cm/s, the
speed of sound in warm, humid air at body temperature.
"""
from __future__ import annotations

import numpy as np

from .base import WindowedEncoder, require

SPEED_OF_SOUND_CM_S = 35000.0
PITCH_FLOOR_HZ = 60.0  # below any adult F0 of modal speech
PITCH_CEILING_HZ = 500.0
# Praat calls a frame silent when it is this much quieter than the sound's loudest peak; the
# input is speech the VAD kept, so silence is decided already, and one click in a recording
# would otherwise silence all of it.
SILENCE_THRESHOLD = 0.0
MAX_FORMANT_HZ = 5500.0  # Praat's setting for 5 formants of an adult female; the usual cohort-wide choice
TIME_STEP_S = 0.01
FORMANTS = 4
F0_QUANTILES = (0.05, 0.5, 0.95)
# Praat's standard jitter and shimmer settings: periods 0.1-20 ms, period factor 1.3, amplitude factor 1.6
PERIOD_RANGE_S = (0.0001, 0.02)
PERIOD_FACTOR = 1.3
AMPLITUDE_FACTOR = 1.6

FEATURES = ([f"f{i}_mean_hz" for i in range(1, FORMANTS + 1)] + [f"f{i}_sd_hz" for i in range(1, FORMANTS + 1)]
            + ["formant_dispersion_hz", "formant_spacing_hz", "vtl_cm", "f0_mean_hz", "f0_sd_hz"]
            + [f"f0_q{round(100 * q):02d}_hz" for q in F0_QUANTILES]
            + ["hnr_db", "jitter_local", "shimmer_local", "voiced_share"])


class PraatEncoder(WindowedEncoder):
    """The measures of FEATURES per window, averaged over windows (NaN where undefined)."""

    name = "praat"
    sample_rate = 16000
    # Praat needs runs of consecutive periods within PERIOD_FACTOR of each other: a low, breathy
    # voice can have none (one recording of the default synthetic world has none)
    may_be_undefined = frozenset({"jitter_local", "shimmer_local", "hnr_db"})

    def __init__(self, window_s: float) -> None:
        super().__init__(window_s)
        self._pm = require("parselmouth", self.name)

    def feature_names(self) -> list[str]:
        return list(FEATURES)

    def embed_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        return np.stack([self.measure(w) for w in windows])

    def measure(self, wave: np.ndarray) -> np.ndarray:
        """FEATURES of one stretch of speech."""
        pm = self._pm
        call = pm.praat.call
        sound = pm.Sound(wave.astype(np.float64), sampling_frequency=self.sample_rate)
        pitch = sound.to_pitch_ac(time_step=TIME_STEP_S, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ,
                                  silence_threshold=SILENCE_THRESHOLD)
        f0 = pitch.selected_array["frequency"]
        times = pitch.xs()
        voiced = f0 > 0
        formant = sound.to_formant_burg(time_step=TIME_STEP_S, max_number_of_formants=5,
                                        maximum_formant=MAX_FORMANT_HZ)
        tracks = np.array([[formant.get_value_at_time(i, t) for t in times[voiced]]
                           for i in range(1, FORMANTS + 1)]).reshape(FORMANTS, -1)
        means = np.array([_nan_stat(np.nanmean, row) for row in tracks])
        sds = np.array([_nan_stat(np.nanstd, row) for row in tracks])
        order = 2 * np.arange(1, FORMANTS + 1) - 1  # F_i = (2i - 1) ΔF / 2
        spacing = float(np.sum(means * order / 2) / np.sum((order / 2) ** 2))
        dispersion = (means[-1] - means[0]) / (FORMANTS - 1)  # Fitch (1997)
        vtl = SPEED_OF_SOUND_CM_S / (2 * spacing) if np.isfinite(spacing) and spacing > 0 else np.nan
        f0v = f0[voiced]
        f0_stats = ([f0v.mean(), f0v.std()] + list(np.quantile(f0v, F0_QUANTILES)) if voiced.any()
                    else [np.nan] * (2 + len(F0_QUANTILES)))
        harmonicity = sound.to_harmonicity_cc(time_step=TIME_STEP_S, minimum_pitch=PITCH_FLOOR_HZ,
                                              silence_threshold=SILENCE_THRESHOLD)
        hnr = harmonicity.values[harmonicity.values > -200]  # Praat's -200 dB marks unvoiced frames
        points = call([sound, pitch], "To PointProcess (cc)")  # the glottal periods of that pitch track
        jitter = call(points, "Get jitter (local)", 0, 0, *PERIOD_RANGE_S, PERIOD_FACTOR)
        shimmer = call([sound, points], "Get shimmer (local)", 0, 0, *PERIOD_RANGE_S, PERIOD_FACTOR, AMPLITUDE_FACTOR)
        return np.array([*means, *sds, dispersion, spacing, vtl, *f0_stats,
                         hnr.mean() if hnr.size else np.nan, jitter, shimmer, voiced.mean()], dtype=float)


def _nan_stat(stat, row: np.ndarray) -> float:
    return float(stat(row)) if np.isfinite(row).any() else np.nan
