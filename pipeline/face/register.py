"""Landmark-guided non-rigid ICP of the template onto a raw scan.

The template is deformed by a displacement field d [T, 3] minimising

    sum_i w_i |v_i + d_i - c_i|^2  +  stiffness |L d|^2  +  landmark_weight sum_l |v_l + d_l - p_l|^2

where c_i is vertex i's closest point on the scan moved onto the scan's tangent plane there
(point-to-plane, so the surface data do not drag vertices sideways), L is the mesh's umbrella
Laplacian (so |L d|^2 penalises bending of the displacement, not its smooth part) and p_l are
the guiding points: whatever named landmarks a face has (QC'd), each at its template vertex.
The three coordinates share one sparse matrix, factorised once per stiffness stage; matches
are re-found at every iteration. Stiffness falls from stage to stage (coarse to fine). Matches on the scan's border (holes, the rim) or too far or facing away are
dropped, so holes are bridged by the smoothness term instead of pulling the surface in.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import trimesh
from scipy.sparse.linalg import factorized
from scipy.spatial import cKDTree

from ..config import FaceParams
from .coarse import find_face
from .rigid import invert, rigid_fit, transform
from .template import Template

MAX_ANGLE_DEG = 60.0  # matches whose normals disagree by more are rejected


@dataclass(frozen=True)
class Stage:
    """One stiffness level of the coarse-to-fine schedule."""

    stiffness: float
    landmark_weight: float
    iterations: int


@dataclass(frozen=True)
class RegistrationSettings:
    """The fit's schedule and match gate, from params.yaml's face: section (docs/geometry.md,
    where the defaults were chosen on synthetic scans: a lower final stiffness fits the surface
    closer but lets vertices slide; the landmark weight matters more than the stiffness)."""

    schedule: tuple[Stage, ...]  # coarse-to-fine stiffness levels
    max_distance_mm: float  # matches farther than this are ignored

    @classmethod
    def from_params(cls, face: FaceParams) -> RegistrationSettings:
        return cls(tuple(Stage(s, face.landmark_weight, face.iterations) for s in face.stiffness),
                   face.max_distance_mm)


@dataclass(frozen=True)
class Guides:
    """The points that guide a fit: template vertex [L] of each, and where it is on the scan [L, 3]."""

    vertex: np.ndarray
    points: np.ndarray

    def __post_init__(self) -> None:
        if len(self.vertex) != len(self.points):
            raise ValueError(f"{len(self.vertex)} guide vertices but {len(self.points)} points")


@dataclass(frozen=True)
class Registration:
    """The template fitted to one scan."""

    vertices: np.ndarray  # float64 [T, 3], template topology, in the template frame
    to_scan: np.ndarray  # float64 [4, 4], template frame -> scan coordinates
    surface_distance_mm: float  # mean point-to-plane distance of matched vertices to the scan
    coverage: float  # share of template vertices with a valid match on the scan
    landmark_fit_mm: float  # mean distance of the guide vertices to their points (nan without guides)
    guides: int  # guiding points used (0: the rigid start searched for the face)
    start_mm: float  # with fewer than 3 guides, the face search's score (coarse.find_face); else nan


class TemplateFitter:
    """Non-rigid ICP of one template onto scans (see the module docstring).

    `settings` holds the coarse-to-fine stiffness sequence and the distance beyond which a
    match is rejected; `max_angle_deg` also rejects matches whose normals disagree by more.
    """

    def __init__(self, template: Template, settings: RegistrationSettings, max_angle_deg: float = MAX_ANGLE_DEG):
        self.template = template
        self.vertices = np.asarray(template.vertices, dtype=np.float64)
        self.faces = np.asarray(template.faces, dtype=np.int64)
        self.schedule = settings.schedule
        self.max_distance_mm = settings.max_distance_mm
        self.max_angle_deg = max_angle_deg
        laplacian = umbrella_laplacian(self.faces, len(self.vertices))
        self._bending = (laplacian.T @ laplacian).tocsc()

    def register(self, scan_vertices: np.ndarray, scan_faces: np.ndarray, guides: Guides | None = None
                 ) -> Registration:
        """Fit the template to a scan (mm), guided by named points (scan coordinates) if given.

        Three or more guides give the rigid start; with fewer, the start searches the scan for the
        face (`coarse.find_face`), and the guides it has still pull in the non-rigid fit.
        """
        guides = guides if guides is not None and len(guides.vertex) else None
        if guides is not None and len(guides.vertex) >= 3:
            to_template, start = rigid_fit(guides.points, self.vertices[guides.vertex]), float("nan")
        else:
            found = find_face(self.template, scan_vertices, scan_faces)
            to_template, start = found.to_template, found.score_mm
        scan = trimesh.Trimesh(transform(scan_vertices, to_template), scan_faces, process=False)
        targets = None if guides is None else Guides(guides.vertex, transform(guides.points, to_template))
        fitted, matched, distance = self._deform(scan, targets)
        # Put the fitted face back on the template frame: remove the rigid part of the fit.
        to_frame = rigid_fit(fitted, self.vertices)
        vertices = transform(fitted, to_frame)
        to_scan = invert(to_template) @ invert(to_frame)
        landmark_fit = (float(np.linalg.norm(fitted[targets.vertex] - targets.points, axis=1).mean())
                        if targets is not None else float("nan"))
        return Registration(vertices, to_scan, float(distance[matched].mean()) if matched.any() else float("nan"),
                            float(matched.mean()), landmark_fit, 0 if guides is None else len(guides.vertex), start)

    def _deform(self, scan: trimesh.Trimesh, guides: Guides | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        points = np.asarray(scan.vertices)
        normals = np.asarray(scan.vertex_normals)
        on_border = np.zeros(len(points), dtype=bool)
        on_border[border_vertices(np.asarray(scan.faces))] = True
        tree = cKDTree(points)
        min_cos = np.cos(np.deg2rad(self.max_angle_deg))
        n = len(self.vertices)
        displacement = np.zeros((n, 3))

        def matches(current: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            distance, nearest = tree.query(current)
            normal = normals[nearest]
            offset = np.sum((current - points[nearest]) * normal, axis=1)
            target = current - normal * offset[:, None]
            own_normals = trimesh.Trimesh(current, self.faces, process=False).vertex_normals
            valid = (~on_border[nearest]) & (distance < self.max_distance_mm) & (
                np.sum(own_normals * normal, axis=1) > min_cos)
            return target, valid, np.abs(offset)

        guide_diag = np.zeros(n) if guides is None else np.bincount(guides.vertex, minlength=n).astype(np.float64)
        for stage in self.schedule:
            weight_l = stage.landmark_weight if guides is not None else 0.0
            _, valid, _ = matches(self.vertices + displacement)
            system = sp.diags(valid.astype(np.float64) + weight_l * guide_diag) + stage.stiffness * self._bending
            solve = factorized(system.tocsc())
            landmark_rhs = np.zeros((n, 3))
            if weight_l:
                np.add.at(landmark_rhs, guides.vertex, weight_l * (guides.points - self.vertices[guides.vertex]))
            for _ in range(stage.iterations):
                current = self.vertices + displacement
                target, now_valid, _ = matches(current)
                # The matrix keeps the stage's match set; a vertex whose match went bad since
                # is held where it is rather than pulled.
                target = np.where(now_valid[:, None], target, current)
                rhs = valid[:, None] * (target - self.vertices) + landmark_rhs
                displacement = np.column_stack([solve(rhs[:, k]) for k in range(3)])
        fitted = self.vertices + displacement
        _, valid, distance = matches(fitted)
        return fitted, valid, distance


def umbrella_laplacian(faces: np.ndarray, n_vertices: int) -> sp.csr_matrix:
    """I - D^-1 A over the mesh's edge graph: each vertex minus the mean of its neighbours."""
    edges = np.unique(np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1), axis=0)
    rows, cols = np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]]
    adjacency = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, n_vertices))
    degree = np.maximum(np.asarray(adjacency.sum(axis=1)).ravel(), 1.0)
    return (sp.identity(n_vertices, format="csr") - sp.diags(1.0 / degree) @ adjacency).tocsr()


def border_vertices(faces: np.ndarray) -> np.ndarray:
    """Vertices on a boundary edge (an edge used by one face only): holes and the rim."""
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    return np.unique(unique[counts == 1])
