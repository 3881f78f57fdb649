"""One gender's reconstructions against the truth and against the baselines.

Every method puts one face on every D_e speaker; speakers are dropped by SfV's uncertainty
for every method alike, so the curves compare the same people.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .evaluation import (face_distances, matching_1v2, matching_interval, most_certain, paired_gain,
                         ratio_errors, region_means, vertex_errors)

METHODS = ("sfv", "mean_face", "regression", "oracle_ams")
MAP_SHARES = (0.0, 0.25, 0.5)  # the error maps: SfV with these shares of speakers dropped
HALF_DROPPED = 0.5  # vertex_error_mm_50: SfV's error with this share of D_e, the least certain, dropped


@dataclass(frozen=True)
class Comparison:
    """What the evaluate stage reports for one gender."""

    metrics: dict  # reconstruction, baseline and matching keys of reports/metrics.json
    detail: dict  # region errors, CMP's ratio errors and 1:2 matching per method
    curve: pd.DataFrame  # mean vertex error per method against the share of speakers dropped
    maps: list[tuple[str, np.ndarray]]  # (label, mean per-vertex error [T]) for the error map


def compare_methods(faces: dict[str, np.ndarray], truth: np.ndarray, uncertainty: np.ndarray,
                    regions: np.ndarray, landmark_idx: np.ndarray, guiding_ams: int, drop_shares: list[float],
                    n_boot: int, confidence: float, seed: int) -> Comparison:
    """faces: method -> [S, T, 3] for every method in METHODS; truth [S, T, 3]; uncertainty [S] (SfV's)."""
    errors = {m: vertex_errors(faces[m], truth) for m in METHODS}
    curve = pd.DataFrame([{"dropped_percent": round(100 * share), "speakers": int(most_certain(uncertainty, share).sum()),
                           **{f"{m}_mm": float(errors[m][most_certain(uncertainty, share)].mean()) for m in METHODS}}
                          for share in drop_shares])
    distances = {m: face_distances(faces[m], truth) for m in METHODS}
    low, high = matching_interval(distances["sfv"], n_boot, confidence, seed)
    per_speaker = {m: errors[m].mean(axis=1) for m in METHODS}
    gain, gain_low, gain_high = paired_gain(per_speaker["mean_face"], per_speaker["sfv"], n_boot, confidence, seed + 1)
    gap = float(per_speaker["mean_face"].mean() - per_speaker["oracle_ams"].mean())
    metrics = {
        "reconstruction": {"vertex_error_mm": float(errors["sfv"].mean()),
                           "vertex_error_mm_50": float(errors["sfv"][most_certain(uncertainty, HALF_DROPPED)].mean()),
                           "guiding_ams": guiding_ams, "speakers": len(truth),
                           # mean face minus SfV, paired by speaker, with a bootstrap interval
                           "gain_over_mean_face_mm": gain,
                           "gain_over_mean_face_ci": {"low": gain_low, "high": gain_high},
                           # the share of the mean-face-to-oracle gap that SfV closes
                           "gap_closed": finite(gain / gap) if gap > 0 else None},
        "baseline": {f"{m}_mm": float(errors[m].mean()) for m in METHODS if m != "sfv"},
        "matching_1v2": finite(matching_1v2(distances["sfv"])),  # null with a single D_e speaker
        "matching_1v2_ci": {"low": finite(low), "high": finite(high)},  # bootstrap over speakers
    }
    true_landmarks = truth[:, landmark_idx]
    detail = {"region_mm": {m: region_means(errors[m], regions) for m in METHODS},
              "are": {m: ratio_errors(faces[m][:, landmark_idx], true_landmarks) for m in METHODS},
              "matching_1v2": {m: finite(matching_1v2(distances[m])) for m in METHODS}}
    maps = [(f"SfV, {round(100 * s)}% dropped\n({int(most_certain(uncertainty, s).sum())} speakers)",
             errors["sfv"][most_certain(uncertainty, s)].mean(axis=0)) for s in MAP_SHARES]
    maps.append((f"mean face\n({len(truth)} speakers)", errors["mean_face"].mean(axis=0)))
    return Comparison(metrics, detail, curve, maps)


def finite(value: float) -> float | None:
    """JSON has no NaN: an undefined figure is null."""
    return None if np.isnan(value) else value
