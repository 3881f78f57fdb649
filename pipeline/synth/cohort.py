"""One synthetic person at a time: factors, true face, raw scan, landmark annotation.

Each person draws from a random stream of their own (seed, speaker index), so a person's data
do not depend on how many others are generated or in which order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import SynthParams
from ..face.template import Template
from ..seeds import person_rng
from .clutter import clutter, hair_bumps
from .head import draw_head_shape, head_surface
from .link import draw_latents, voice_params
from .scans import Annotation, Scan, annotate_landmarks, extend_scan, in_unit, simulate_scan, true_frame
from .shape_model import ShapeModel
from .speech import SAMPLE_RATE, SCRIPT, VoiceParams, apply_channel, script_for, synthesize


@dataclass(frozen=True)
class ScanSettings:
    """How raw scans and annotations are degraded (params synth.scan, synth.annotation)."""

    vertices: tuple[int, int]
    rotation_deg: float
    translation_mm: float
    noise_mm: float
    holes: tuple[int, int]
    hole_radius_mm: tuple[float, float]
    head: str  # a key of head.EXTENTS
    clutter: float
    unit: str  # a key of scans.UNITS
    annotation_noise_mm: float
    mislabel_rate: float
    mislabel_mm: tuple[float, float]

    @classmethod
    def from_params(cls, synth: SynthParams) -> ScanSettings:
        scan, ann = synth.scan, synth.annotation
        return cls(vertices=scan.vertices, rotation_deg=scan.rotation_deg, translation_mm=scan.translation_mm,
                   noise_mm=scan.noise_mm, holes=scan.holes, hole_radius_mm=scan.hole_radius_mm,
                   head=scan.head, clutter=scan.clutter, unit=scan.unit,
                   annotation_noise_mm=ann.noise_mm, mislabel_rate=ann.mislabel_rate, mislabel_mm=ann.mislabel_mm)


@dataclass(frozen=True)
class VoiceSettings:
    """The recordings and the planted link (params synth.seconds ... synth.silence_s)."""

    seconds: float
    recordings: int
    coupling: float
    planted: tuple[str, ...]
    snr_db: tuple[float, float]
    reverb: float
    silence_s: tuple[float, float]

    @classmethod
    def from_params(cls, synth: SynthParams) -> VoiceSettings:
        return cls(seconds=synth.seconds, recordings=synth.recordings, coupling=synth.coupling,
                   planted=synth.planted, snr_db=synth.snr_db, reverb=synth.reverb, silence_s=synth.silence_s)


@dataclass(frozen=True)
class Recording:
    audio: np.ndarray  # float64 [n] in [-1, 1], n = seconds * SAMPLE_RATE
    phones: list[tuple[str, float, float]]  # (phone, start_s, end_s), silences as 'sil'
    snr_db: float


@dataclass(frozen=True)
class Person:
    speaker_id: str
    sex: str  # 'M' | 'F'
    factors: np.ndarray  # [F] factor values (see shape_model.FACTORS)
    vertices: np.ndarray  # [T, 3] true face in the template frame and topology
    scan: Scan
    annotation: Annotation
    latents: np.ndarray  # [len(link.LATENTS)] voice parameters
    recordings: tuple[Recording, ...]  # each a reading of a different part of the script


def speaker_ids(n_male: int, n_female: int) -> list[tuple[str, str]]:
    """(speaker_id, sex) for a cohort: M0001.., then F0001.."""
    return [(f"M{i + 1:04d}", "M") for i in range(n_male)] + [
        (f"F{i + 1:04d}", "F") for i in range(n_female)
    ]


def simulate_person(model: ShapeModel, speaker_id: str, sex: str, index: int, seed: int,
                    settings: ScanSettings, voice: VoiceSettings) -> Person:
    """The person at position `index` of the cohort drawn with `seed`.

    The face is drawn first, then its scan, annotation, voice and recordings, so changing a
    voice setting never changes a face, and adding recordings never changes the first ones.
    The scan's head and clutter come last, so they change nothing else, and with them off
    the stream is what it always was; the unit draws nothing.
    """
    rng = person_rng(seed, index)
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
    latents = draw_latents(model, factors, sex, rng, voice.coupling, voice.planted)[0]
    params = voice_params(latents)
    recordings = tuple(record(params, rng, voice, part) for part in range(voice.recordings))
    if settings.head != "none" or settings.clutter > 0:
        scan = _with_head_and_clutter(scan, vertices, template, settings, rng)
    scan, annotation = in_unit(scan, annotation, settings.unit)
    return Person(speaker_id, sex, factors, vertices, scan, annotation, latents, recordings)


_HAIRLINE = 59  # landmark 60, trichion


def _with_head_and_clutter(scan: Scan, face: np.ndarray, template: Template, settings: ScanSettings,
                           rng: np.random.Generator) -> Scan:
    """The scan of `face` grown by a head (settings.head) and clutter (settings.clutter), both
    built in the true frame around the scanned surface, the head first."""
    surface, faces = true_frame(scan), scan.faces
    hairline = face[template.landmark_idx[_HAIRLINE], 1]
    if settings.head != "none":
        shape = draw_head_shape(face, template.landmark_idx, settings.head, rng)
        head, head_faces = head_surface(surface, faces, face, template, shape, settings.noise_mm, rng)
        head = hair_bumps(head, shape.centre, surface, hairline, settings.clutter, rng)
        surface, faces = np.vstack([surface, head]), np.vstack([faces, head_faces])
    if settings.clutter > 0:
        junk, junk_faces = clutter(surface, faces, hairline, settings.clutter, rng)
        surface, faces = np.vstack([surface, junk]), np.vstack([faces, junk_faces + len(surface)])
    return extend_scan(scan, surface[len(scan.vertices):], faces[len(scan.faces):], rng)


def record(params: VoiceParams, rng: np.random.Generator, voice: VoiceSettings, part: int = 0) -> Recording:
    """One reading of the script through a random recording channel, `voice.seconds` long.

    Recording `part` of `voice.recordings` starts at its own phrase of the script, so two
    recordings of a speaker are different utterances, not one utterance twice."""
    total = int(round(voice.seconds * SAMPLE_RATE))
    lead = int(round(rng.uniform(*voice.silence_s) * SAMPLE_RATE))
    trail = int(round(rng.uniform(*voice.silence_s) * SAMPLE_RATE))
    speech_n = total - lead - trail
    phones = script_for(speech_n / SAMPLE_RATE, params.rate,
                        first_phrase=part * len(SCRIPT) // max(1, voice.recordings))
    dry = synthesize(phones, params, rng)
    reverb = rng.uniform(0.1, 0.3) if rng.random() < voice.reverb else 0.0
    audio, snr = apply_channel(
        dry, rng, sample_rate=SAMPLE_RATE, snr_db=rng.uniform(*voice.snr_db),
        gain_db=rng.uniform(-6.0, 0.0), eq_tilt_db=rng.uniform(-3.0, 3.0),
        reverb_rt60_s=reverb, lead_s=lead / SAMPLE_RATE, trail_s=trail / SAMPLE_RATE)
    audio = np.pad(audio, (0, max(0, total - len(audio))))[:total]
    starts = lead / SAMPLE_RATE + np.r_[0.0, np.cumsum([d for _, d in phones])[:-1]]
    timed = [("sil", 0.0, lead / SAMPLE_RATE)]
    timed += [(p, float(t), float(t + d)) for (p, d), t in zip(phones, starts)]
    timed.append(("sil", (total - trail) / SAMPLE_RATE, total / SAMPLE_RATE))
    return Recording(audio, timed, float(snr))
