"""The procedural template face: a frontal facial mask carrying the 65 landmarks.

The surface is a height field z = h(x, y) over an oval domain from hairline to chin and
temple to temple (millimetres, +y up, +z out of the face, the subject's right at -x).
Building it as a height field makes every triangulation of the domain a valid, manifold,
consistently oriented surface, and gives each vertex 2-D coordinates (`uv`) that the scan
simulator reuses to resample the same surface. Anatomy is a sum of smooth, named parts
(nose, lids, lips, ...) placed so the landmark distances sit near adult means; vertices are
spread by centroidal Voronoi relaxation with a density that follows the 3-D area and the
detail of each region, and every landmark is a vertex of its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.path import Path as PolygonPath
from scipy.interpolate import CubicSpline, PchipInterpolator
from scipy.spatial import Delaunay, cKDTree

N_LANDMARKS = 65
REGIONS = ("nose", "mouth", "eyes", "brows_forehead", "cheeks_jaw", "chin")

# Outline of the mask (right half, x <= 0, from the top of the forehead clockwise to the
# chin in the viewer's picture); mirrored to close the curve. Convex, so the Delaunay hull
# of points placed on it is the domain itself.
_OUTLINE_HALF = np.array(
    [(0.0, 70.0), (-24.0, 68.0), (-46.0, 60.0), (-60.0, 42.0), (-67.0, 20.0), (-71.0, -12.0),
     (-69.0, -42.0), (-61.0, -72.0), (-50.0, -95.0), (-34.0, -111.0), (-17.0, -118.0),
     (0.0, -120.0)]
)
_CENTRE = np.array([0.0, -25.0])

# Canthi (x, y) of the subject's right eye; the left eye mirrors it.
_ENDOCANTHION = np.array([-16.5, -8.0])
_EXOCANTHION = np.array([-45.0, -6.0])
_UPPER_LID_RISE, _LOWER_LID_DROP = 5.2, 3.8
_FISSURE_EDGE_MM = 0.9  # the lid margin falls to the globe over this width

# Vermilion borders and the mouth slit, as functions of |x| (mm).
_CHEILION_X, _STOMION_Y = 26.0, -75.0
_SLIT_HALF_MM = 0.9  # half-width of the mouth slit at its middle
_UPPER_BORDER = PchipInterpolator([0.0, 5.0, 10.0, 15.0, 21.0, 26.0],
                                  [-66.5, -65.5, -66.3, -68.0, -71.0, -75.0])
_LOWER_BORDER = PchipInterpolator([0.0, 6.0, 15.0, 21.0, 26.0], [-84.0, -83.5, -80.5, -78.0, -75.0])

# Nose: midline protrusion over the face (mm) and half-width of the nasal pyramid by height.
_NOSE_Y = np.array([2.0, 0.0, -15.0, -30.0, -40.0, -44.0, -46.0, -48.0, -50.0, -52.0, -53.5, -55.5])
_NOSE_H = np.array([0.0, 2.5, 9.0, 15.0, 20.0, 21.5, 21.0, 18.0, 12.0, 5.5, 1.5, 0.0])
_NOSE_W = np.array([6.0, 6.5, 7.0, 8.0, 9.5, 10.5, 11.0, 11.0, 10.5, 10.0, 9.5, 9.0])


@dataclass(frozen=True)
class Template:
    """A face mesh with its parameter domain, landmarks and region labels."""

    vertices: np.ndarray  # float64 [T, 3], mm
    faces: np.ndarray  # int64 [F, 3], counter-clockwise seen from +z
    uv: np.ndarray  # float64 [T, 2], frontal (x, y) of each vertex; faces triangulate it
    landmark_idx: np.ndarray  # int64 [65], 0-based vertex of landmark 1..65
    region: np.ndarray  # int8 [T], index into REGIONS

    @property
    def landmarks(self) -> np.ndarray:
        """Landmark positions [65, 3]."""
        return self.vertices[self.landmark_idx]


def outline(n_points: int = 400) -> np.ndarray:
    """The closed domain boundary [n_points, 2], counter-clockwise, equally spaced in arc length."""
    half = _OUTLINE_HALF
    ring = np.concatenate([half, half[-2:0:-1] * [-1.0, 1.0]])
    closed = np.vstack([ring, ring[:1]])
    seg = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))]
    spline = CubicSpline(seg, closed, bc_type="periodic")
    dense = spline(np.linspace(0.0, seg[-1], 20 * n_points, endpoint=False))
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))]
    total = arc[-1] + np.linalg.norm(dense[0] - dense[-1])
    s = np.linspace(0.0, total, n_points, endpoint=False)
    pts = np.column_stack([np.interp(s, arc, dense[:, 0]), np.interp(s, arc, dense[:, 1])])
    area2 = np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
    return pts if area2 > 0 else pts[::-1]


def gauss2d(x, y, cx, cy, sx, sy):
    return np.exp(-0.5 * (((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2))


def bump(u):
    """Compact C1 bump on |u| < 1, 1 at 0."""
    v = np.clip(1.0 - u * u, 0.0, None)
    return v * v


def smoothstep(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _eye_frame(x, y):
    """Coordinates relative to the nearer eye: t along endocanthion -> exocanthion, d up."""
    rel = np.stack([-np.abs(x), y], -1) - _ENDOCANTHION  # both eyes in the right eye's frame
    axis = _EXOCANTHION - _ENDOCANTHION
    length = float(np.linalg.norm(axis))
    unit = axis / length
    up = np.array([unit[1], -unit[0]])  # unit points to -x, so this normal points to +y
    return rel @ unit / length, rel @ up


def _lid_margins(t):
    """Upper and lower lid margin offsets from the canthal axis at fraction t (0 = en)."""
    tc = np.clip(t, 0.0, 1.0)
    # Skewed so the upper apex sits medial of centre and the lower apex near centre.
    upper = _UPPER_LID_RISE * np.sin(np.pi * tc ** 0.85) ** 0.8
    lower = -_LOWER_LID_DROP * np.sin(np.pi * tc ** 1.0) ** 0.9
    return upper, lower


def height(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Template surface z (mm) at frontal positions (x, y)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ax_ = np.abs(x)
    z = _base(x, y)

    # Forehead and brow ridge: the supraorbital torus follows the brows; glabella in the middle.
    brow_y = _brow_y(ax_)
    z += 3.0 * np.exp(-0.5 * ((y - brow_y) / 5.0) ** 2) * bump(np.clip(ax_ / 60.0, 0, 1))
    z += 2.0 * gauss2d(x, y, 0.0, 9.0, 9.0, 6.0)
    z += 1.2 * np.exp(-0.5 * ((y - brow_y - 1.0) / 2.2) ** 2) * bump(
        np.clip((ax_ - 32.0) / 22.0, -1, 1))  # eyebrows

    # Orbits, globes, lids.
    z -= 10.0 * gauss2d(ax_, y, 30.5, -6.0, 13.5, 9.5)
    z += 5.0 * gauss2d(ax_, y, 30.5, -7.0, 9.0, 6.5)
    t, d = _eye_frame(x, y)
    upper, lower = _lid_margins(t)
    inside = np.minimum(upper - d, d - lower)  # > 0 inside the palpebral fissure
    along = bump(np.clip((t - 0.5) / 0.62, -1, 1))
    z -= 2.2 * smoothstep(inside / _FISSURE_EDGE_MM) * (t > 0) * (t < 1)
    z -= 1.1 * np.exp(-0.5 * ((d - upper - 6.0) / 1.4) ** 2) * along  # upper lid crease
    z += 0.9 * np.exp(-0.5 * ((d - lower + 2.5) / 1.5) ** 2) * along  # lower lid
    z -= 1.5 * gauss2d(ax_, y, 27.0, -17.0, 9.0, 3.5)  # tear trough

    # Cheekbones, maxilla and dental arch, chin.
    z += 6.0 * gauss2d(ax_, y, 46.0, -25.0, 13.0, 11.0)
    z += 12.0 * gauss2d(x, y, 0.0, -72.0, 25.0, 24.0)
    z += 10.0 * gauss2d(x, y, 0.0, -105.0, 15.0, 8.5)
    z -= 4.0 * gauss2d(x, y, 0.0, -92.5, 16.0, 3.2)  # mentolabial sulcus

    # Nose: pyramid, alae with their creases, nostrils on the underside.
    nose_h = np.interp(-y, -_NOSE_Y, _NOSE_H)
    nose_w = np.interp(-y, -_NOSE_Y, _NOSE_W)
    z += nose_h * np.exp(-0.5 * (x / (0.62 * nose_w)) ** 2)
    z += 8.0 * gauss2d(ax_, y, 13.5, -47.0, 5.0, 4.2)
    ring = np.hypot((ax_ - 13.5) / 6.5, (y + 47.5) / 5.5)
    z -= 1.4 * np.exp(-0.5 * ((ring - 1.0) / 0.16) ** 2) * (y < -40.0)
    z -= 5.0 * gauss2d(ax_, y, 6.5, -50.3, 2.6, 1.3)

    # Philtrum and nasolabial folds.
    z += 0.8 * np.exp(-0.5 * ((ax_ - 5.0) / 1.6) ** 2) * bump(np.clip((y + 60.0) / 6.5, -1, 1))
    s = np.clip((-y - 50.0) / 28.0, 0.0, 1.0)  # along the fold from ala to past the mouth corner
    fold_x = 17.5 + 14.0 * s
    z -= 1.6 * np.exp(-0.5 * ((ax_ - fold_x) / 2.8) ** 2) * bump(2.0 * s - 1.0)

    # Lips: vermilion bulges between the borders and the slit, then the slit itself.
    inside_mouth = bump(np.clip(ax_ / (_CHEILION_X + 2.0), 0, 1))
    ub = _UPPER_BORDER(np.clip(ax_, 0, _CHEILION_X))
    lb = _LOWER_BORDER(np.clip(ax_, 0, _CHEILION_X))
    up_c, up_h = 0.5 * (ub + _STOMION_Y), np.maximum(0.5 * (ub - _STOMION_Y), 0.8)
    lo_c, lo_h = 0.5 * (lb + _STOMION_Y), np.maximum(0.5 * (_STOMION_Y - lb), 0.8)
    z += 3.5 * bump(np.clip((y - up_c) / (1.25 * up_h), -1, 1)) * inside_mouth
    z += 4.0 * bump(np.clip((y - lo_c) / (1.25 * lo_h), -1, 1)) * inside_mouth
    z += 0.5 * np.exp(-0.5 * ((y - ub) / 0.7) ** 2) * inside_mouth  # white roll
    z -= 3.5 * np.exp(-0.5 * ((y - _STOMION_Y) / 0.8) ** 2) * bump(
        np.clip(ax_ / (_CHEILION_X + 1.0), 0, 1)) ** 0.5
    return z


def _base(x, y):
    """The head's front: flat in the middle, turning back towards the outline."""
    ring = outline(720)
    rel = np.stack([x, y], -1) - _CENTRE
    theta = np.arctan2(rel[..., 1], rel[..., 0])
    ring_rel = ring - _CENTRE
    ring_theta = np.arctan2(ring_rel[:, 1], ring_rel[:, 0])
    order = np.argsort(ring_theta)
    ring_theta, ring_r = ring_theta[order], np.linalg.norm(ring_rel[order], axis=1)
    radius = np.interp(theta, ring_theta, ring_r, period=2 * np.pi)
    rho = np.clip(np.linalg.norm(rel, axis=-1) / radius, 0.0, 1.0) * 0.93
    p = 2.6
    # Deeper turn at the sides than at the hairline and under the chin.
    c2 = np.cos(theta) ** 2
    depth = 95.0 * c2 + np.where(np.sin(theta) > 0, 55.0, 40.0) * (1 - c2)
    return depth * ((1.0 - rho ** p) ** (1.0 / p) - 1.0)


def landmark_uv() -> np.ndarray:
    """Frontal (x, y) of landmarks 1..65 [65, 2], after ../reference/landmarks_65.md."""
    lm = np.zeros((N_LANDMARKS, 2))

    def put(number: int, x: float, y: float, mirror: int | None = None) -> None:
        lm[number - 1] = (x, y)
        if mirror is not None:
            lm[mirror - 1] = (-x, y)

    # Brows 1-5 (right, lateral to medial) mirror 10-6.
    for right, left, ax_ in ((1, 10, 53.0), (2, 9, 43.0), (3, 8, 32.0), (4, 7, 21.0), (5, 6, 11.0)):
        put(right, -ax_, float(_brow_y(np.array(ax_))) + 1.0, left)
    # Eye rings: right 11 ex, 12-14 upper lid, 15 en, 16-18 lower lid; left mirrored.
    axis = _EXOCANTHION - _ENDOCANTHION
    up = np.array([axis[1], -axis[0]]) / np.linalg.norm(axis)
    ring = {11: (1.0, None), 12: (0.75, "u"), 13: (0.45, "u"), 14: (0.2, "u"), 15: (0.0, None),
            16: (0.2, "l"), 17: (0.5, "l"), 18: (0.78, "l")}
    left_of = {11: 23, 12: 22, 13: 21, 14: 20, 15: 19, 16: 26, 17: 25, 18: 24}
    for number, (t, lid) in ring.items():
        upper, lower = _lid_margins(np.array(t))
        d = {"u": float(upper), "l": float(lower), None: 0.0}[lid]
        x, y = _ENDOCANTHION + t * axis + d * up
        put(number, x, y, left_of[number])
    put(27, 0.0, 9.0)  # glabella
    for number, y in ((28, 0.0), (29, -15.0), (30, -30.0), (31, -44.0)):
        put(number, 0.0, y)
    put(32, -17.5, -47.0, 38)  # alare
    put(33, -11.5, -51.5, 37)  # subalare
    put(34, -3.0, -52.5, 36)  # columella base
    put(35, 0.0, -53.5)  # subnasale
    put(39, -_CHEILION_X, _STOMION_Y, 45)
    for right, left, ax_ in ((40, 44, 15.0), (41, 43, 5.0)):
        put(right, -ax_, float(_UPPER_BORDER(ax_)), left)
    put(42, 0.0, float(_UPPER_BORDER(0.0)))
    for right, left, ax_ in ((50, 46, 15.0), (49, 47, 6.0)):
        put(right, -ax_, float(_LOWER_BORDER(ax_)), left)
    put(48, 0.0, float(_LOWER_BORDER(0.0)))
    put(51, 0.0, _STOMION_Y)
    put(52, 0.0, -92.5)  # sublabiale
    put(53, 0.0, -106.0)  # pogonion
    # Outer contour, 2.5 mm inside the outline: 54 menton, 55-59 up the right side, 61-65
    # down the left side.
    ring_pts = outline(2000)
    targets = {54: (0.0, -121.0), 55: (-36.0, -111.0), 56: (-51.0, -91.0), 57: (-71.0, -12.0),
               58: (-65.0, 28.0), 59: (-45.0, 60.0)}
    mirror = {55: 65, 56: 64, 57: 63, 58: 62, 59: 61}
    for number, target in targets.items():
        nearest = ring_pts[np.argmin(np.linalg.norm(ring_pts - target, axis=1))]
        inward = (_CENTRE - nearest) / np.linalg.norm(_CENTRE - nearest)
        x, y = nearest + 2.5 * inward
        put(number, x, y, mirror.get(number))
    put(60, 0.0, 59.0)  # trichion: the hairline, below the top of the mask
    return lm


def build_template(n_vertices: int) -> Template:
    """Build the template mesh with exactly `n_vertices` vertices (deterministic)."""
    if n_vertices < 2000:
        raise ValueError(f"a template needs at least 2000 vertices (got {n_vertices})")
    boundary_poly = outline(2000)
    domain = PolygonPath(boundary_poly)
    lo, hi = boundary_poly.min(0), boundary_poly.max(0)
    step = 0.5
    gx, gy = np.meshgrid(np.arange(lo[0], hi[0] + step, step), np.arange(lo[1], hi[1] + step, step))
    z = height(gx, gy)
    dzdy, dzdx = np.gradient(z, step)
    area = np.sqrt(1.0 + dzdx ** 2 + dzdy ** 2)
    lap = np.abs(np.gradient(dzdx, step, axis=1) + np.gradient(dzdy, step, axis=0))
    density = area * (1.0 + np.minimum(lap, 1.5)) * (1.0 + 0.8 * _detail(gx, gy))
    cand = np.column_stack([gx.ravel(), gy.ravel()])
    keep = domain.contains_points(cand)
    cand, dens = cand[keep], density.ravel()[keep]

    # Fixed points: landmarks and the outline at the mean spacing.
    mean_spacing = np.sqrt(np.sum(area.ravel()[keep]) * step * step / n_vertices * 1.1)
    perimeter = np.sum(np.linalg.norm(np.diff(np.vstack([boundary_poly, boundary_poly[:1]]), axis=0), axis=1))
    n_boundary = int(round(perimeter / (1.2 * mean_spacing)))
    landmarks = landmark_uv()
    features = _feature_points()
    clear = cKDTree(landmarks).query(features)[0] > 0.5
    fixed = np.vstack([landmarks, outline(n_boundary), features[clear]])
    n_free = n_vertices - len(fixed)
    rng = np.random.default_rng(20240612)
    weights = dens ** 2  # CVT cell area scales with density^-1/2 in 2-D
    free = cand[rng.choice(len(cand), n_free, replace=False, p=dens / dens.sum())]
    n_fixed = len(fixed)
    for _ in range(30):
        pts = np.vstack([fixed, free])
        _, owner = cKDTree(pts).query(cand)
        w = np.bincount(owner, weights, minlength=len(pts))
        cx = np.bincount(owner, weights * cand[:, 0], minlength=len(pts))
        cy = np.bincount(owner, weights * cand[:, 1], minlength=len(pts))
        moved = w[n_fixed:] > 0
        free[moved] = np.column_stack([cx, cy])[n_fixed:][moved] / w[n_fixed:][moved, None]
    uv = np.vstack([fixed, free])
    tri = Delaunay(uv).simplices.astype(np.int64)
    centroid = uv[tri].mean(1)
    tri = tri[domain.contains_points(centroid)]
    a, b, c = uv[tri[:, 0]], uv[tri[:, 1]], uv[tri[:, 2]]
    signed = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    tri[signed < 0] = tri[signed < 0][:, ::-1]
    vertices = np.column_stack([uv, height(uv[:, 0], uv[:, 1])])
    return Template(vertices=vertices, faces=tri, uv=uv,
                    landmark_idx=np.arange(N_LANDMARKS, dtype=np.int64),
                    region=_regions(uv[:, 0], uv[:, 1]))


def _feature_points(spacing_mm: float = 1.0) -> np.ndarray:
    """Vertices along the creases that must be sharp: lid margins, the fissure's floor edge,
    the mouth slit and the vermilion borders. Edges then follow them instead of zig-zagging."""
    axis = _EXOCANTHION - _ENDOCANTHION
    up = np.array([axis[1], -axis[0]]) / np.linalg.norm(axis)
    n = int(np.linalg.norm(axis) * 1.15 / spacing_mm)
    t = np.linspace(0.0, 1.0, n)[1:-1]
    upper, lower = _lid_margins(t)
    inner = t[(upper - lower) > 3.0]
    inner_up, inner_lo = _lid_margins(inner)
    right_eye = np.vstack([
        _ENDOCANTHION + t[:, None] * axis + upper[:, None] * up,
        _ENDOCANTHION + t[:, None] * axis + lower[:, None] * up,
        _ENDOCANTHION + inner[:, None] * axis + (inner_up - _FISSURE_EDGE_MM)[:, None] * up,
        _ENDOCANTHION + inner[:, None] * axis + (inner_lo + _FISSURE_EDGE_MM)[:, None] * up,
    ])
    x = np.linspace(-_CHEILION_X, _CHEILION_X, int(2 * _CHEILION_X / spacing_mm) + 1)[1:-1]
    ax_ = np.abs(x)
    mouth = np.vstack([
        np.column_stack([x, np.full_like(x, _STOMION_Y)]),
        np.column_stack([x, _STOMION_Y + _SLIT_HALF_MM * np.sqrt(1 - (x / _CHEILION_X) ** 2)]),
        np.column_stack([x, _STOMION_Y - _SLIT_HALF_MM * np.sqrt(1 - (x / _CHEILION_X) ** 2)]),
        np.column_stack([x, _UPPER_BORDER(ax_)]),
        np.column_stack([x, _LOWER_BORDER(ax_)]),
    ])
    return np.vstack([right_eye, right_eye * [-1.0, 1.0], mouth])


def _brow_y(ax_):
    return 9.5 + 3.5 * bump(np.clip((ax_ - 30.0) / 30.0, -1, 1)) - 2.0 * (ax_ / 55.0) ** 2


def _detail(x, y):
    """0..1 weight of the finely shaped parts (eyes, nose, lips) for vertex density."""
    ax_ = np.abs(x)
    eyes = gauss2d(ax_, y, 30.5, -7.0, 13.0, 7.0)
    t, d = _eye_frame(x, y)
    upper, lower = _lid_margins(t)
    margin = np.minimum(np.abs(d - upper), np.abs(d - lower))
    eyes = eyes + 2.0 * np.exp(-0.5 * (margin / 1.2) ** 2) * (t > -0.05) * (t < 1.05)
    nose = gauss2d(x, y, 0.0, -45.0, 16.0, 9.0) + 0.5 * gauss2d(x, y, 0.0, -20.0, 8.0, 20.0)
    lips = gauss2d(x, y, 0.0, -75.0, 22.0, 8.0)
    return np.clip(eyes + nose + lips, 0.0, 2.5)


def _regions(x, y) -> np.ndarray:
    """Region index per vertex (REGIONS), from the frontal position."""
    ax_ = np.abs(x)
    region = np.full(x.shape, REGIONS.index("cheeks_jaw"), dtype=np.int8)
    region[y > _brow_y(ax_) - 4.0] = REGIONS.index("brows_forehead")
    eyes = (((ax_ - 30.5) / 19.0) ** 2 + ((y + 7.0) / 10.0) ** 2) < 1.0
    region[eyes] = REGIONS.index("eyes")
    nose_w = np.interp(-y, -_NOSE_Y, _NOSE_W)
    alae = 8.0 * np.exp(-0.5 * ((y + 47.0) / 5.0) ** 2)  # the nose is widest at the alae
    nose = (y < 3.0) & (y > -55.5) & (ax_ < nose_w + 2.0 + alae)
    region[nose] = REGIONS.index("nose")
    mouth = (((x / 33.0) ** 2 + ((y + 75.0) / 16.0) ** 2) < 1.0) & ~nose
    region[mouth] = REGIONS.index("mouth")
    chin = (y < -90.0) & (((x / 32.0) ** 2 + ((y + 108.0) / 18.0) ** 2) < 1.0)
    region[chin] = REGIONS.index("chin")
    return region
