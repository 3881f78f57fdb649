"""Registration QC: a fit that hugs the scan can still put the template's landmarks in the wrong
place (the template slid along the face), so the surface checks are joined by checks of where
the landmarks landed.

Per face, from its fit:
- coverage and mean surface distance (the scan is matched at all);
- `landmark_fit_mm`: how far the guide vertices end from the face's own annotated points (a
  template that cannot follow the annotation, or an annotation in another unit or frame);
- `asymmetry_mm`: the registered landmarks against their mirror image (a twisted fit);
- `start_mm`: for a face with fewer than 3 guides, the score of the search for the face on the
  scan (coarse.find_face: the nose's distance to the scan plus the asymmetry of the matched
  surface), so a scan on which no face was found is refused.
Against the cohort: the registered landmark configurations of all faces pass the same robust
shape model as the annotations (LandmarkQC); a face with too many landmarks outside the
cohort's variation is flagged (only with MIN_COHORT faces or more).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..config import FaceParams
from .landmark_qc import LandmarkQC
from .register import Registration

QC_COLUMNS = ["speaker_id", "source", "guides", "surface_distance_mm", "coverage", "landmark_fit_mm",
              "asymmetry_mm", "start_mm", "cohort_flagged", "flagged", "reason"]
MIN_COHORT = 20  # faces the cohort's shape model needs


@dataclass(frozen=True)
class QcLimits:
    min_coverage: float
    max_surface_mm: float
    max_landmark_fit_mm: float
    max_asymmetry_mm: float
    max_start_mm: float
    max_cohort_flagged: float  # share of a face's landmarks outside the cohort's model
    cohort: LandmarkQC

    @classmethod
    def from_params(cls, face: FaceParams) -> QcLimits:
        return cls(face.min_coverage, face.max_surface_mm, face.max_landmark_fit_mm, face.max_asymmetry_mm,
                   face.max_start_mm, face.qc_max_flagged, LandmarkQC.from_params(face))


def mirror_vertices(vertices: np.ndarray) -> np.ndarray:
    """For each vertex of a template symmetric about x = 0, the vertex at its mirror image."""
    mirrored = np.asarray(vertices, dtype=np.float64) * np.array([-1.0, 1.0, 1.0])
    return cKDTree(vertices).query(mirrored)[1]


def asymmetry_mm(vertices: np.ndarray, landmark_idx: np.ndarray, mirror: np.ndarray) -> float:
    """Mean distance of each landmark vertex from its mirror partner reflected back, after the
    best rigid fit of the reflected face onto it (a face's own asymmetry is a few mm)."""
    points = vertices[landmark_idx]
    reflected = (vertices * np.array([-1.0, 1.0, 1.0]))[mirror[landmark_idx]]
    centred_p, centred_r = points - points.mean(0), reflected - reflected.mean(0)
    u, _, vt = np.linalg.svd(centred_r.T @ centred_p)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, 1.0, d]) @ vt
    return float(np.linalg.norm(centred_r @ rotation - centred_p, axis=1).mean())


def assess(speakers: list[str], sources: list[str], fits: list[Registration], template_vertices: np.ndarray,
           landmark_idx: np.ndarray, limits: QcLimits) -> pd.DataFrame:
    """QC_COLUMNS for every fit."""
    mirror = mirror_vertices(template_vertices)
    configurations = np.stack([f.vertices[landmark_idx] for f in fits])
    cohort = np.full(len(fits), np.nan)
    if len(fits) >= MIN_COHORT:
        cohort = limits.cohort.fit(configurations).check(configurations).flagged.mean(axis=1)
    rows = []
    for sid, source, fit, share in zip(speakers, sources, fits, cohort):
        asymmetry = asymmetry_mm(fit.vertices, landmark_idx, mirror)
        reasons = [why for bad, why in (
            (fit.coverage < limits.min_coverage,
             f"coverage {fit.coverage:.2f} < {limits.min_coverage}"),
            (not fit.surface_distance_mm <= limits.max_surface_mm,
             f"mean distance to the scan {fit.surface_distance_mm:.2f} mm > {limits.max_surface_mm} mm"
             if np.isfinite(fit.surface_distance_mm) else
             f"no template vertex was matched to the scan (coverage {fit.coverage:.2f}), so the template did not "
             f"reach it: is the scan a face, and its landmarks on it?"),
            (fit.landmark_fit_mm > limits.max_landmark_fit_mm,
             f"guide points {fit.landmark_fit_mm:.1f} mm from their annotation > {limits.max_landmark_fit_mm} mm"),
            (asymmetry > limits.max_asymmetry_mm,
             f"landmarks {asymmetry:.1f} mm from their mirror image > {limits.max_asymmetry_mm} mm"),
            (fit.start_mm > limits.max_start_mm,
             f"no face found on the scan without landmarks (search score {fit.start_mm:.1f} mm > "
             f"{limits.max_start_mm} mm)"),
            (share > limits.max_cohort_flagged,
             f"{share:.0%} of the landmarks outside the cohort's shape model > {limits.max_cohort_flagged:.0%}"),
        ) if bad]
        rows.append((sid, source, fit.guides, fit.surface_distance_mm, fit.coverage, fit.landmark_fit_mm, asymmetry,
                     fit.start_mm, share, bool(reasons), "; ".join(reasons)))
    return pd.DataFrame(rows, columns=QC_COLUMNS)
