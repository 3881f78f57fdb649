"""The 65 landmarks on a cohort's own topology, found instead of written by hand.

A faces.csv cohort in another topology (FLAME's 5,023 vertices, BFM's 53,490, ...) needs the
vertex of each landmark. The template is registered to the cohort's mean face, guided by any
named points the user gives as vertices of their topology (e.g. iBUG-68, which most 3D face
models ship), and each template landmark takes the mean face's nearest vertex. Where a
landmark lands is reported: its distance to the mean face's surface says whether the fit put
it on the face at all, and its distance to the chosen vertex what the vertex grid costs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from .landmark_names import CONTOUR, template_vertices
from .register import Guides, RegistrationSettings, TemplateFitter
from .rigid import transform
from .template import Template
from .topology import triangulate_frontal
from .units import MM_PER_UNIT, scan_unit


@dataclass(frozen=True)
class Transfer:
    vertex: np.ndarray  # int64 [65] vertex of each sfv landmark in the cohort's topology
    surface_mm: np.ndarray  # [65] where the registered template puts it, to the mean face's surface
    vertex_mm: np.ndarray  # [65] ... and to the chosen vertex
    flagged: np.ndarray  # bool [65] off the surface by more than the limit


def transfer_landmarks(mean_face: np.ndarray, template: Template, settings: RegistrationSettings,
                       guides: dict[str, int], max_surface_mm: float) -> Transfer:
    """Landmark vertices on `mean_face` [V, 3] (its own topology; any unit units.py finds),
    guided by `guides` (vocabulary name -> vertex of `mean_face`; may be empty)."""
    unit = scan_unit(mean_face)
    if unit is None:
        raise ValueError("the mean face is not face-sized in any unit (m, cm, mm, µm)")
    points = np.asarray(mean_face, dtype=np.float64) * MM_PER_UNIT[unit]
    triangles = triangulate_frontal(points)
    placed = template_vertices([n for n in guides if n not in CONTOUR], template)
    fitter = TemplateFitter(template, settings)
    fit = fitter.register(points, triangles, Guides(np.array([placed[n] for n in placed], dtype=np.int64),
                                                    points[[guides[n] for n in placed]]))
    landed = transform(fit.vertices[template.landmark_idx], fit.to_scan)
    vertex_mm, vertex = cKDTree(points).query(landed)
    _, surface_mm, _ = trimesh.proximity.closest_point(trimesh.Trimesh(points, triangles, process=False), landed)
    return Transfer(vertex.astype(np.int64), surface_mm, vertex_mm, surface_mm > max_surface_mm)
