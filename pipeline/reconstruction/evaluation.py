"""How close reconstructed faces are to the true ones: vertex errors, regions, CMP's ratio
errors and 1:2 matching, for any method that puts a face on every evaluated speaker."""
from __future__ import annotations

import numpy as np

# CMP's absolute ratio errors (Wu et al., CVPR 2022) compare distance ratios, each normalised
# by the outer-eye-corner distance so that scale drops out. Their ear and cheek points are not
# among our 65 landmarks; the mapping (docs/reconstruction.md) uses the nearest contour pairs.
OUTER_EYES = (11, 23)  # exocanthia
CMP_RATIOS: dict[str, tuple[int, int]] = {
    "ER": (57, 63),  # ear-to-ear width -> bizygomatic width (the widest contour pair)
    "FR": (59, 61),  # forehead width -> the temple pair of the contour
    "CR": (56, 64),  # cheek-to-cheek width -> bigonial width (lower cheeks)
    "NR": (32, 38),  # nose width: alare to alare
    "MR": (39, 45),  # mouth width: cheilion to cheilion
}


def vertex_errors(faces: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Euclidean distance per vertex [S, T] between faces and truth [S, T, 3] (same topology)."""
    return np.linalg.norm(np.asarray(faces, np.float64) - np.asarray(truth, np.float64), axis=2)


def most_certain(uncertainty: np.ndarray, drop_share: float) -> np.ndarray:
    """Mask [S] keeping the round((1 - drop_share) * S) speakers with the lowest uncertainty
    (at least one; ties kept in speaker order)."""
    n = len(uncertainty)
    keep = max(1, int(round((1.0 - drop_share) * n)))
    mask = np.zeros(n, bool)
    mask[np.argsort(uncertainty, kind="stable")[:keep]] = True
    return mask


def region_means(errors: np.ndarray, regions: np.ndarray) -> dict[str, float]:
    """Mean error per labelled region over speakers and the region's vertices."""
    return {str(r): float(errors[:, regions == r].mean()) for r in np.unique(regions)}


def face_distances(faces: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """d[i, j] = mean per-vertex distance between face i and true face j [S, S]."""
    faces, truth = np.asarray(faces, np.float64), np.asarray(truth, np.float64)
    return np.stack([np.linalg.norm(truth - face, axis=2).mean(axis=1) for face in faces])


def matching_1v2(distances: np.ndarray, speakers: np.ndarray | None = None) -> float:
    """Share of ordered pairs (i, j), speaker i != speaker j, where face i is closer to i's own
    true face than to j's (ties count half); chance is 0.5. `speakers` indexes a resample."""
    idx = np.arange(len(distances)) if speakers is None else np.asarray(speakers)
    own = distances[idx, idx][:, None]
    other = distances[np.ix_(idx, idx)]
    valid = idx[:, None] != idx[None, :]
    if not valid.any():
        return float("nan")
    score = (own < other) + 0.5 * (own == other)
    return float(score[valid].mean())


def matching_interval(distances: np.ndarray, n_boot: int, confidence: float, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of `matching_1v2`, resampling speakers: the pairs share
    speakers and are not independent, so a binomial interval over pairs would be too narrow."""
    rng = np.random.default_rng(seed)
    n = len(distances)
    draws = [matching_1v2(distances, rng.integers(n, size=n)) for _ in range(n_boot)]
    draws = np.asarray(draws)[np.isfinite(draws)]
    if not len(draws):  # one speaker: no pairs to compare
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(draws, tail)), float(np.quantile(draws, 1.0 - tail))


def paired_gain(baseline_mm: np.ndarray, method_mm: np.ndarray, n_boot: int, confidence: float,
                seed: int) -> tuple[float, float, float]:
    """Mean of (baseline - method) per-speaker error [S] and its percentile bootstrap interval,
    resampling speakers: each speaker's two errors are paired, so the interval is of the
    difference itself, not of two separately noisy means."""
    gain = np.asarray(baseline_mm, np.float64) - np.asarray(method_mm, np.float64)
    rng = np.random.default_rng(seed)
    draws = gain[rng.integers(len(gain), size=(n_boot, len(gain)))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    return float(gain.mean()), float(np.quantile(draws, tail)), float(np.quantile(draws, 1.0 - tail))


def cmp_ratios(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """CMP's distance ratios [S] per name from landmarks [S, 65, 3] (1-based numbers)."""
    def dist(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(landmarks[:, a - 1] - landmarks[:, b - 1], axis=1)
    scale = dist(*OUTER_EYES)
    return {name: dist(*pair) / scale for name, pair in CMP_RATIOS.items()}


def ratio_errors(landmarks: np.ndarray, true_landmarks: np.ndarray) -> dict[str, float]:
    """Mean absolute ratio error |r - r_true| / r_true per CMP ratio."""
    predicted, truth = cmp_ratios(landmarks), cmp_ratios(true_landmarks)
    return {name: float(np.mean(np.abs(predicted[name] - truth[name]) / truth[name])) for name in CMP_RATIOS}
