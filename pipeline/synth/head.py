"""A head around a scanned face: cranium and neck, joined to the face scan at its rim.

A real scanner returns more than the face: the skull above and behind it, the sides of the
head and a neck cut off above the shoulders. The head is built around each true face, its
proportions taken from the face's own measures, as a surface star-shaped about a centre C
inside the head (on the neck's axis, at mouth height): one radius per direction, from a
cranium (two half-ellipsoids) and a vertical elliptic neck joined by a smooth maximum, bent
near the face's rim so that it meets the rim with the face's own slope. Its scan is resampled
at the face scan's density and stitched to the face scan's rim vertices, so face and head are
one mesh. Directions are charted by stereographic projection from straight down (the open
neck); the projection is conformal, so Delaunay triangles in the chart are well shaped.

Proportions (adult norms, Farkas 1994, rounded): head breadth eu-eu 1.10 x face breadth
zy-zy, head length g-op 1.42 x zy-zy, vertex 0.95 x n-me above the nasion; neck breadth
0.78 x eu-eu, neck depth 0.6 x g-op, the throat 40 mm behind the menton.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from matplotlib.path import Path as PolygonPath
from matplotlib.tri import LinearTriInterpolator, Triangulation
from scipy.spatial import Delaunay, cKDTree

from ..face.template import Template, smoothstep
from .scans import CANDIDATES_PER_VERTEX, HEX_CELL, area_pool, boundary_loops, disc_boundary, relax, triangulate

EXTENTS = ("none", "front", "whole")  # synth.scan.head: no head, its front half, all of it

_BREADTH_PER_FACE_WIDTH = 1.10
_LENGTH_PER_FACE_WIDTH = 1.42
_VERTEX_PER_FACE_HEIGHT = 0.95
_CRANIUM_ABOVE_NASION_MM = 30.0  # the cranium's centre (and widest section), at the upper forehead
_CRANIUM_DEPTH = 1.1  # the cranium's half-height below its centre, per half length
_NECK_BREADTH = 0.78  # per head breadth
_NECK_DEPTH = 0.6  # per head length
_THROAT_BEHIND_MENTON_MM = 40.0
_NECK_FADE_MM = 30.0  # the neck fades out over this height above the cranium's centre
_NECK_BELOW_MENTON_MM = (40.0, 80.0)  # where the scan's neck is cut, drawn per person
_BACK_CUT = (-0.15, 0.15)  # front extent: the cut behind the ears, per half length from the centre
_PROPORTION_SPREAD = 0.04  # each head proportion varies by up to +-4 % beyond the face's
_FILLET_MM = 25.0  # cranium-neck union: at most a quarter of this over the larger radius
_RIM_BLEND_RAD = 0.5  # the head bends towards the face rim within this angle of it
_RIM_INSET_MM = 5.0  # the face's slope at its rim, measured over this distance inside it
_REFERENCE_DIRECTIONS = 20_000  # the head surface before resampling: ~1.4 degrees apart
_LOWEST_DIRECTION = -0.99  # directions steeper down than this are inside the cut neck


@dataclass(frozen=True)
class HeadShape:
    """A head in the true face's frame (mm, +y up, +z out of the face) and where it is cut."""

    centre: np.ndarray  # [3] C: on the neck's axis, at mouth height
    cranium_centre: np.ndarray  # [3]
    cranium_axes: np.ndarray  # [4] half breadth (x), half length (z), height above and depth below the centre (y)
    neck_axes: np.ndarray  # [2] half breadth (x), half depth (z) of the vertical neck through C
    neck_fade: tuple[float, float]  # y: the neck is whole below the second, gone above the first
    cut_y: float  # the neck is cut off below this
    cut_z: float  # the back of the head is cut off behind this (-inf: the whole head)


def draw_head_shape(face: np.ndarray, landmark_idx: np.ndarray, extent: str,
                    rng: np.random.Generator) -> HeadShape:
    """The head of the true face `face` [T, 3] (template topology, landmarks at `landmark_idx`).

    The same five draws whatever the extent: breadth, length, height, the neck cut, the back cut.
    """
    if extent not in EXTENTS[1:]:
        raise ValueError(f"head extent must be one of {EXTENTS[1:]} (got {extent!r})")
    marks = face[landmark_idx]
    glabella, nasion, menton = marks[26], marks[27], marks[53]
    face_width = float(np.linalg.norm(marks[56] - marks[62]))  # zy-zy
    face_height = float(np.linalg.norm(nasion - menton))  # n-me
    breadth, length, vertex = rng.uniform(1 - _PROPORTION_SPREAD, 1 + _PROPORTION_SPREAD, 3) * [
        _BREADTH_PER_FACE_WIDTH * face_width, _LENGTH_PER_FACE_WIDTH * face_width,
        _VERTEX_PER_FACE_HEIGHT * face_height]
    neck_below, back = rng.uniform(*_NECK_BELOW_MENTON_MM), rng.uniform(*_BACK_CUT)
    half_length = length / 2
    cranium_centre = np.array([0.0, nasion[1] + _CRANIUM_ABOVE_NASION_MM, glabella[2] - half_length])
    height = nasion[1] + vertex - cranium_centre[1]
    neck_axes = np.array([_NECK_BREADTH * breadth / 2, _NECK_DEPTH * half_length])
    neck_z = menton[2] - _THROAT_BEHIND_MENTON_MM - neck_axes[1]
    centre = np.array([0.0, 0.5 * (nasion[1] + menton[1]), neck_z])
    fade = (cranium_centre[1] + _NECK_FADE_MM, cranium_centre[1])
    return HeadShape(centre=centre, cranium_centre=cranium_centre,
                     cranium_axes=np.array([breadth / 2, half_length, height, _CRANIUM_DEPTH * half_length]),
                     neck_axes=neck_axes, neck_fade=fade, cut_y=float(menton[1] - neck_below),
                     cut_z=cranium_centre[2] + back * half_length if extent == "front" else -np.inf)


def head_surface(face_scan: np.ndarray, scan_faces: np.ndarray, face: np.ndarray, template: Template,
                 shape: HeadShape, noise_mm: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The head's scan, joined to a face scan: (new vertices [H, 3], faces [G, 3] indexing
    [face_scan; new vertices]), in the true frame (mm).

    `face_scan` [S, 3] (true frame) and `scan_faces` are the scan of `face`; its outer rim is
    the longest boundary loop. The head is resampled like the face, with as many vertices per
    mm^2 as the face scan: points at equal spacing along the cut, then an area-uniform pool
    relaxed between them and the face scan's rim vertices, triangulated in the chart and
    given noise along the normals (sd `noise_mm`).
    """
    rim = max(boundary_loops(scan_faces), key=lambda loop: _perimeter(face_scan[loop]))
    density = len(np.unique(scan_faces)) / trimesh.Trimesh(face_scan, scan_faces, process=False).area
    surface = _reference_surface(face, template, shape)
    cut = _cut_loop(surface, shape, spacing_mm=1.0 / np.sqrt(HEX_CELL * density))
    kept = surface.faces[_kept(surface.vertices[surface.faces].mean(axis=1), shape)]
    area = trimesh.triangles.area(surface.vertices[kept])
    n_sites = int(round(area.sum() * density))
    owner_tri, weights = area_pool(kept, area, CANDIDATES_PER_VERTEX * n_sites, rng)
    pool = np.einsum("nk,nkd->nd", weights, surface.vertices[owner_tri])
    sites = pool[relax(pool, np.vstack([face_scan[rim], cut]), n_sites, rng)]

    rim_chart, cut_chart = (_chart(_unit(p - shape.centre)) for p in (face_scan[rim], cut))
    site_chart = _chart(_unit(sites - shape.centre))
    inside = PolygonPath(cut_chart)
    sites = sites[_off_edge_circles(site_chart, rim_chart) & _off_edge_circles(site_chart, cut_chart)
                  & inside.contains_points(site_chart)]
    points = np.vstack([face_scan[rim], cut, sites])
    tris, centroid = triangulate(_chart(_unit(points - shape.centre)))
    tris = tris[inside.contains_points(centroid) & ~PolygonPath(rim_chart).contains_points(centroid)]
    mesh = trimesh.Trimesh(points, tris, process=False)
    if np.sum(mesh.face_normals * (mesh.triangles_center - shape.centre)) < 0:  # outwards, like the face
        tris = tris[:, ::-1]
        mesh = trimesh.Trimesh(points, tris, process=False)
    noisy = points + mesh.vertex_normals * rng.normal(0.0, noise_mm, len(points))[:, None]

    used = np.zeros(len(points), dtype=bool)
    used[tris.ravel()] = True
    used[:len(rim)] = False  # the face scan's own vertices stay as they are
    index = np.empty(len(points), dtype=np.int64)
    index[:len(rim)] = rim
    index[used] = len(face_scan) + np.arange(used.sum())
    return noisy[used], index[tris]


@dataclass(frozen=True)
class _Surface:
    vertices: np.ndarray  # [V, 3]
    faces: np.ndarray  # [F, 3]


def _reference_surface(face: np.ndarray, template: Template, shape: HeadShape) -> _Surface:
    """The smooth head outside the face, down into the neck beyond the cut (no noise, about
    2 mm triangles)."""
    directions = _fibonacci_directions(_REFERENCE_DIRECTIONS)
    directions = directions[directions[:, 1] > _LOWEST_DIRECTION]
    blend = _RimBlend.of(face, template, shape)
    vertices = shape.centre + blend.radius(directions)[:, None] * directions
    chart = _chart(directions)
    tris = Delaunay(chart).simplices.astype(np.int64)
    off_face = ~PolygonPath(_chart(blend.rim_directions)).contains_points(chart[tris].mean(axis=1))
    return _Surface(vertices, tris[off_face])


@dataclass(frozen=True)
class _RimBlend:
    """The head's radius per direction, bent to meet the face's rim with the face's slope.

    Near the rim (angle d from it, d < _RIM_BLEND_RAD) the head's radius R0 becomes
    R0 + (delta + slope * d) * w(d), w falling smoothly from 1 to 0: delta closes the gap to the
    rim, slope makes up the difference between the face's and R0's rate of change across it.
    Both are interpolated along the rim with a Gaussian kernel that widens away from it.
    """

    shape: HeadShape
    rim_directions: np.ndarray  # [R, 3] from C to the face's rim, in order
    delta: np.ndarray  # [R] mm
    slope: np.ndarray  # [R] mm per radian, outwards

    @classmethod
    def of(cls, face: np.ndarray, template: Template, shape: HeadShape) -> _RimBlend:
        loop = disc_boundary(template.faces)
        uv = template.uv[loop]
        along = np.roll(uv, -1, axis=0) - np.roll(uv, 1, axis=0)
        inwards = _unit(np.column_stack([-along[:, 1], along[:, 0]]))  # left of a CCW loop
        mesh = Triangulation(template.uv[:, 0], template.uv[:, 1], template.faces)
        inner_uv = uv + _RIM_INSET_MM * inwards
        inner = np.column_stack([LinearTriInterpolator(mesh, face[:, k])(inner_uv[:, 0], inner_uv[:, 1])
                                 for k in range(3)])
        rim, inner = face[loop] - shape.centre, np.asarray(inner) - shape.centre
        rim_dir, inner_dir = _unit(rim), _unit(inner)
        angle = np.arccos(np.clip(np.sum(rim_dir * inner_dir, axis=1), -1.0, 1.0))
        base_rim, base_inner = _base_radius(rim_dir, shape), _base_radius(inner_dir, shape)
        face_slope = (np.linalg.norm(rim, axis=1) - np.linalg.norm(inner, axis=1)) / angle
        return cls(shape, rim_dir, np.linalg.norm(rim, axis=1) - base_rim,
                   face_slope - (base_rim - base_inner) / angle)

    def radius(self, directions: np.ndarray) -> np.ndarray:
        """Radius [N] of the head from C along unit `directions` [N, 3]."""
        angle = np.arccos(np.clip(directions @ self.rim_directions.T, -1.0, 1.0))
        d = angle.min(axis=1)
        width = 0.05 + 0.5 * d  # radians: the kernel follows the rim closely near it, smoothly away
        kernel = np.exp(-0.5 * (angle ** 2 - d[:, None] ** 2) / width[:, None] ** 2)
        kernel /= kernel.sum(axis=1, keepdims=True)
        bend = kernel @ self.delta + (kernel @ self.slope) * d
        return _base_radius(directions, self.shape) + bend * (1.0 - smoothstep(d / _RIM_BLEND_RAD))


def _base_radius(directions: np.ndarray, shape: HeadShape) -> np.ndarray:
    """Radius [N] from C of the cranium and the neck joined by a smooth maximum."""
    cranium = _cranium_radius(directions, shape)
    neck = _neck_radius(directions, shape)
    top, full = shape.neck_fade
    neck = neck * (1.0 - smoothstep((shape.centre[1] + neck * directions[:, 1] - full) / (top - full)))
    # Quilez's polynomial smooth maximum: a fillet where the two are within _FILLET_MM.
    h = np.maximum(_FILLET_MM - np.abs(cranium - neck), 0.0) / _FILLET_MM
    return np.maximum(cranium, neck) + h * h * _FILLET_MM / 4.0


def _cranium_radius(directions: np.ndarray, shape: HeadShape) -> np.ndarray:
    """Distance from C to the cranium: a lower and an upper half-ellipsoid sharing their
    equator (a convex body around C)."""
    breadth, length, height, depth = shape.cranium_axes
    offset = shape.centre - shape.cranium_centre
    lower = np.array([breadth, depth, length])
    t = _ray_exit(offset / lower, directions / lower)
    above = offset[1] + t * directions[:, 1] > 0  # these rays cross the equator inside
    upper = np.array([breadth, height, length])
    t[above] = _ray_exit(offset / upper, directions[above] / upper)
    return t


def _neck_radius(directions: np.ndarray, shape: HeadShape) -> np.ndarray:
    """Distance from C (on its axis) to the vertical elliptic neck; large along the axis."""
    across = np.hypot(directions[:, 0] / shape.neck_axes[0], directions[:, 2] / shape.neck_axes[1])
    return 1.0 / np.maximum(across, 1e-6)


def _ray_exit(origin: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """t > 0 where origin + t * direction leaves the unit sphere (the ray [3] + t [N, 3] meets it)."""
    a = np.sum(directions ** 2, axis=1)
    b = directions @ origin
    c = origin @ origin - 1.0
    return (-b + np.sqrt(b * b - a * c)) / a


def _cut_loop(surface: _Surface, shape: HeadShape, spacing_mm: float) -> np.ndarray:
    """Points [L, 3] `spacing_mm` apart (in order) along the line where `surface` is cut: the
    zero line of min(y - cut_y, z - cut_z), piecewise linear over its triangles."""
    vertices, tris = surface.vertices, surface.faces
    value = np.minimum(vertices[:, 1] - shape.cut_y, vertices[:, 2] - shape.cut_z)
    kept = value > 0
    crossed = tris[kept[tris].any(axis=1) & ~kept[tris].all(axis=1)]
    edges = np.sort(crossed[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 3, 2), axis=2)
    crossing = kept[edges[..., 0]] != kept[edges[..., 1]]  # two edges of each crossed triangle
    ends = edges[crossing].reshape(-1, 2, 2)  # per triangle, the two edges its segment joins
    keys = ends[..., 0] * len(vertices) + ends[..., 1]
    neighbours: dict[int, list[int]] = {}
    for segment, (a, b) in enumerate(keys.tolist()):
        neighbours.setdefault(a, []).append(segment)
        neighbours.setdefault(b, []).append(segment)
    loops, done = [], np.zeros(len(keys), dtype=bool)
    for first in range(len(keys)):
        if done[first]:
            continue
        chain, segment, key = [keys[first, 0]], first, keys[first, 1]
        while not done[segment]:
            done[segment] = True
            chain.append(key)
            segment = next((s for s in neighbours[key] if s != segment), segment)
            key = keys[segment, 1] if keys[segment, 0] == key else keys[segment, 0]
        loops.append(np.array(chain[:-1]))
    loop = max(loops, key=len)
    lo, hi = loop // len(vertices), loop % len(vertices)
    t = (value[lo] / (value[lo] - value[hi]))[:, None]
    line = vertices[lo] + t * (vertices[hi] - vertices[lo])
    step = np.linalg.norm(np.roll(line, -1, axis=0) - line, axis=1)
    arc = np.r_[0.0, np.cumsum(step)]
    n_points = int(round(arc[-1] / spacing_mm))
    at = np.arange(n_points) * arc[-1] / n_points
    closed = np.vstack([line, line[:1]])
    return np.column_stack([np.interp(at, arc, closed[:, k]) for k in range(3)])


def _off_edge_circles(points: np.ndarray, loop: np.ndarray) -> np.ndarray:
    """Which `points` [N, 2] lie outside every circle that has an edge of the closed `loop`
    [L, 2] as its diameter: without them there, Delaunay keeps every edge of the loop, so
    the head meets each rim edge of the face scan."""
    ends = np.roll(loop, -1, axis=0)
    near = cKDTree(points).query_ball_point(0.5 * (loop + ends), 0.5 * np.linalg.norm(ends - loop, axis=1))
    clear = np.ones(len(points), dtype=bool)
    clear[np.concatenate([np.asarray(i, dtype=np.int64) for i in near])] = False
    return clear


def _kept(points: np.ndarray, shape: HeadShape) -> np.ndarray:
    """Which points [N, 3] lie above the neck cut and in front of the back cut."""
    return (points[:, 1] > shape.cut_y) & (points[:, 2] > shape.cut_z)


def _chart(directions: np.ndarray) -> np.ndarray:
    """Stereographic projection [N, 2] of unit directions from straight down (-y)."""
    return directions[:, [0, 2]] / (1.0 + directions[:, 1:2])


def _fibonacci_directions(n: int) -> np.ndarray:
    """n unit vectors [n, 3] spread evenly over the sphere (a Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    y = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - y * y)
    phi = np.pi * (3.0 - np.sqrt(5.0)) * i
    return np.column_stack([r * np.cos(phi), y, r * np.sin(phi)])


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _perimeter(points: np.ndarray) -> float:
    return float(np.linalg.norm(np.roll(points, -1, axis=0) - points, axis=1).sum())
