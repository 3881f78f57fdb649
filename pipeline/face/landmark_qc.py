"""Landmark quality control: a robust statistical model of landmark configurations.

An annotated point is judged against where the *other* points of the same face say it should
be, under a low-rank Gaussian model of configurations learned across the cohort after rigid
alignment. So a long nose is not taken for a mislabelled pronasale (the model knows noses
vary, and that the dorsum points move with the tip), while a tip clicked 8 mm off is.

Residual scales are learned per landmark (annotators scatter some landmarks more than others)
and the flag threshold is the (1 - alpha) quantile of the residual norm under isotropic
Gaussian scatter, a chi distribution with 3 degrees of freedom.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from ..config import FaceParams
from .rigid import align_to_mean, invert, rigid_fit, transform

_CHI3_MEDIAN = float(np.sqrt(chi2.ppf(0.5, 3)))


@dataclass(frozen=True)
class LandmarkCheck:
    """The outcome of checking landmark configurations [N, L, 3]."""

    cleaned: np.ndarray  # float64 [N, L, 3]: flagged points replaced by the model's prediction
    flagged: np.ndarray  # bool [N, L]
    residual_mm: np.ndarray  # float64 [N, L]: distance to the prediction from the other points
    predicted: np.ndarray  # float64 [N, L, 3]: the model's prediction, input coordinates


@dataclass(frozen=True)
class _Fit:
    aligned: np.ndarray  # [N, L, 3] input points moved onto their fitted shape
    shape: np.ndarray  # [N, L, 3] the model's fit, model frame
    residual: np.ndarray  # [N, L] mm
    inlier: np.ndarray  # bool [N, L]
    matrices: np.ndarray  # [N, 4, 4] input frame -> model frame


class LandmarkQC:
    """Flag gross landmark errors by their residual under a robust shape model.

    Parameters are the number of principal components of the configuration model and the
    per-point false-flag probability `alpha` under Gaussian scatter (face.qc_components,
    face.qc_alpha). The prior on component scores has weight 1 (MAP under the learned model),
    and the fit takes MAX_ITER reweighting rounds. Learned state ends in `_`: `mean_` [L, 3],
    `components_` [k, L*3], `variance_` [k], `scale_mm_` [L] (per-landmark scatter, mm).
    """

    PRIOR_WEIGHT = 1.0
    MAX_ITER = 8
    MIN_SCALE_MM = 0.1  # a landmark's scatter is never taken below this

    def __init__(self, n_components: int, alpha: float):
        self.n_components = n_components
        self.alpha = alpha

    @classmethod
    def from_params(cls, face: FaceParams) -> LandmarkQC:
        return cls(face.qc_components, face.qc_alpha)

    @property
    def threshold_(self) -> np.ndarray:
        """Residual above which a landmark is flagged, mm [L]."""
        return self.scale_mm_ * np.sqrt(chi2.ppf(1.0 - self.alpha, 3))

    def fit(self, landmarks: np.ndarray) -> LandmarkQC:
        """Learn the configuration model from a cohort's annotations [N, L, 3] (any frames).

        Gross errors in the training data are found and imputed from the model as it is
        refined, so they neither bend the mean nor open a spurious component.
        """
        points = np.asarray(landmarks, dtype=np.float64)
        if points.ndim != 3 or points.shape[2] != 3:
            raise ValueError(f"landmarks must be [N, L, 3], got {points.shape}")
        if len(points) < 3:
            raise ValueError(f"landmark QC needs at least 3 annotated faces to learn from, got {len(points)}")
        filled, _ = align_to_mean(points)
        self._learn(filled)
        self.scale_mm_ = np.full(points.shape[1], np.inf)  # first pass: nothing flagged
        inlier = None
        for _ in range(self.MAX_ITER):
            fitted = self._fit(points)
            self.scale_mm_ = self._scales(fitted.residual, ~fitted.inlier)
            new_inlier = fitted.residual <= self.threshold_
            # Flagged points are imputed by the model's prediction before the next PCA.
            self._learn(np.where(new_inlier[..., None], fitted.aligned, fitted.shape))
            if inlier is not None and np.array_equal(new_inlier, inlier):
                break
            inlier = new_inlier
        return self

    def check(self, landmarks: np.ndarray) -> LandmarkCheck:
        """Flag and replace gross errors in configurations [N, L, 3] (each in its own frame)."""
        points = np.asarray(landmarks, dtype=np.float64)
        if points.ndim != 3 or points.shape[1:] != self.mean_.shape:
            raise ValueError(f"landmarks must be [N, {self.mean_.shape[0]}, 3], got {points.shape}")
        fitted = self._fit(points)
        predicted = np.stack([transform(s, invert(m)) for s, m in zip(fitted.shape, fitted.matrices)])
        flagged = ~fitted.inlier
        return LandmarkCheck(cleaned=np.where(flagged[..., None], predicted, points), flagged=flagged,
                             residual_mm=fitted.residual, predicted=predicted)

    def _learn(self, aligned: np.ndarray) -> None:
        n = len(aligned)
        flat = aligned.reshape(n, -1)
        self.mean_ = flat.mean(axis=0).reshape(-1, 3)
        # Few faces cannot carry many components: each would fit its own training faces.
        k = max(0, min(self.n_components, (n - 1) // 4))
        _, singular, vt = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
        self.components_ = vt[:k]
        self.variance_ = singular[:k] ** 2 / (n - 1)

    def _fit(self, points: np.ndarray) -> _Fit:
        """Iteratively reweighted fit of every configuration: align on inliers, fit scores on
        inliers, flag by residual, until the inlier sets settle."""
        n, n_points, _ = points.shape
        inlier = np.ones((n, n_points), dtype=bool)
        basis = self.components_.reshape(len(self.components_), n_points, 3)
        finite = np.isfinite(self.scale_mm_)
        noise_var = float(np.mean(self.scale_mm_[finite] ** 2)) if finite.any() else 1.0
        prior = self.PRIOR_WEIGHT * noise_var / np.maximum(self.variance_, 1e-12)
        for _ in range(self.MAX_ITER):
            shape = np.repeat(self.mean_[None], n, axis=0)
            for _ in range(3):  # alternate rigid pose and scores; settles in a few rounds
                matrices = np.stack([rigid_fit(p, s, w) for p, s, w in zip(points, shape, inlier.astype(float))])
                aligned = np.stack([transform(p, m) for p, m in zip(points, matrices)])
                shape = self._fit_scores(aligned, inlier, basis, prior)
            residual = np.linalg.norm(aligned - shape, axis=-1)
            new_inlier = residual <= self.threshold_
            # Align on at least the better half of the points, so a wrecked configuration
            # still gets a pose (and shows most of its points flagged).
            few = new_inlier.sum(axis=1) < n_points // 2
            new_inlier[few] = residual[few] <= np.median(residual[few], axis=1, keepdims=True)
            if np.array_equal(new_inlier, inlier):
                break
            inlier = new_inlier
        inlier = residual <= self.threshold_
        return _Fit(aligned, shape, residual, inlier, matrices)

    def _fit_scores(self, aligned: np.ndarray, inlier: np.ndarray, basis: np.ndarray,
                    prior: np.ndarray) -> np.ndarray:
        """MAP component scores from the inlier points of each face; the fitted shape [N, L, 3]."""
        if len(basis) == 0:
            return self.mean_[None].repeat(len(aligned), axis=0)
        w = inlier.astype(float)
        residual = aligned - self.mean_
        # Normal equations per face: (B^T W B + diag(prior)) beta = B^T W r.
        gram = np.einsum("kld,nl,jld->nkj", basis, w, basis) + np.diag(prior)
        rhs = np.einsum("kld,nl,nld->nk", basis, w, residual)
        beta = np.linalg.solve(gram, rhs[..., None])[..., 0]
        return self.mean_ + np.einsum("nk,kld->nld", beta, basis)

    def _scales(self, residual: np.ndarray, flagged: np.ndarray) -> np.ndarray:
        """Per-landmark scatter sd from the median inlier residual (robust to the flagged)."""
        masked = np.where(flagged, np.nan, residual)
        median = np.nanmedian(masked, axis=0)
        median = np.where(np.isfinite(median), median, np.nanmedian(masked))
        return np.maximum(median / _CHI3_MEDIAN, self.MIN_SCALE_MM)
