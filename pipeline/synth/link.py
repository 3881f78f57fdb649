"""The planted voice-face link: latent voice parameters from face factors, and the oracle.

Each linked latent is a sex-specific Gaussian whose standardised value mixes a face part (a
weighted sum of standardised factors) with independent noise:

    latent = mean + sd * (c * face_part + sqrt(1 - c^2) * noise),   c = min(1, coupling * strength)

so its distribution is the same in every world and only its correlation with the face
changes. `coupling` = 0 is a null world, 1 the default world; above 1 every link is
stronger (a strong-coupling world for tests), each correlation capped at 1. The groups (vocal tract, nasal, lips, jaw) can be
switched off one by one. Eye, brow and forehead factors enter no latent; f0 depends on sex
only. The physiology behind each weight:
- vocal-tract length grows with face height and lower-face height (Fitch & Giedd 1999,
  J Acoust Soc Am 106:1511, tract length tracks body and head size);
- a larger nose and nostrils lower the nasal resonance and raise the nasal coupling
  (Dang, Honda & Suzuki 1994, J Acoust Soc Am 96:2088, nasal cavity acoustics); women's
  speech is more nasal (Seaver et al. 1991, Cleft Palate Craniofac J 28:165), so the link is
  stronger in the female subset, as in the source study's finding;
- a wider mouth spreads the lips and raises F2, protruding lips lower it (lip rounding);
- a wider jaw allows a larger opening range and so a wider F1 range.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from ..face.ams import AmTable, measure_landmarks
from .shape_model import FACTOR_NAMES, ShapeModel, correlation_matrix
from .speech import VoiceParams

LINK_GROUPS = ("vocal_tract", "nasal", "lips", "jaw")
PLANTED_R2 = 0.05  # an AM whose oracle r2 reaches this counts as truly predictable


@dataclass(frozen=True)
class Latent:
    """A voice parameter: its distribution by sex and, if linked, its face part."""

    name: str
    male: tuple[float, float]  # mean, sd
    female: tuple[float, float]
    group: str | None = None
    weights: dict[str, float] = field(default_factory=dict)  # factor name -> weight
    strength: tuple[float, float] = (0.0, 0.0)  # male, female correlation at coupling 1
    bounds: tuple[float, float] = (-np.inf, np.inf)


LATENTS: tuple[Latent, ...] = (
    Latent("vtl_cm", (17.0, 0.8), (14.8, 0.7), "vocal_tract",
           {"face_height": 0.7, "lower_face_height": 0.5}, (0.6, 0.6), (12.0, 21.0)),
    Latent("nasal_pole_hz", (480.0, 40.0), (520.0, 45.0), "nasal",
           {"nose_width": -0.6, "nostril_size": -0.5, "nose_length": -0.4}, (0.5, 0.75), (300.0, 800.0)),
    Latent("nasal_coupling", (0.35, 0.08), (0.45, 0.08), "nasal",
           {"nostril_size": 0.6, "nose_width": 0.4}, (0.5, 0.75), (0.05, 0.95)),
    Latent("f2_scale", (1.0, 0.04), (1.0, 0.04), "lips",
           {"mouth_width": 0.7, "lip_protrusion": -0.6}, (0.6, 0.6), (0.85, 1.15)),
    Latent("f1_range", (1.0, 0.08), (1.0, 0.08), "jaw", {"jaw_width": 1.0}, (0.6, 0.6), (0.7, 1.3)),
    # Voice traits with no link to the face.
    Latent("f0_hz", (118.0, 16.0), (208.0, 20.0), bounds=(70.0, 300.0)),
    Latent("jitter", (0.010, 0.003), (0.009, 0.003), bounds=(0.002, 0.03)),
    Latent("shimmer", (0.05, 0.015), (0.045, 0.015), bounds=(0.01, 0.12)),
    Latent("breathiness", (0.05, 0.02), (0.08, 0.03), bounds=(0.0, 0.3)),
    Latent("rate", (1.0, 0.08), (1.0, 0.08), bounds=(0.75, 1.3)),
)
LATENT_NAMES = tuple(lat.name for lat in LATENTS)
LINKED = tuple(i for i, lat in enumerate(LATENTS) if lat.group is not None)


def draw_latents(model: ShapeModel, factors: np.ndarray, sex: str, rng: np.random.Generator,
                 coupling: float, planted: tuple[str, ...] = LINK_GROUPS) -> np.ndarray:
    """Latent voice parameters [n, len(LATENTS)] for people with factor values [n, F]."""
    factors = np.atleast_2d(factors)
    means, sds = model.means(sex), np.sqrt(np.diag(model.covariance(sex)))
    z = (factors - means) / sds
    corr = correlation_matrix()
    noise = rng.standard_normal((len(factors), len(LATENTS)))
    out = np.empty_like(noise)
    for j, lat in enumerate(LATENTS):
        mean, sd = lat.male if sex == "M" else lat.female
        c = 0.0
        face_part = np.zeros(len(factors))
        if lat.group in planted and lat.weights:
            w = np.array([lat.weights.get(name, 0.0) for name in FACTOR_NAMES])
            face_part = z @ w / np.sqrt(w @ corr @ w)
            c = min(1.0, coupling * (lat.strength[0] if sex == "M" else lat.strength[1]))
        out[:, j] = np.clip(mean + sd * (c * face_part + np.sqrt(1.0 - c * c) * noise[:, j]), *lat.bounds)
    return out


def voice_params(latents: np.ndarray) -> VoiceParams:
    """The synthesiser's parameters from one row of latents."""
    return VoiceParams(**dict(zip(LATENT_NAMES, map(float, latents))))


def oracle(model: ShapeModel, am_table: AmTable, coupling: float, planted: tuple[str, ...],
           rng: np.random.Generator, n_per_sex: int = 6000) -> pd.DataFrame:
    """How much of each AM the linked latents explain, per sex: held-out R^2.

    Faces and latents of n_per_sex people per sex (landmarks only, no audio); a degree-2
    polynomial ridge regression of every AM on the linked latents is fitted on one half and
    scored on the other. Columns: am_id, r2 (mean of the sexes), planted, and r2_<sex>,
    planted_<sex> for male and female.
    """
    table = pd.DataFrame({"am_id": am_table.am_id})
    for sex, name in (("M", "male"), ("F", "female")):
        factors, landmarks = model.sample_landmarks(rng, sex, n_per_sex)
        with torch.no_grad():
            ams = measure_landmarks(torch.from_numpy(landmarks), am_table).numpy()
        latents = draw_latents(model, factors, sex, rng, coupling, planted)[:, list(LINKED)]
        half = n_per_sex // 2
        regression = make_pipeline(StandardScaler(), PolynomialFeatures(2), StandardScaler(),
                                   RidgeCV(alphas=np.logspace(-2, 5, 15), alpha_per_target=True))
        regression.fit(latents[:half], ams[:half])
        residual = ams[half:] - regression.predict(latents[half:])
        held_out = ams[half:]
        r2 = 1.0 - (residual ** 2).sum(0) / ((held_out - held_out.mean(0)) ** 2).sum(0)
        table[f"r2_{name}"] = r2
        table[f"planted_{name}"] = (r2 >= PLANTED_R2).astype(int)
    table["r2"] = table[["r2_male", "r2_female"]].mean(axis=1)
    table["planted"] = (table["r2"] >= PLANTED_R2).astype(int)
    return table[["am_id", "r2", "planted", "r2_male", "planted_male", "r2_female", "planted_female"]]
