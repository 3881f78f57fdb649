"""Rigid alignment without scaling: faces keep their size in millimetres."""
from __future__ import annotations

import numpy as np
import trimesh


def rigid_fit(source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The rotation + translation [4, 4] taking points `source` [P, 3] closest to `target` [P, 3].

    Weighted least squares (Kabsch), no reflection and no scaling.
    """
    matrix, _, _ = trimesh.registration.procrustes(source, target, weights=weights, reflection=False,
                                                   translation=True, scale=False, return_cost=True)
    return matrix


def transform(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """R x + t for points [..., 3] and a rigid `matrix` [4, 4]."""
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a rigid transform [4, 4]."""
    inverse = np.eye(4)
    inverse[:3, :3] = matrix[:3, :3].T
    inverse[:3, 3] = -matrix[:3, :3].T @ matrix[:3, 3]
    return inverse


def align_to_mean(shapes: np.ndarray, weights: np.ndarray | None = None, reference: np.ndarray | None = None,
                  iterations: int = 10, tol_mm: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Generalised Procrustes analysis without scaling.

    `shapes` [N, P, 3] are moved rigidly onto their running mean (started at `reference`, or the
    first shape), the mean is re-estimated, until it moves less than `tol_mm`. `weights` [N, P]
    leave points out of a shape's alignment (0) or down-weight them. The mean is finally put
    back on `reference` (if given) so the result lives in that frame. Returns the aligned
    shapes [N, P, 3] and the transforms [N, 4, 4] that produced them.
    """
    shapes = np.asarray(shapes, dtype=np.float64)
    w = np.ones(shapes.shape[:2]) if weights is None else np.asarray(weights, dtype=np.float64)
    mean = (shapes[0] if reference is None else np.asarray(reference, np.float64)).copy()
    matrices = np.repeat(np.eye(4)[None], len(shapes), axis=0)
    for _ in range(iterations):
        matrices = np.stack([rigid_fit(s, mean, wi) for s, wi in zip(shapes, w)])
        aligned = np.stack([transform(s, m) for s, m in zip(shapes, matrices)])
        weight_sum = np.maximum(w.sum(axis=0), 1e-12)[:, None]
        new_mean = (aligned * w[..., None]).sum(axis=0) / weight_sum
        if reference is not None:
            new_mean = transform(new_mean, rigid_fit(new_mean, reference))
        moved = np.abs(new_mean - mean).max()
        mean = new_mean
        if moved < tol_mm:
            break
    matrices = np.stack([rigid_fit(s, mean, wi) for s, wi in zip(shapes, w)])
    return np.stack([transform(s, m) for s, m in zip(shapes, matrices)]), matrices
