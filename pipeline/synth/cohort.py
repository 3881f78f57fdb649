"""One synthetic person at a time: factors, true face, raw scan, landmark annotation.

Each person draws from a random stream of their own (seed, speaker index), so a person's data
do not depend on how many others are generated or in which order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scans import Annotation, Scan, annotate_landmarks, simulate_scan
from .shape_model import ShapeModel


@dataclass(frozen=True)
class ScanSettings:
    """How raw scans and annotations are degraded (see README, synth.scan / synth.annotation)."""

    vertices: tuple[int, int] = (9000, 14000)
    rotation_deg: float = 20.0
    translation_mm: float = 50.0
    noise_mm: float = 0.3
    holes: tuple[int, int] = (1, 4)
    hole_radius_mm: tuple[float, float] = (2.0, 5.0)
    annotation_noise_mm: float = 1.0
    mislabel_rate: float = 0.02
    mislabel_mm: tuple[float, float] = (5.0, 15.0)


@dataclass(frozen=True)
class Person:
    speaker_id: str
    sex: str  # 'M' | 'F'
    factors: np.ndarray  # [F] factor values (see shape_model.FACTORS)
    vertices: np.ndarray  # [T, 3] true face in the template frame and topology
    scan: Scan
    annotation: Annotation


def speaker_ids(n_male: int, n_female: int) -> list[tuple[str, str]]:
    """(speaker_id, sex) for a cohort: M0001.., then F0001.."""
    return [(f"M{i + 1:04d}", "M") for i in range(n_male)] + [
        (f"F{i + 1:04d}", "F") for i in range(n_female)
    ]


def simulate_person(model: ShapeModel, speaker_id: str, sex: str, index: int, seed: int,
                    settings: ScanSettings) -> Person:
    """The person at position `index` of the cohort drawn with `seed`."""
    rng = np.random.default_rng([seed, index])
    factors, vertices = model.sample_face(rng, sex)
    template = model.template
    scan = simulate_scan(
        vertices, template.faces, template.uv, rng,
        n_vertices=int(rng.integers(settings.vertices[0], settings.vertices[1] + 1)),
        max_rotation_deg=settings.rotation_deg,
        max_translation_mm=settings.translation_mm,
        noise_mm=settings.noise_mm,
        n_holes=int(rng.integers(settings.holes[0], settings.holes[1] + 1)),
        hole_radius_mm=settings.hole_radius_mm,
        keep_clear=vertices[template.landmark_idx],
    )
    annotation = annotate_landmarks(
        vertices[template.landmark_idx], scan.pose, rng,
        noise_mm=settings.annotation_noise_mm,
        mislabel_rate=settings.mislabel_rate,
        mislabel_mm=settings.mislabel_mm,
    )
    return Person(speaker_id, sex, factors, vertices, scan, annotation)
