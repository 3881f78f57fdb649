"""The eigenface model: PCA of registered, rigidly aligned faces in one topology (scikit-learn).

Coefficients are whitened: beta_c is in units of component c's standard deviation, so one
penalty lambda * |beta|^2 weighs every component by how much the cohort varies along it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from ..artifacts import save_npz


@dataclass(frozen=True)
class Eigenface:
    mean: np.ndarray  # [T, 3]
    basis: np.ndarray  # [C, T * 3], orthonormal rows
    stddev: np.ndarray  # [C], SD of the cohort along each component

    @property
    def n_components(self) -> int:
        return len(self.stddev)

    def shapes(self, beta: np.ndarray) -> np.ndarray:
        """Faces [S, T, 3] from whitened coefficients beta [S, C]."""
        beta = np.atleast_2d(beta)
        return self.mean + ((beta * self.stddev) @ self.basis).reshape(len(beta), -1, 3)

    def coefficients(self, faces: np.ndarray) -> np.ndarray:
        """Whitened coefficients [S, C] of faces [S, T, 3] (their projection onto the model)."""
        centred = (np.asarray(faces) - self.mean).reshape(len(faces), -1)
        return centred @ self.basis.T / self.stddev

    def save(self, path: Path) -> None:
        save_npz(path, mean=self.mean, basis=self.basis, stddev=self.stddev)

    @classmethod
    def load(cls, path: Path) -> Eigenface:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mean"], z["basis"], z["stddev"])


def fit_eigenface(faces: np.ndarray, variance_share: float, max_components: int) -> Eigenface:
    """PCA of faces [N, T, 3]: the fewest components explaining `variance_share` of the
    variance, capped at max_components (0: no cap) and at N - 1."""
    faces = np.asarray(faces, dtype=np.float64)
    if faces.ndim != 3 or faces.shape[2] != 3 or len(faces) < 3:
        raise ValueError(f"need faces [N >= 3, T, 3], got {faces.shape}")
    pca = PCA(n_components=len(faces) - 1, svd_solver="full").fit(faces.reshape(len(faces), -1))
    keep = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), variance_share - 1e-12) + 1)
    keep = min(keep, len(pca.explained_variance_))
    if max_components:
        keep = min(keep, max_components)
    return Eigenface(pca.mean_.reshape(-1, 3), pca.components_[:keep].copy(),
                     np.sqrt(pca.explained_variance_[:keep]))
