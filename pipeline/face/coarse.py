"""Finding the face on a raw scan without landmarks: the rigid start of a registration.

Matching principal axes and putting the scan's most anterior point on the pronasale (sfv's
start up to 6d168ba, kept in scripts/rigid_start.py to compare) works only for a cropped face
seen front on. Real scans are whole heads with neck, hair and shoulders, in any orientation
(their unit is found before: units.py). The face is found by trying starts that cover all
orientations and every plausible nose tip, fitting the template's central face (nose, eyes, mouth, chin: the
parts every face has, not the rim, which a real scan extends beyond) by trimmed rigid ICP, and
keeping the fit whose nose is closest to the scan and whose matched surface is most
mirror-symmetric about the template's midplane (a face is; hair, ears and shoulders are not).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from .template import REGIONS, Template, outline

PRONASALE = 30  # landmark 31, 0-based: the nose tip
CENTRAL_REGIONS = ("nose", "eyes", "mouth", "chin")
SCAN_SPACING_MM = 2.0  # the scan's surface is sampled this densely
OVERSAMPLING = 2.0  # points drawn per spacing^2 of area, before thinning to one per cube
MAX_SAMPLES = 400_000  # a bound on the points drawn, whatever the scan's area
SAMPLE_SEED = 0
CANDIDATE_SPACING_MM = 6.0  # nose-tip candidates are sought among points this far apart
PROTRUSION_NEIGHBOURS = 64  # a nose tip stands out of the patch (~25 mm) of its nearest candidates
NOSE_CANDIDATES = 12  # most protruding local maxima tried as the nose tip
PATCH_RADIUS_MM = 25.0  # the nose's direction is the mean normal within this distance of its tip
TIP_SEARCH_MM = 10.0  # a candidate moves to the most anterior point this near, ...
TIP_STEPS = 3  # ... this many times
FORWARD_DIRECTIONS = 24  # "out of the face" directions tried, spread evenly over the sphere
ROLLS = 12  # rotations about each forward direction (30 degrees apart)
COARSE_POINTS_SPACING_MM = 6.0  # the central face's points fitted from every start, this far apart
ROUND_ITERATIONS = 4  # ICP steps per round of the search
ROUND_SHRINK = 3  # after each round, the best third of the starts goes on
FINAL_STARTS = 8  # the search ends with a round of this many
KEEP_SHARE = 0.7  # trimmed ICP while searching: the closest share of like-facing pairs drives each step
POLISH_INSET_MM = 20.0  # the polish fits the template's points this far inside its outline (frontal plane)
POLISH_SPACING_MM = 3.0  # and this far apart
POLISH_ITERATIONS = 20
STEP_DAMPING = 1e-6  # keeps a step's 6x6 system solvable when few points match
MIN_COS = 0.5  # pairs whose normals differ by more than 60 degrees are not matches
SEARCH_MM = 20.0  # scan points farther than this from a model point are no match (and not searched for)
CAP_MM = 10.0  # a point's distance counts at most this much in the cost; an unmatched point costs this

@dataclass(frozen=True)
class FaceFit:
    """Where the template's face sits on a scan, and how face-like the scan is there."""

    to_template: np.ndarray  # float64 [4, 4], scan (mm) -> template frame, rigid
    score_mm: float  # nose_mm + symmetry_mm, the search's cost of its winner (lower is better)
    nose_mm: float  # mean distance of the template's nose points to the scan, each capped at CAP_MM
    symmetry_mm: float  # mean distance of the matched scan's mirror image (template midplane) to the scan, capped
    starts: int  # starts tried


@dataclass(frozen=True)
class _Surface:
    """Points spread evenly over a scan, their outward normals, and a search tree."""

    points: np.ndarray  # [P, 3]
    normals: np.ndarray  # [P, 3]
    tree: cKDTree

    @classmethod
    def of(cls, vertices: np.ndarray, faces: np.ndarray) -> _Surface:
        points, normals = surface_points(vertices, faces, SCAN_SPACING_MM)
        return cls(points, normals, cKDTree(points))

    def matches(self, poses: np.ndarray, model: _Model) -> tuple[np.ndarray, np.ndarray]:
        """Distances [C, M] from the model's points to their closest scan point under each pose
        [C, 4, 4] (scan -> template), inf where none is within SEARCH_MM or the normals
        disagree; and those scan points [C, M, 3] in the template frame."""
        rotation, shift = poses[:, :3, :3], poses[:, None, :3, 3]
        in_scan = (model.points[None] - shift) @ rotation  # R^T (p - t), row vectors
        distance, nearest = self.tree.query(in_scan.reshape(-1, 3), distance_upper_bound=SEARCH_MM)
        distance = distance.reshape(len(poses), -1)
        nearest = np.minimum(nearest, len(self.points) - 1).reshape(len(poses), -1)  # misses: any index
        transposed = rotation.transpose(0, 2, 1)
        facing = np.sum((self.normals[nearest] @ transposed) * model.normals, axis=2)
        matched = self.points[nearest] @ transposed + shift
        return np.where(facing > MIN_COS, distance, np.inf), matched

    def mirror_distances(self, poses: np.ndarray, matched: np.ndarray) -> np.ndarray:
        """Distances [C, M] from the mirror images (x -> -x, template frame) of scan points
        [C, M, 3] to the scan, inf beyond SEARCH_MM."""
        mirrored = matched * np.array([-1.0, 1.0, 1.0])
        in_scan = (mirrored - poses[:, None, :3, 3]) @ poses[:, :3, :3]
        distance, _ = self.tree.query(in_scan.reshape(-1, 3), distance_upper_bound=SEARCH_MM)
        return distance.reshape(matched.shape[:2])


@dataclass(frozen=True)
class _Model:
    """Template points that are fitted to a scan, with their normals."""

    points: np.ndarray  # [M, 3], template frame
    normals: np.ndarray  # [M, 3]
    on_nose: np.ndarray  # bool [M]

    @classmethod
    def of(cls, template: Template, normals: np.ndarray, vertices: np.ndarray) -> _Model:
        return cls(template.vertices[vertices], normals[vertices], template.region[vertices] == REGIONS.index("nose"))


def find_face(template: Template, scan_vertices: np.ndarray, scan_faces: np.ndarray) -> FaceFit:
    """The rigid transform putting the face of a scan in mm (any orientation, head, neck,
    clutter) onto the template, and how face-like the scan is there.

    Starts: every nose-tip candidate (local maxima of protrusion) with the template's nose
    direction on the scan's there, at `ROLLS` rolls; and `FORWARD_DIRECTIONS` x `ROLLS`
    rotations with the pronasale on the scan's most anterior point. The central face is fitted
    from all of them a few ICP steps at a time, the worse part dropped after each round (`_cost`
    ranks them); the winner is polished (`_polish`). The scan's normals must point out of the
    surface, as the template's do.
    """
    scan = _Surface.of(np.asarray(scan_vertices, np.float64), np.asarray(scan_faces, np.int64))
    normals = trimesh.Trimesh(template.vertices, template.faces, process=False).vertex_normals
    central = np.flatnonzero(np.isin(template.region, [REGIONS.index(r) for r in CENTRAL_REGIONS]))
    model = _Model.of(template, normals, central[_thinned(template.vertices[central], COARSE_POINTS_SPACING_MM)])
    poses = np.concatenate([_nose_starts(template, scan), _sphere_starts(template, scan)])
    starts = len(poses)
    while True:
        poses = _icp(poses, model, scan, ROUND_ITERATIONS, KEEP_SHARE)
        score, distance, mirror = _cost(poses, model, scan)
        if len(poses) <= FINAL_STARTS:
            break
        poses = poses[np.argsort(score, kind="stable")[:max(FINAL_STARTS, len(poses) // ROUND_SHRINK)]]
    best = int(np.argmin(score))
    return FaceFit(_polish(poses[best], template, normals, scan), float(score[best]),
                   float(np.minimum(distance[best][model.on_nose], CAP_MM).mean()),
                   float(np.minimum(mirror[best], CAP_MM).mean()), starts)


def _polish(pose: np.ndarray, template: Template, normals: np.ndarray, scan: _Surface) -> np.ndarray:
    """The pose [4, 4] refined with the template's whole inner face, untrimmed.

    A real face differs from the template; fitted by its central parts alone, the misfit
    piles up on the chin and brows and the registration starts tilted. The inner face
    spreads it; the rim (hairline, sides) is left out because scans differ most there, and
    with it the fit keeps sliding."""
    inner = np.flatnonzero(cKDTree(outline()).query(template.uv)[0] >= POLISH_INSET_MM)
    model = _Model.of(template, normals, inner[_thinned(template.vertices[inner], POLISH_SPACING_MM)])
    return _icp(pose[None], model, scan, POLISH_ITERATIONS, keep_share=1.0)[0]


def surface_points(vertices: np.ndarray, faces: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Points [P, 3] spread evenly over a mesh, about `spacing_mm` apart, with their normals [P, 3].

    Scanners and decimation leave vertices dense in some places and sparse in others; evenly
    spread points make a patch's shape and a fit's distances independent of that.
    """
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    count = int(min(MAX_SAMPLES, np.ceil(OVERSAMPLING * mesh.area / spacing_mm ** 2)))
    points, face_index, barycentric = trimesh.sample.sample_surface(mesh, count, return_barycentric=True,
                                                                    seed=SAMPLE_SEED)
    normals = _unit(np.einsum("pk,pkj->pj", barycentric, mesh.vertex_normals[mesh.faces[face_index]]))
    keep = _thinned(points, spacing_mm)
    return points[keep], normals[keep]


def _thinned(points: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Indices of one point per occupied cube of side `spacing_mm` (the first, in order)."""
    cells = np.floor(points / spacing_mm).astype(np.int64)
    cells -= cells.min(axis=0)
    extent = cells.max(axis=0) + 1
    _, first = np.unique((cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2], return_index=True)
    return np.sort(first)


def _nose_starts(template: Template, scan: _Surface) -> np.ndarray:
    """Poses [K * ROLLS, 4, 4] putting the template's nose tip on each nose-tip candidate (a
    local maximum of protrusion), its nose direction on the candidate's."""
    sparse = _thinned(scan.points, CANDIDATE_SPACING_MM)
    candidates, candidate_normals = scan.points[sparse], scan.normals[sparse]
    k = min(PROTRUSION_NEIGHBOURS, len(candidates))
    _, patch = cKDTree(candidates).query(candidates, k)
    # How far each candidate stands out of its patch along the patch's mean normal.
    protrusion = np.einsum("ij,ij->i", candidates - candidates[patch].mean(axis=1),
                           _unit(candidate_normals[patch].sum(axis=1)))
    peak = protrusion >= protrusion[patch[:, : k // 4]].max(axis=1)
    order = np.flatnonzero(peak)[np.argsort(-protrusion[peak], kind="stable")][:NOSE_CANDIDATES]

    tmpl_tip, tmpl_forward = _tip(_Surface.of(template.vertices, template.faces),
                                  template.vertices[template.landmark_idx[PRONASALE]])
    poses = []
    for i in order:
        tip, forward = _tip(scan, candidates[i])
        onto = _rotation_between(forward, tmpl_forward)
        for roll in np.arange(ROLLS) * 2 * np.pi / ROLLS:
            rotation = _rotation_about(tmpl_forward, roll) @ onto
            poses.append(_pose(rotation, tmpl_tip - rotation @ tip))
    return np.array(poses).reshape(-1, 4, 4)


def _tip(surface: _Surface, near: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The apex of the bump at `near` and the mean normal of the patch around it.

    A candidate on the slope of a nose has a tilted patch; moving to the most anterior point
    nearby along the patch normal, and again, settles on the tip, so the scan and the template
    measure the same point and the same direction."""
    tip = near
    for _ in range(TIP_STEPS):
        forward = _unit(surface.normals[surface.tree.query_ball_point(tip, PATCH_RADIUS_MM)].sum(axis=0))
        nearby = surface.tree.query_ball_point(tip, TIP_SEARCH_MM)
        tip = surface.points[nearby[int(np.argmax(surface.points[nearby] @ forward))]]
    return tip, _unit(surface.normals[surface.tree.query_ball_point(tip, PATCH_RADIUS_MM)].sum(axis=0))


def _sphere_starts(template: Template, scan: _Surface) -> np.ndarray:
    """Poses [FORWARD_DIRECTIONS * ROLLS, 4, 4]: each forward direction onto the template's +z,
    at each roll, with the scan's most anterior point on the pronasale."""
    tip = template.vertices[template.landmark_idx[PRONASALE]]
    out_of_face = np.array([0.0, 0.0, 1.0])
    poses = []
    for forward in _fibonacci_sphere(FORWARD_DIRECTIONS):
        anterior = scan.points[np.argmax(scan.points @ forward)]
        onto = _rotation_between(forward, out_of_face)
        for roll in np.arange(ROLLS) * 2 * np.pi / ROLLS:
            rotation = _rotation_about(out_of_face, roll) @ onto
            poses.append(_pose(rotation, tip - rotation @ anterior))
    return np.array(poses)


def _cost(poses: np.ndarray, model: _Model, scan: _Surface) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pose, the cost [C]: the nose points' mean fit distance plus the model's mean mirror
    distance, each point's capped at CAP_MM (an unmatched point costs CAP_MM); and the fit and
    mirror distances [C, M] of every model point.

    The nose is what sets a face apart from a bump of hair, an ear or a shoulder, and a real
    face differs from the template most in its eyes and chin; the mirror term needs no
    template at all. Over the whole central face, the fit of a wrong start on the back of a
    head can match a real face's (docs/geometry.md)."""
    distance, matched = scan.matches(poses, model)
    mirror = np.where(distance < CAP_MM, scan.mirror_distances(poses, matched), np.inf)
    cost = np.minimum(distance[:, model.on_nose], CAP_MM).mean(axis=1) + np.minimum(mirror, CAP_MM).mean(axis=1)
    return cost, distance, mirror


def _icp(poses: np.ndarray, model: _Model, scan: _Surface, iterations: int, keep_share: float) -> np.ndarray:
    """Trimmed point-to-plane ICP of the model onto the scan from each pose [C, 4, 4] at once;
    each step fits the `keep_share` of like-facing pairs that are closest.

    Point-to-plane lets the scan slide along the model's surface, so it comes back from starts
    turned further off than point-to-point ICP, which stalls near where it began."""
    for _ in range(iterations):
        distance, matched = scan.matches(poses, model)
        finite = np.isfinite(distance)
        kept = np.floor(keep_share * (finite.sum(axis=1) - 1)).clip(0).astype(np.int64)
        limit = np.take_along_axis(np.sort(distance, axis=1), kept[:, None], axis=1)
        weights = (finite & (distance <= limit)).astype(np.float64)
        poses = _plane_step(matched, model, weights) @ poses
    return poses


def _plane_step(matched: np.ndarray, model: _Model, weights: np.ndarray) -> np.ndarray:
    """Rigid motions [C, 4, 4] moving the matched scan points [C, M, 3] onto the model's tangent
    planes, linearised in the rotation (small angles: one Gauss-Newton step)."""
    normal = np.broadcast_to(model.normals, matched.shape)
    residual = np.einsum("cmi,cmi->cm", model.points[None] - matched, normal)
    jacobian = np.concatenate([np.cross(matched, normal), normal], axis=2)  # d residual / (rotation, shift)
    weighted = jacobian * weights[..., None]
    system = weighted.transpose(0, 2, 1) @ jacobian + STEP_DAMPING * np.eye(6)
    step = np.linalg.solve(system, np.einsum("cmi,cm->ci", weighted, residual)[..., None])[..., 0]
    motion = np.tile(np.eye(4), (len(matched), 1, 1))
    motion[:, :3, :3] = _rotations(step[:, :3])
    motion[:, :3, 3] = step[:, 3:]
    return motion


def _fibonacci_sphere(n: int) -> np.ndarray:
    """`n` unit vectors [n, 3] spread evenly over the sphere."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    angle = np.pi * (1.0 + np.sqrt(5.0)) * i
    r = np.sqrt(1.0 - z * z)
    return np.column_stack([r * np.cos(angle), r * np.sin(angle), z])


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation [3, 3] taking unit vector a onto unit vector b."""
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis), float(a @ b)
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        # Opposite: half a turn about any axis perpendicular to a.
        other = np.eye(3)[np.argmin(np.abs(a))]
        return _rotation_about(_unit(np.cross(a, other)), np.pi)
    return _rotation_about(axis / sin, np.arctan2(sin, cos))


def _rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation [3, 3] by `angle` (radians) about the unit `axis`."""
    return _rotations(np.asarray(axis)[None] * angle)[0]


def _rotations(vectors: np.ndarray) -> np.ndarray:
    """Rotations [C, 3, 3] about each of `vectors` [C, 3] by its length (radians; Rodrigues)."""
    angle = np.linalg.norm(vectors, axis=1)
    axis = _unit(vectors)
    k = np.zeros((len(vectors), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k -= k.transpose(0, 2, 1)
    return (np.eye(3) + np.sin(angle)[:, None, None] * k
            + (1.0 - np.cos(angle))[:, None, None] * k @ k)


def _pose(rotation: np.ndarray, shift: np.ndarray) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, shift
    return pose


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
