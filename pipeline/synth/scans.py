"""Raw scans and landmark annotations simulated from a true face.

A scanner does not return the template: it samples the surface with its own triangulation,
adds noise along the normals, leaves holes, stores vertices in its own order and in its own
frame. An annotator clicks landmarks with some scatter and the odd gross mislabel. Both are
simulated here so registration and landmarking downstream can be checked against known truth.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import trimesh
from matplotlib.path import Path as PolygonPath
from scipy.spatial import Delaunay, cKDTree
from scipy.spatial.transform import Rotation

from ..face.rigid import transform as apply_pose

CANDIDATES_PER_VERTEX = 12  # size of the area-uniform pool the vertices are chosen from
_LLOYD_ITERATIONS = 4
HEX_CELL = np.sqrt(3.0) / 2.0  # Voronoi cell area / spacing^2 of a hexagonal (relaxed) layout
_CLEAR_MARGIN_MM = 5.0  # holes keep this far from keep_clear points, beyond their radius
_MAX_HOLE_TRIES = 200
FULL_ROTATION_DEG = 180.0  # max_rotation_deg that draws a uniformly random rotation
UNITS = {"mm": 1.0, "cm": 0.1, "m": 0.001, "um": 1000.0}  # a scan's unit: its size of 1 mm


@dataclass(frozen=True)
class Scan:
    """A raw scan in its own topology, frame and unit; `pose` maps the true face onto it."""

    vertices: np.ndarray  # float64 [S, 3], scan coordinates, in `unit`
    faces: np.ndarray  # int64 [G, 3], consistently oriented (normals out of the face)
    pose: np.ndarray  # float64 [4, 4], x_scan = s R x_true + t, x_true in mm, s = UNITS[unit]
    unit: str  # a key of UNITS


@dataclass(frozen=True)
class Annotation:
    """Annotated landmarks in scan coordinates, with the truth about their errors."""

    points: np.ndarray  # float64 [L, 3], scan coordinates (the scan's unit)
    mislabelled: np.ndarray  # bool [L]
    error_mm: np.ndarray  # float64 [L], distance from the true landmark, mm


def random_pose(rng: np.random.Generator, max_rotation_deg: float,
                max_translation_mm: float) -> np.ndarray:
    """A rigid transform [4, 4]: R = Rz(c) Ry(b) Rx(a), angles and t uniform in +-max.

    At `max_rotation_deg` = FULL_ROTATION_DEG (180) R is instead uniform over all rotations:
    Euler angles uniform in +-180 would crowd the poles. The same three draws then make
    Shoemake's uniform quaternion, so the draws after the pose stay where they are.
    """
    angles = rng.uniform(-max_rotation_deg, max_rotation_deg, 3)
    pose = np.eye(4)
    if max_rotation_deg >= FULL_ROTATION_DEG:
        pose[:3, :3] = _uniform_rotation((angles + FULL_ROTATION_DEG) / (2.0 * FULL_ROTATION_DEG))
    else:
        a, b, c = np.deg2rad(angles)
        rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
        rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
        pose[:3, :3] = rz @ ry @ rx
    pose[:3, 3] = rng.uniform(-max_translation_mm, max_translation_mm, 3)
    return pose


def _uniform_rotation(u: np.ndarray) -> np.ndarray:
    """The rotation [3, 3] of Shoemake's quaternion from three uniforms in [0, 1] (uniform over
    all rotations when they are; K. Shoemake, Graphics Gems III, 1992)."""
    low, high = np.sqrt(1.0 - u[0]), np.sqrt(u[0])
    quaternion = [low * np.sin(2 * np.pi * u[1]), low * np.cos(2 * np.pi * u[1]),
                  high * np.sin(2 * np.pi * u[2]), high * np.cos(2 * np.pi * u[2])]  # x, y, z, w
    return Rotation.from_quat(quaternion).as_matrix()


def in_unit(scan: Scan, annotation: Annotation, unit: str) -> tuple[Scan, Annotation]:
    """The scan and its annotation with coordinates in `unit` (a key of UNITS), both scaled alike.

    The pose then maps the true face (mm) to the file's coordinates: x_scan = s R x + t.
    Errors stay in mm.
    """
    scale = UNITS[unit] / UNITS[scan.unit]
    pose = scan.pose.copy()
    pose[:3] *= scale
    return (Scan(vertices=scan.vertices * scale, faces=scan.faces, pose=pose, unit=unit),
            replace(annotation, points=annotation.points * scale))


def simulate_scan(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray,
                  rng: np.random.Generator, *, n_vertices: int, max_rotation_deg: float,
                  max_translation_mm: float, noise_mm: float, n_holes: int,
                  hole_radius_mm: float | tuple[float, float],
                  keep_clear: np.ndarray | None = None) -> Scan:
    """A raw scan of the true face (`vertices` in the template topology `faces` over `uv`).

    The surface is resampled to exactly `n_vertices` points lying on it (see `_resample`),
    displaced along the vertex normals by N(0, noise_mm), cut by `n_holes` clean holes of
    radius drawn uniformly in `hole_radius_mm` (3-D distance from a surface point at least
    radius + 5 mm from every `keep_clear` point [M, 3], true frame), stripped of unreferenced
    vertices, shuffled and posed by `random_pose`. The rng draws for the resampled, noisy
    surface come first, so the same rng state gives the same surface whatever `n_holes`.
    """
    points, tris = _resample(vertices, faces, uv, rng, n_vertices)
    normals = trimesh.Trimesh(points, tris, process=False).vertex_normals
    points = points + normals * rng.normal(0.0, noise_mm, len(points))[:, None]
    clear = np.empty((0, 3)) if keep_clear is None else np.asarray(keep_clear, dtype=float)
    tris = _cut_holes(points, tris, rng, n_holes, hole_radius_mm, clear)
    mesh = trimesh.Trimesh(points, tris, process=False)
    mesh.remove_unreferenced_vertices()
    order, shuffled_faces = _shuffle(len(mesh.vertices), mesh.faces, rng)
    pose = random_pose(rng, max_rotation_deg, max_translation_mm)
    return Scan(vertices=apply_pose(np.asarray(mesh.vertices)[order], pose),
                faces=shuffled_faces, pose=pose, unit="mm")


def extend_scan(scan: Scan, vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator) -> Scan:
    """The scan with more surface: `vertices` [E, 3] (true frame, mm) posed like the scan and
    appended, `faces` [H, 3] indexing [scan.vertices; vertices]. Vertices and faces are
    shuffled again, so their order does not tell the added surface from the scanned face."""
    merged = np.vstack([scan.vertices, apply_pose(vertices, scan.pose)])
    order, shuffled_faces = _shuffle(len(merged), np.vstack([scan.faces, faces]), rng)
    return Scan(vertices=merged[order], faces=shuffled_faces, pose=scan.pose, unit=scan.unit)


def true_frame(scan: Scan) -> np.ndarray:
    """The scan's vertices [S, 3] in the true face's frame (mm)."""
    return apply_pose(scan.vertices, np.linalg.inv(scan.pose))


def _shuffle(n_vertices: int, faces: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random vertex order [V] (new position -> old vertex) and the faces [G, 3] renumbered
    to it, in a random order of their own."""
    order = rng.permutation(n_vertices)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return order, rank[faces][rng.permutation(len(faces))].astype(np.int64)


def annotate_landmarks(true_points: np.ndarray, pose: np.ndarray, rng: np.random.Generator, *,
                       noise_mm: float, mislabel_rate: float,
                       mislabel_mm: tuple[float, float]) -> Annotation:
    """Landmarks as an annotator clicks them on the scan.

    Each landmark is independently a gross mislabel with probability `mislabel_rate`: moved by
    a uniformly random direction times a length uniform in `mislabel_mm`. Otherwise it gets
    isotropic Gaussian scatter with sd `noise_mm` per axis, so its 3-D error follows a
    Maxwell distribution with mean sqrt(8/pi) * sd ~ 1.6 sd (RMS sqrt(3) sd). Errors are in the
    true frame (and, the pose being rigid, equally in the coordinates of a scan in mm).
    """
    n = len(true_points)
    mislabelled = rng.random(n) < mislabel_rate
    scatter = rng.normal(0.0, noise_mm, (n, 3))
    direction = rng.normal(size=(n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    gross = direction * rng.uniform(mislabel_mm[0], mislabel_mm[1], n)[:, None]
    offset = np.where(mislabelled[:, None], gross, scatter)
    return Annotation(points=apply_pose(true_points + offset, pose), mislabelled=mislabelled,
                      error_mm=np.linalg.norm(offset, axis=1))


def _resample(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray, rng: np.random.Generator,
              n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """A new triangulation of the true surface with exactly `n_vertices` points on it.

    Points are spread evenly over the 3-D area (the face is steep at the sides and under the
    nose, so uniform in uv would starve those parts): the domain boundary at equal 3-D arc
    length, and inside a discrete Lloyd relaxation that picks points from an area-uniform
    pool. The pool is drawn inside template triangles, so every point carries its barycentric
    lift onto the true piecewise-linear surface. Triangulated by Delaunay in uv.
    """
    loop = disc_boundary(faces)
    tri_area = trimesh.triangles.area(vertices[faces])
    seg = np.linalg.norm(vertices[np.roll(loop, -1)] - vertices[loop], axis=1)
    cum = np.cumsum(seg)
    perimeter = cum[-1]
    # n = area / (c h^2) + perimeter / (2 h): hexagonal cells inside, half cells on the rim.
    a, b = tri_area.sum() / HEX_CELL, perimeter / 2.0
    inv_spacing = (-b + np.sqrt(b * b + 4.0 * a * n_vertices)) / (2.0 * a)
    n_boundary = int(round(perimeter * inv_spacing))
    n_interior = n_vertices - n_boundary
    if n_interior < 1:
        raise ValueError(f"n_vertices={n_vertices} is too few to cover the surface")

    # Boundary: equal 3-D arc length from a random start, interpolated along boundary edges.
    arc = (rng.random() + np.arange(n_boundary)) * perimeter / n_boundary
    edge = np.minimum(np.searchsorted(cum, arc, side="right"), len(seg) - 1)
    frac = ((arc - (cum - seg)[edge]) / seg[edge])[:, None]
    start, end = loop[edge], np.roll(loop, -1)[edge]
    rim_uv = (1.0 - frac) * uv[start] + frac * uv[end]
    rim_xyz = (1.0 - frac) * vertices[start] + frac * vertices[end]

    # Interior pool: uniform over the 3-D area; sites relaxed over it with the rim fixed.
    owner_tri, weights = area_pool(faces, tri_area, CANDIDATES_PER_VERTEX * n_interior, rng)
    pool_uv = np.einsum("nk,nkd->nd", weights, uv[owner_tri])
    pool_xyz = np.einsum("nk,nkd->nd", weights, vertices[owner_tri])
    sites = relax(pool_xyz, rim_xyz, n_interior, rng)

    points_uv = np.vstack([rim_uv, pool_uv[sites]])
    points = np.vstack([rim_xyz, pool_xyz[sites]])
    tris, centroid = triangulate(points_uv)
    tris = tris[PolygonPath(uv[loop]).contains_points(centroid)]
    if np.unique(tris).size != n_vertices:
        raise RuntimeError("resampling lost vertices; the uv domain is not a valid disc")
    return points, tris


def triangulate(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Delaunay triangles [G, 3] of 2-D `points`, counter-clockwise, and their centroids [G, 2].

    Points on one straight boundary edge are collinear up to rounding: their slivers are dropped.
    """
    tris = Delaunay(points).simplices.astype(np.int64)
    p0, p1, p2 = (points[tris[:, k]] for k in range(3))
    d1, d2 = p1 - p0, p2 - p0
    signed = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    solid = np.abs(signed) > 1e-9 * np.abs(signed).max()
    tris = np.where((signed < 0)[:, None], tris[:, ::-1], tris)
    return tris[solid], ((p0 + p1 + p2) / 3.0)[solid]


def area_pool(faces: np.ndarray, tri_area: np.ndarray, n_pool: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(triangle [n_pool, 3], barycentric weights [n_pool, 3]) of points uniform over the
    3-D area: triangles drawn by systematic sampling of the cumulative area (so no triangle
    gets a Poisson clump), uniform barycentrics inside."""
    mass = np.cumsum(tri_area)
    quantile = (rng.random() + np.arange(n_pool)) * mass[-1] / n_pool
    drawn = np.searchsorted(mass, quantile, side="right")
    owner_tri = faces[np.minimum(drawn, len(faces) - 1)]
    r1, r2 = np.sqrt(rng.random(n_pool)), rng.random(n_pool)
    return owner_tri, np.column_stack([1.0 - r1, r1 * (1.0 - r2), r1 * r2])


def relax(pool_xyz: np.ndarray, fixed_xyz: np.ndarray, n_sites: int,
           rng: np.random.Generator) -> np.ndarray:
    """Indices [n_sites] into `pool_xyz` (CANDIDATES_PER_VERTEX per site) of evenly spread sites.

    Discrete Lloyd from every k-th pool point (spread like the pool): each cell moves to its
    pool point nearest the cell centroid, with `fixed_xyz` as cells that stay. A site is itself
    a pool point, so no cell is ever empty and the sites stay distinct.
    """
    n_fixed = len(fixed_xyz)
    sites = np.arange(n_sites) * CANDIDATES_PER_VERTEX + rng.integers(CANDIDATES_PER_VERTEX)
    for _ in range(_LLOYD_ITERATIONS):
        cell = cKDTree(np.vstack([fixed_xyz, pool_xyz[sites]])).query(pool_xyz)[1] - n_fixed
        member = np.flatnonzero(cell >= 0)
        cell = cell[member]
        size = np.bincount(cell, minlength=n_sites)[:, None]
        centroid = np.column_stack(
            [np.bincount(cell, pool_xyz[member, k], n_sites) for k in range(3)]) / size
        gap = np.sum((pool_xyz[member] - centroid[cell]) ** 2, axis=1)
        best = np.full(n_sites, np.inf)
        np.minimum.at(best, cell, gap)
        nearest = np.flatnonzero(gap == best[cell])
        _, first = np.unique(cell[nearest], return_index=True)  # one site per cell on ties
        sites = member[nearest[first]]
    return sites


def disc_boundary(faces: np.ndarray) -> np.ndarray:
    """Vertex indices of the one boundary loop of a disc (the template's domain), in order."""
    loops = boundary_loops(faces)
    if len(loops) != 1:
        raise ValueError("the template's uv domain must be a disc with one simple boundary loop")
    return loops[0]


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Vertex indices [n] of each boundary loop, in the direction of the faces' winding; the
    loop of the first boundary edge comes first."""
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    edges = directed[trimesh.grouping.group_rows(np.sort(directed, axis=1), require_count=1)]
    successor = dict(zip(edges[:, 0].tolist(), edges[:, 1].tolist()))
    if len(successor) != len(edges) or set(successor) != set(successor.values()):
        raise ValueError("the boundary is not simple loops: a vertex is on more than two boundary edges")
    loops, seen = [], set()
    for start in edges[:, 0].tolist():
        if start not in seen:
            loop = [start]
            while successor[loop[-1]] != start:
                loop.append(successor[loop[-1]])
            seen.update(loop)
            loops.append(np.asarray(loop, dtype=np.int64))
    return loops


def _cut_holes(points: np.ndarray, tris: np.ndarray, rng: np.random.Generator, n_holes: int,
               hole_radius_mm: float | tuple[float, float], keep_clear: np.ndarray) -> np.ndarray:
    """The faces left after cutting `n_holes` clean holes.

    A hole removes the faces whose centroid is within its radius of a centre vertex. It is kept
    only if the mesh stays one edge-connected piece, no vertex is pinched between two boundary
    loops and the Euler characteristic drops by one, i.e. the cut opened exactly one new
    boundary loop (not merged with the rim or another hole, no island left inside). Otherwise
    another centre is drawn.
    """
    lo, hi = np.broadcast_to(np.asarray(hole_radius_mm, dtype=float), (2,))
    radii = rng.uniform(lo, hi, n_holes)
    clearance = (cKDTree(keep_clear).query(points)[0] if len(keep_clear)
                 else np.full(len(points), np.inf))
    centroids = points[tris].mean(axis=1)
    keep = np.ones(len(tris), dtype=bool)
    euler = _topology(tris)[0]
    for radius in radii:
        allowed = np.flatnonzero(clearance >= radius + _CLEAR_MARGIN_MM)
        for _ in range(_MAX_HOLE_TRIES if len(allowed) else 0):
            centre = points[allowed[rng.integers(len(allowed))]]
            trial = keep & (np.sum((centroids - centre) ** 2, axis=1) > radius * radius)
            if _topology(tris[trial]) == (euler - 1, True) and _n_components(tris[trial]) == 1:
                keep, euler = trial, euler - 1
                break
        else:
            raise ValueError(f"no place for a clean hole of radius {radius:.1f} mm "
                             f"{_CLEAR_MARGIN_MM:.0f} mm clear of the keep_clear points")
    return tris[keep]


def _topology(tris: np.ndarray) -> tuple[int, bool]:
    """V - E + F over the referenced vertices, and whether the boundary is simple loops only
    (no vertex on more than two boundary edges)."""
    pairs = np.sort(tris[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    base = int(tris.max()) + 1
    keys, uses = np.unique(pairs[:, 0] * base + pairs[:, 1], return_counts=True)
    rim = keys[uses == 1]
    rim_degree = np.bincount(np.r_[rim // base, rim % base], minlength=base)
    return int(np.unique(tris).size - keys.size + len(tris)), bool(rim_degree.max() <= 2)


def _n_components(tris: np.ndarray) -> int:
    """Number of pieces connected through shared edges."""
    adjacency = trimesh.graph.face_adjacency(faces=tris)
    labels = trimesh.graph.connected_component_labels(adjacency, node_count=len(tris))
    return int(labels.max()) + 1
