"""Is a landmark configuration a face in the sfv scheme? An absolute check against the template.

The landmark QC (landmark_qc.py) judges each face against the cohort, so a cohort whose
points are all wrong the same way (rows scrambled in every file, vertex indices of another
topology) passes it with nothing flagged and gives wrong AMs (issue 31). Here named points
are compared with the template's vertices of the same names, after the best similarity fit:
their size must be a face's, and their shape the scheme's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .landmark_names import template_vertices
from .template import Template

# Size of a configuration (RMS distance to its centroid) over the template's same points:
# sfv's synthetic faces span 0.89-1.09 and the menpo3d real face 1.09; a unit or index
# error lands far outside.
SIZE_RANGE = (0.5, 2.0)
# Normalised Procrustes distance (residual norm after a similarity fit, both sides scaled to
# size 1): sfv's synthetic faces are below 0.1, the real face's iBUG-68 annotation 0.25, and
# scrambled rows or random vertices near 1.
MAX_SHAPE_DISTANCE = 0.5
MIN_POINTS = 4  # fewer points say too little about a shape to judge it
SHOWN = 5  # points a message names


@dataclass(frozen=True)
class Plausibility:
    """Size ratio and shape distance of one configuration, and its points farthest off (mm)."""

    size_ratio: float
    shape_distance: float
    worst: list[tuple[str, float]]

    def problem(self) -> str | None:
        """Which check failed and by how much, or None for a plausible face."""
        if not SIZE_RANGE[0] <= self.size_ratio <= SIZE_RANGE[1]:
            return (f"size check: the landmarks span {self.size_ratio:.2f} times the template's (a face is "
                    f"{SIZE_RANGE[0]:g}-{SIZE_RANGE[1]:g} times)")
        if self.shape_distance > MAX_SHAPE_DISTANCE:
            listed = ", ".join(f"{name} {mm:.0f} mm" for name, mm in self.worst)
            return (f"placement check: the landmarks are not where the scheme puts them relative to each other "
                    f"(shape distance {self.shape_distance:.2f} from the template's after the best similarity fit, "
                    f"a face is below {MAX_SHAPE_DISTANCE:g}; farthest off: {listed})")
        return None


def plausibility(names: list[str], points: np.ndarray, template: Template) -> Plausibility | None:
    """How `points` [n, 3] (mm) named `names` compare with the template's points of those names;
    None when the template places fewer than MIN_POINTS of them (nothing to judge)."""
    placed = template_vertices(names, template)
    keep = [i for i, name in enumerate(names) if name in placed and np.isfinite(points[i]).all()]
    if len(keep) < MIN_POINTS:
        return None
    mine = np.asarray(points, dtype=np.float64)[keep]
    reference = template.vertices[[placed[names[i]] for i in keep]].astype(np.float64)
    mine, reference = mine - mine.mean(axis=0), reference - reference.mean(axis=0)
    size_mine, size_reference = np.linalg.norm(mine), np.linalg.norm(reference)
    if size_mine == 0:
        return Plausibility(0.0, np.inf, [])
    a, b = mine / size_mine, reference / size_reference
    u, singular, vt = np.linalg.svd(a.T @ b)
    sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])  # a rotation: a mirrored face is not the scheme
    fitted = a @ (u @ sign @ vt) * float((singular * np.diag(sign)).sum())
    residual = np.linalg.norm(fitted - b, axis=1) * size_reference
    order = np.argsort(-residual, kind="stable")[:SHOWN]
    return Plausibility(float(size_mine / size_reference), float(np.linalg.norm(fitted - b)),
                        [(names[keep[i]], float(residual[i])) for i in order])
