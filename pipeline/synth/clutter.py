"""Junk a scanner picks up with a head: hair strands, bumps of hair, stray blobs.

Real scans carry surface that is not the person's skin: tufts and strands of hair lying over
the forehead and scalp, a lumpy scalp where the hair is, and floating specks (a loose clump,
dust, a bit of the room). Registration and landmarking must not be pulled by them, so the
synthetic scans can carry them too. Per unit of `synth.scan.clutter`: STRANDS_PER_UNIT strands,
each a thin tube rooted on the surface above the hairline and lying over it; BLOBS_PER_UNIT
lumpy blobs floating off the surface; and, on a head's scalp, BUMPS_PER_UNIT bumps of hair.
Everything is built in the true frame (mm); strands and blobs are pieces of their own.
"""
from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from ..face.template import smoothstep

STRANDS_PER_UNIT = 20
BLOBS_PER_UNIT = 2
BUMPS_PER_UNIT = 8
_HAIR_BELOW_HAIRLINE_MM = 10.0  # strands grow from above this line below the hairline
_STRAND_STEP_MM = 2.0
_STRAND_LENGTH_MM = (20.0, 80.0)
_STRAND_RADIUS_MM = (0.4, 1.2)
_STRAND_LIFT_MM = (0.5, 4.0)  # how far a strand lies above the surface once off its root
_STRAND_SIDES = 6
_BLOB_RADIUS_MM = (3.0, 10.0)
_BLOB_DISTANCE_MM = (10.0, 50.0)  # from the surface, along its normal
_BUMP_HEIGHT_MM = (2.0, 6.0)
_BUMP_WIDTH_MM = (10.0, 25.0)
_HAIR_FADE_MM = 15.0


def clutter(vertices: np.ndarray, faces: np.ndarray, hairline_y: float, amount: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Strands and blobs around a scanned surface (`vertices` [V, 3], `faces`, true frame):
    (vertices [C, 3], faces [D, 3] indexing them). Strands grow from vertices above
    `hairline_y` - 10 mm; `amount` scales their number and the blobs'."""
    normals = trimesh.Trimesh(vertices, faces, process=False).vertex_normals
    tree = cKDTree(vertices)
    hair = np.flatnonzero(vertices[:, 1] > hairline_y - _HAIR_BELOW_HAIRLINE_MM)
    roots = hair[rng.integers(len(hair), size=int(round(STRANDS_PER_UNIT * amount)))]
    pieces = [_strand(vertices, normals, tree, root, rng) for root in roots]
    anchors = rng.integers(len(vertices), size=int(round(BLOBS_PER_UNIT * amount)))
    pieces += [_blob(vertices[i] + normals[i] * rng.uniform(*_BLOB_DISTANCE_MM), rng) for i in anchors]
    offsets = np.cumsum([0] + [len(v) for v, _ in pieces])
    return (np.vstack([v for v, _ in pieces] or [np.empty((0, 3))]),
            np.vstack([f + o for (_, f), o in zip(pieces, offsets)] or [np.empty((0, 3), np.int64)]))


def hair_bumps(vertices: np.ndarray, centre: np.ndarray, face_scan: np.ndarray, hairline_y: float,
               amount: float, rng: np.random.Generator) -> np.ndarray:
    """A head's `vertices` [V, 3] with bumps of hair: `amount` x BUMPS_PER_UNIT Gaussian bumps
    centred on vertices above `hairline_y`, pushing vertices away from `centre`. They fade in
    over _HAIR_FADE_MM above the hairline and away from `face_scan` [S, 3], the surface the head
    joins, so neither makes a step."""
    scalp = np.flatnonzero(vertices[:, 1] > hairline_y)
    count = int(round(BUMPS_PER_UNIT * amount))
    if count == 0 or len(scalp) == 0:
        return vertices
    tops = vertices[scalp[rng.integers(len(scalp), size=count)]]
    width = rng.uniform(*_BUMP_WIDTH_MM, count)
    height = rng.uniform(*_BUMP_HEIGHT_MM, count)
    gap = np.linalg.norm(vertices[:, None] - tops[None], axis=2)
    fade = (smoothstep((vertices[:, 1] - hairline_y) / _HAIR_FADE_MM)
            * smoothstep(cKDTree(face_scan).query(vertices)[0] / _HAIR_FADE_MM))
    lift = np.exp(-0.5 * (gap / width) ** 2) @ height * fade
    outward = vertices - centre
    return vertices + outward / np.linalg.norm(outward, axis=1, keepdims=True) * lift[:, None]


def _strand(vertices: np.ndarray, normals: np.ndarray, tree: cKDTree, root: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A tube rooted at vertex `root` that lies over the surface, wandering mostly downwards."""
    n_steps = int(rng.uniform(*_STRAND_LENGTH_MM) / _STRAND_STEP_MM)
    radius, lift = rng.uniform(*_STRAND_RADIUS_MM), rng.uniform(*_STRAND_LIFT_MM)
    wander = rng.normal(0.0, 0.3, (n_steps + 1, 3))
    path, up = [vertices[root]], [normals[root]]
    heading = _along(normals[root], wander[0] + [0.0, -1.0, 0.0])
    for step in range(1, n_steps + 1):
        ahead = path[-1] + _STRAND_STEP_MM * heading
        near = tree.query(ahead)[1]
        height = lift * min(1.0, step / 3)  # the strand leaves its root over three steps
        path.append(ahead - (np.dot(ahead - vertices[near], normals[near]) - height) * normals[near])
        up.append(normals[near])
        heading = _along(normals[near], heading + wander[step])
    return _tube(np.array(path), np.array(up), radius)


def _along(normal: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """The unit direction of `direction` within the plane of `normal`."""
    flat = direction - np.dot(direction, normal) * normal
    return flat / np.linalg.norm(flat)


def _tube(path: np.ndarray, up: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """An open tube of `radius` around `path` [P, 3], rings turned to keep `up` [P, 3] above."""
    tangent = np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    side = np.cross(tangent, up)
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    top = np.cross(side, tangent)
    angle = 2.0 * np.pi * np.arange(_STRAND_SIDES) / _STRAND_SIDES
    rings = path[:, None] + radius * (np.cos(angle)[None, :, None] * side[:, None]
                                      + np.sin(angle)[None, :, None] * top[:, None])
    k = np.arange(_STRAND_SIDES)
    ring = (np.arange(len(path) - 1) * _STRAND_SIDES)[:, None]
    a, b = ring + k, ring + (k + 1) % _STRAND_SIDES  # this ring, next corner
    faces = np.concatenate([np.stack([a, b + _STRAND_SIDES, b], -1),
                            np.stack([a, a + _STRAND_SIDES, b + _STRAND_SIDES], -1)])  # outwards
    return rings.reshape(-1, 3), faces.reshape(-1, 3).astype(np.int64)


def _blob(centre: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A lumpy ellipsoid (semi-axes 3-10 mm, randomly turned) around `centre`."""
    sphere = trimesh.creation.icosphere(subdivisions=2)
    axes = rng.uniform(*_BLOB_RADIUS_MM, 3)
    lumps = 1.0 + rng.normal(0.0, 0.08, len(sphere.vertices))
    turn = Rotation.random(random_state=rng).as_matrix()
    return centre + (sphere.vertices * lumps[:, None] * axes) @ turn.T, np.asarray(sphere.faces, np.int64)
