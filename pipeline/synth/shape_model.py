"""Named anthropometric factors: the shape variation of the synthetic cohort.

Each factor is a smooth, localised displacement field on the template. Measured factors set
one landmark distance (face height n-me, alar width al-al, ...); their values are that
distance in mm, drawn from sex-specific Gaussians whose means and spreads follow published
young-adult norms. The other factors are displacement amplitudes (mm) of shapes the norms do
not measure (chin projection, nostril size, ...). A face is the template plus the factor
fields, solved so every measured distance equals its drawn value exactly, plus a smooth random
residual with a power-law spectrum, so that the eigenfaces of a cohort have a long tail.

Norms (means and SDs rounded; ages 18-28 where the source allows, otherwise the nearest
young-adult group):
- Farkas LG (1994). Anthropometry of the Head and Face, 2nd ed. Raven Press. North American
  Caucasians aged 19-25: n-gn, tr-n, sn-gn, zy-zy, go-go, al-al, sn-prn, ch-ch, sn-sto,
  sl-gn, ls-li, en-en, ex-en, ps-pi.
- Farkas LG, Katic MJ, Forrest CR (2005). International anthropometric study of facial
  morphology in various ethnic groups/races. J Craniofac Surg 16(4):615-646 (sex differences
  and spreads of the same measures).
- Zhuang Z, Landsittel D, Benson S, Roberge R, Shaffer R (2010). Facial anthropometric
  differences among gender, ethnicity, and age groups. Ann Occup Hyg 54(4):391-402
  (correlations: size measures correlate moderately, r ~ 0.3-0.6, within the face; regional
  shape measures of nose and eyes are nearly independent).
Amplitude factors and correlations without a published counterpart are the project's own
choices, documented in docs/synthetic-cohort.md.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..face.template import Template, bump, gauss2d, smoothstep

SEXES = ("M", "F")


@dataclass(frozen=True)
class Factor:
    """One named factor: its landmark measure (1-based numbers) or None, and its norms."""

    name: str
    description: str
    measure: tuple[int, int] | None
    male: tuple[float, float]  # mean, sd: mm of the measure, or amplitude mm
    female: tuple[float, float]


FACTORS: tuple[Factor, ...] = (
    Factor("face_height", "n-me, nasion to menton", (28, 54), (121.0, 6.5), (112.0, 5.5)),
    Factor("forehead_height", "tr-n, trichion to nasion", (60, 28), (64.0, 7.0), (59.0, 6.0)),
    Factor("lower_face_height", "sn-me, subnasale to menton", (35, 54), (72.0, 5.5), (65.0, 4.5)),
    Factor("face_width", "zy-zy, bizygomatic width", (57, 63), (137.0, 5.0), (130.0, 5.0)),
    Factor("jaw_width", "go-go, bigonial width", (56, 64), (97.0, 6.0), (91.0, 6.0)),
    Factor("upper_lip_height", "sn-sto, subnasale to stomion", (35, 51), (22.5, 2.2), (20.0, 1.9)),
    Factor("chin_height", "sl-me, sublabiale to menton", (52, 54), (31.0, 3.5), (28.0, 3.0)),
    Factor("nose_length", "lower nose moved down the face, amplitude", None, (1.5, 2.5), (-1.5, 2.5)),
    Factor("nose_width", "al-al, alar width", (32, 38), (34.9, 2.1), (31.4, 2.0)),
    Factor("nose_protrusion", "sn-prn, tip protrusion", (35, 31), (20.5, 2.0), (19.0, 1.8)),
    Factor("mouth_width", "ch-ch, cheilion to cheilion", (39, 45), (53.0, 3.3), (50.0, 3.2)),
    Factor("lip_height", "ls-li, vermilion height of both lips", (42, 48), (18.5, 2.5), (17.0, 2.2)),
    Factor("intercanthal_width", "en-en", (15, 19), (33.0, 2.6), (31.5, 2.3)),
    Factor("eye_width", "ex-en, palpebral fissure length", (11, 15), (30.5, 1.5), (30.0, 1.4)),
    Factor("eye_height", "ps-pi, palpebral fissure height", (13, 17), (10.0, 1.1), (10.3, 1.1)),
    Factor("brow_height", "brow apex above the upper lid", (3, 13), (16.0, 2.5), (17.5, 2.5)),
    Factor("chin_projection", "forward chin, amplitude", None, (1.5, 2.0), (-1.5, 2.0)),
    Factor("nasal_bridge_depth", "dorsum height at the bridge, amplitude", None, (1.0, 1.5), (-1.0, 1.5)),
    Factor("nostril_size", "nostril depth and width, amplitude", None, (0.3, 0.8), (-0.3, 0.8)),
    Factor("lip_protrusion", "forward lips, amplitude", None, (0.0, 1.5), (0.0, 1.5)),
    Factor("cheekbone_projection", "forward zygomatic prominence, amplitude", None, (0.5, 1.5), (-0.5, 1.5)),
    Factor("brow_ridge", "supraorbital ridge projection, amplitude", None, (1.2, 1.0), (-1.2, 1.0)),
    Factor("forehead_slope", "upper forehead forward (+) or back (-), amplitude", None, (-1.0, 2.5), (1.0, 2.5)),
    Factor("midface_projection", "maxilla and mouth forward, amplitude", None, (0.0, 2.0), (0.0, 2.0)),
)
FACTOR_NAMES = tuple(f.name for f in FACTORS)

# Correlations between factors (both sexes). Blocks: overall size and heights; nose; mouth;
# eyes and brows (independent of the rest, as the planted voice link needs them to be).
# Nested measures correlate strongly: sn-me is most of n-me, so r = 0.85 leaves n-sn the
# spread of about 3 mm the norms give it. Measured factors are distances, and the fields are
# built so that each distance is set by a small displacement (height proportions move
# landmarks between fixed ends), which keeps the solved amplitudes in the range of the norms.
CORRELATIONS: dict[tuple[str, str], float] = {
    ("face_height", "face_width"): 0.35,
    ("face_height", "forehead_height"): 0.2,
    ("face_height", "lower_face_height"): 0.85,
    ("face_height", "nose_length"): 0.35,
    ("face_height", "upper_lip_height"): 0.35,
    ("face_height", "chin_height"): 0.35,
    ("lower_face_height", "face_width"): 0.3,
    ("lower_face_height", "forehead_height"): 0.15,
    ("lower_face_height", "nose_length"): 0.2,
    ("face_width", "jaw_width"): 0.6,
    ("face_width", "nose_width"): 0.15,
    ("face_width", "mouth_width"): 0.3,
    ("jaw_width", "chin_projection"): 0.2,
    ("lower_face_height", "upper_lip_height"): 0.4,
    ("lower_face_height", "chin_height"): 0.4,
    ("nose_length", "nose_protrusion"): 0.4,
    ("nose_width", "nostril_size"): 0.5,
    ("nose_width", "mouth_width"): 0.2,
    ("nose_protrusion", "nasal_bridge_depth"): 0.4,
    ("lip_height", "lip_protrusion"): 0.5,
    ("midface_projection", "lip_protrusion"): 0.3,
    ("chin_height", "chin_projection"): 0.3,
    ("eye_width", "eye_height"): 0.4,
    ("intercanthal_width", "eye_width"): -0.2,
    ("brow_height", "forehead_slope"): -0.2,
    ("brow_ridge", "forehead_slope"): -0.3,
}

# The change of the cohort's mean face per unit of synth.mean_shift (mm, added to both sexes'
# means): proportions clearly unlike the template's yet human, so that a method which
# registers to the template has a bias that re-registering to the cohort's mean face removes.
# Nose length n-sn is what the measured n-me leaves above the measured sn-me, so a shorter
# lower face at the same face height is a longer nose.
MEAN_SHIFT_MM: dict[str, float] = {
    "mouth_width": 8.0,
    "intercanthal_width": 4.0,
    "lower_face_height": -5.0,
    "jaw_width": -8.0,
}


@dataclass(frozen=True)
class ShapeModel:
    """Template, unit factor fields and residual basis; `faces` turns factor values into shapes."""

    template: Template
    fields: np.ndarray  # float64 [F, T, 3], displacement per unit amplitude
    residual_basis: np.ndarray  # float64 [B, T, 3], smooth fields, scaled by their spectrum
    measured: np.ndarray  # int64 indices of measured factors in FACTORS
    measure_pairs: np.ndarray  # int64 [M, 2] 0-based landmark indices of their measures
    residual_mm: float
    mean_offset: np.ndarray  # float64 [F], added to both sexes' factor means (see `shifted`)

    def means(self, sex: str) -> np.ndarray:
        """Factor means [F] for sex 'M' or 'F'."""
        return np.array([(f.male if sex == "M" else f.female)[0] for f in FACTORS]) + self.mean_offset

    def shifted(self, strength: float) -> ShapeModel:
        """This model with the cohort's mean face moved by `strength` x MEAN_SHIFT_MM (0: as
        it is); the template stays as it is."""
        offset = np.array([MEAN_SHIFT_MM.get(name, 0.0) for name in FACTOR_NAMES]) * strength
        return replace(self, mean_offset=offset)

    def covariance(self, sex: str) -> np.ndarray:
        """Factor covariance [F, F] for sex 'M' or 'F'."""
        sd = np.array([(f.male if sex == "M" else f.female)[1] for f in FACTORS])
        return correlation_matrix() * np.outer(sd, sd)

    def sample_factors(self, rng: np.random.Generator, sex: str, n: int) -> np.ndarray:
        """Factor values [n, F] for n people of one sex."""
        if sex not in SEXES:
            raise ValueError(f"sex must be one of {SEXES} (got {sex!r})")
        return rng.multivariate_normal(self.means(sex), self.covariance(sex), size=n, method="cholesky")

    def residual(self, rng: np.random.Generator) -> np.ndarray:
        """One smooth random residual displacement [T, 3] with RMS about `residual_mm`."""
        coef = rng.standard_normal(len(self.residual_basis))
        return np.tensordot(coef, self.residual_basis, axes=1)

    def sample_face(self, rng: np.random.Generator, sex: str) -> tuple[np.ndarray, np.ndarray]:
        """(factor values [F], vertices [T, 3]) of one random person.

        A draw whose mesh would fold (a triangle turned more than ~80 degrees from the
        template's, which happens in about 1 % of draws at extreme factor combinations) is
        drawn again, so the truth is always a clean surface.
        """
        for _ in range(_MAX_DRAWS):
            values = self.sample_factors(rng, sex, 1)[0]
            vertices = self.face(values, self.residual(rng))
            if not self.folds(vertices):
                return values, vertices
        raise RuntimeError(f"no unfolded face in {_MAX_DRAWS} draws; the factor spreads are too wide")

    def folds(self, vertices: np.ndarray) -> bool:
        """Whether any triangle of `vertices` turned more than ~80 degrees from the template's."""
        return bool(_triangle_turn_cos(self.template.vertices, vertices, self.template.faces).min() < 0.2)

    def face(self, values: np.ndarray, residual: np.ndarray | None = None) -> np.ndarray:
        """Vertices [T, 3] of the face with factor `values` [F] (plus an optional residual).

        Amplitude factors and the residual are applied as given; the measured factors' field
        amplitudes are then solved by Newton steps so each measure equals its value.
        """
        free = np.setdiff1d(np.arange(len(FACTORS)), self.measured)
        base = self.template.vertices + (residual if residual is not None else 0.0)
        base = base + np.tensordot(values[free], self.fields[free], axes=1)
        idx = self.template.landmark_idx
        fields = self.fields[self.measured]
        amp = _solve_amplitudes(base[idx][None], values[self.measured][None], fields[:, idx], self.measure_pairs)[0]
        return base + np.tensordot(amp, fields, axes=1)

    def sample_landmarks(self, rng: np.random.Generator, sex: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(factor values [n, F], landmarks [n, 65, 3]) of n random people, computed on the
        landmarks alone: thousands per second, for population statistics such as the oracle.
        Unlike `sample_face` it does not redraw the ~1 % of folded faces."""
        values = self.sample_factors(rng, sex, n)
        idx = self.template.landmark_idx
        free = np.setdiff1d(np.arange(len(FACTORS)), self.measured)
        coef = rng.standard_normal((n, len(self.residual_basis)))
        base = (self.template.vertices[idx] + np.tensordot(coef, self.residual_basis[:, idx], axes=1)
                + np.tensordot(values[:, free], self.fields[free][:, idx], axes=1))
        fields = self.fields[self.measured][:, idx]
        amp = _solve_amplitudes(base, values[:, self.measured], fields, self.measure_pairs)
        return values, base + np.tensordot(amp, fields, axes=1)


_MAX_DRAWS = 50


def _triangle_turn_cos(reference: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Cosine between each triangle's normal in `vertices` and in `reference` [F]."""
    def normals(v):
        n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
        return n / np.linalg.norm(n, axis=1, keepdims=True)
    return np.einsum("fd,fd->f", normals(reference), normals(vertices))


def correlation_matrix() -> np.ndarray:
    """The factor correlation matrix [F, F] from CORRELATIONS (checked positive definite)."""
    index = {name: i for i, name in enumerate(FACTOR_NAMES)}
    corr = np.eye(len(FACTORS))
    for (a, b), r in CORRELATIONS.items():
        corr[index[a], index[b]] = corr[index[b], index[a]] = r
    if np.linalg.eigvalsh(corr).min() <= 0:
        raise ValueError("factor correlations are not positive definite")
    return corr


def build_shape_model(template: Template, residual_mm: float) -> ShapeModel:
    """The shape model on `template`: unit fields of every factor and the residual basis."""
    fields = np.stack([_FIELDS[f.name](template) for f in FACTORS])
    measured = np.array([i for i, f in enumerate(FACTORS) if f.measure is not None])
    pairs = np.array([FACTORS[i].measure for i in measured], dtype=np.int64) - 1
    return ShapeModel(template=template, fields=fields, residual_basis=_residual_basis(template, residual_mm),
                      measured=measured, measure_pairs=pairs, residual_mm=residual_mm,
                      mean_offset=np.zeros(len(FACTORS)))


def _solve_amplitudes(base: np.ndarray, target: np.ndarray, fields: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Amplitudes [n, M] of the measured fields [M, L, 3] that bring the distances `pairs` of
    landmarks `base` [n, L, 3] to `target` [n, M]: Newton steps with the analytic Jacobian."""
    amp = np.zeros(target.shape)
    moves = fields[:, pairs[:, 0]] - fields[:, pairs[:, 1]]  # [M fields, M measures, 3]
    for _ in range(4):
        lm = base + np.tensordot(amp, fields, axes=1)
        diff = lm[:, pairs[:, 0]] - lm[:, pairs[:, 1]]
        dist = np.linalg.norm(diff, axis=-1)
        jac = np.einsum("jid,nid->nij", moves, diff / dist[..., None])
        amp += np.linalg.solve(jac, (target - dist)[..., None])[..., 0]
    return amp


def _residual_basis(template: Template, residual_mm: float) -> np.ndarray:
    """Low-frequency cosine fields on the frontal domain with a power-law spectrum.

    Scaled so a residual drawn with standard-normal coefficients has an expected per-vertex
    RMS displacement of `residual_mm`; the decaying spectrum gives eigenfaces a long tail.
    """
    u, v = template.uv[:, 0], template.uv[:, 1]
    lo, hi = template.uv.min(0), template.uv.max(0)
    su, sv = (u - lo[0]) / (hi[0] - lo[0]), (v - lo[1]) / (hi[1] - lo[1])
    basis = []
    for i in range(7):
        for j in range(9):
            if i == j == 0:
                continue
            phi = np.cos(np.pi * i * su) * np.cos(np.pi * j * sv)
            scale = (i * i + j * j) ** -0.9
            for axis, axis_scale in ((0, 0.5), (1, 0.5), (2, 1.0)):
                field = np.zeros((len(u), 3))
                field[:, axis] = phi * scale * axis_scale
                basis.append(field)
    basis = np.stack(basis)
    rms = np.sqrt(np.sum(basis ** 2) / len(u))
    return basis * (residual_mm / rms if rms > 0 else 0.0)


# ---- unit displacement fields, one per factor, from the template's frontal coordinates ----

def _xy(t: Template):
    return t.uv[:, 0], t.uv[:, 1]


def _field(dx=None, dy=None, dz=None, n=None) -> np.ndarray:
    n = n if n is not None else len(next(a for a in (dx, dy, dz) if a is not None))
    out = np.zeros((n, 3))
    for axis, comp in enumerate((dx, dy, dz)):
        if comp is not None:
            out[:, axis] = comp
    return out


def _sided(x, width_mm):
    """sign(x), faded to 0 within `width_mm` of the midline: mirrored fields stay continuous."""
    return np.sign(x) * smoothstep(np.abs(x) / width_mm)


def _landmark_y(t: Template, number: int) -> float:
    return float(t.uv[t.landmark_idx[number - 1], 1])


def _stretch_below(y, top, bottom):
    """0 above `top`, falling linearly to -1 at `bottom`: a vertical stretch of that band."""
    return -np.clip((top - y) / (top - bottom), 0.0, 1.0)


def _tent(y, top, mid, bottom):
    """0 above `top` and below `bottom`, 1 at `mid`, linear in between."""
    up = np.clip((top - y) / (top - mid), 0.0, 1.0)
    down = np.clip((y - bottom) / (mid - bottom), 0.0, 1.0)
    return np.where(y >= mid, up, down)


def _face_height(t):
    # The whole face below the nasion stretches evenly: size, not proportion.
    _, y = _xy(t)
    return _field(dy=_stretch_below(y, _landmark_y(t, 28), _landmark_y(t, 54)))


def _forehead_height(t):
    _, y = _xy(t)
    return _field(dy=smoothstep((y - 12.0) / (_landmark_y(t, 60) - 12.0)))


def _lower_face_height(t):
    # Proportion, not size: subnasale rises, nasion and menton stay.
    _, y = _xy(t)
    return _field(dy=_tent(y, _landmark_y(t, 28), _landmark_y(t, 35), _landmark_y(t, 54)))


def _face_width(t):
    x, y = _xy(t)
    # Only the lateral contour moves: the brows and eyes (|x| < 55 mm) stay where they are.
    return _field(dx=0.5 * np.sign(x) * smoothstep((np.abs(x) - 52.0) / 18.0) * np.exp(-0.5 * ((y + 15.0) / 45.0) ** 2))


def _jaw_width(t):
    x, y = _xy(t)
    return _field(dx=0.5 * _sided(x, 15.0) * smoothstep((np.abs(x) - 15.0) / 35.0) * np.exp(-0.5 * ((y + 90.0) / 20.0) ** 2))


def _upper_lip_height(t):
    x, y = _xy(t)
    return _field(dy=-_tent(y, _landmark_y(t, 35), _landmark_y(t, 51), _landmark_y(t, 54)) * _lower_face_window(x))


def _chin_height(t):
    x, y = _xy(t)
    return _field(dy=_tent(y, _landmark_y(t, 51), _landmark_y(t, 52), _landmark_y(t, 54)) * _lower_face_window(x))


def _lower_face_window(x):
    return 1.0 - smoothstep((np.abs(x) - 35.0) / 30.0) * 0.6


def _nose_length(t):
    x, y = _xy(t)
    # The lower nose moves down as a unit: the dorsum above stretches and the upper lip below
    # takes up the difference, so the thin underside of the nose is never squeezed.
    top, bottom = _landmark_y(t, 29), _landmark_y(t, 51)
    along = np.where(y > -42.0, smoothstep((top - y) / (top + 42.0)), 1.0 - smoothstep((-50.0 - y) / (-50.0 - bottom)))
    return _field(dy=-along * np.exp(-0.5 * (x / 16.0) ** 2))


def _nose_width(t):
    x, y = _xy(t)
    return _field(dx=0.5 * _sided(x, 5.0) * gauss2d(np.abs(x), y, 15.0, -48.0, 7.0, 7.0))


def _nose_protrusion(t):
    x, y = _xy(t)
    return _field(dz=gauss2d(x, y, 0.0, -45.0, 8.0, 6.0))


def _mouth_width(t):
    x, y = _xy(t)
    return _field(dx=0.5 * (x / 26.0) * bump(np.clip(np.abs(x) / 45.0, 0, 1)) * np.exp(-0.5 * ((y + 75.0) / 11.0) ** 2))


def _lip_height(t):
    x, y = _xy(t)
    d = y - _landmark_y(t, 51)
    ramp = np.clip(np.abs(d) / 9.0, 0.0, 1.0) * (1.0 - smoothstep((np.abs(d) - 9.0) / 8.0))
    return _field(dy=0.5 * np.sign(d) * ramp * bump(np.clip(np.abs(x) / 40.0, 0, 1)))


def _eye_window(x, y):
    return gauss2d(np.abs(x), y, 30.5, -7.0, 16.0, 11.0)


def _intercanthal_width(t):
    x, y = _xy(t)
    return _field(dx=0.5 * _sided(x, 8.0) * _eye_window(x, y))


def _eye_width(t):
    x, y = _xy(t)
    centre = 30.75
    return _field(dx=_sided(x, 8.0) * (np.abs(x) - centre) / 28.5 * _eye_window(x, y))


def _eye_height(t):
    x, y = _xy(t)
    return _field(dy=(y + 7.5) / 9.0 * gauss2d(np.abs(x), y, 30.5, -7.0, 14.0, 8.0))


def _brow_height(t):
    x, y = _xy(t)
    return _field(dy=gauss2d(np.abs(x), y, 32.0, 12.0, 22.0, 6.0))


def _chin_projection(t):
    x, y = _xy(t)
    return _field(dz=gauss2d(x, y, 0.0, -106.0, 16.0, 10.0))


def _nasal_bridge_depth(t):
    x, y = _xy(t)
    return _field(dz=gauss2d(x, y, 0.0, -12.0, 6.0, 10.0))


def _nostril_size(t):
    x, y = _xy(t)
    w = gauss2d(np.abs(x), y, 6.5, -50.3, 3.5, 2.0)
    return _field(dx=0.4 * _sided(x, 3.0) * (np.abs(x) - 6.5) / 3.5 * w, dz=-w)


def _lip_protrusion(t):
    x, y = _xy(t)
    return _field(dz=gauss2d(x, y, 0.0, -75.0, 20.0, 9.0))


def _cheekbone_projection(t):
    x, y = _xy(t)
    return _field(dz=gauss2d(np.abs(x), y, 46.0, -25.0, 12.0, 10.0))


def _brow_ridge(t):
    x, y = _xy(t)
    return _field(dz=gauss2d(np.abs(x), y, 22.0, 9.0, 24.0, 6.0))


def _forehead_slope(t):
    x, y = _xy(t)
    return _field(dz=smoothstep((y - 15.0) / 55.0) * np.exp(-0.5 * (x / 45.0) ** 2))


def _midface_projection(t):
    x, y = _xy(t)
    return _field(dz=gauss2d(x, y, 0.0, -65.0, 28.0, 22.0))


_FIELDS = {
    "face_height": _face_height, "forehead_height": _forehead_height,
    "lower_face_height": _lower_face_height, "face_width": _face_width, "jaw_width": _jaw_width,
    "upper_lip_height": _upper_lip_height, "chin_height": _chin_height, "nose_length": _nose_length,
    "nose_width": _nose_width, "nose_protrusion": _nose_protrusion, "mouth_width": _mouth_width,
    "lip_height": _lip_height, "intercanthal_width": _intercanthal_width, "eye_width": _eye_width,
    "eye_height": _eye_height, "brow_height": _brow_height, "chin_projection": _chin_projection,
    "nasal_bridge_depth": _nasal_bridge_depth, "nostril_size": _nostril_size,
    "lip_protrusion": _lip_protrusion, "cheekbone_projection": _cheekbone_projection,
    "brow_ridge": _brow_ridge, "forehead_slope": _forehead_slope, "midface_projection": _midface_projection,
}
