"""`sfv predict`: the face a new voice implies, from the models a `dvc repro` left behind.

The same path as the pipeline, step for step: the voice front end stored with the trained
repeats (the vad and features stages' own code and settings), the estimators of every repeat
fused by inverse variance, and the reconstruct stage's own fit (`models/reconstruct/<gender>.npz`).
A D_e speaker's audio therefore gives the pipeline's reconstruction of that speaker.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .audio.features import speech_samples
from .audio.frontend import FrontEnd
from .audio.io import load_audio
from .cohort import Gender
from .embeddings import EncoderSet
from .errors import AudioError, EncoderError, PredictError
from .estimator.store import StoredRepeat, load_repeat, predict_ensemble
from .reconstruction.bundle import FaceFit
from .reconstruction.eigenface import Eigenface

Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


@dataclass(frozen=True)
class VoicePrediction:
    fit: FaceFit
    am_mean: np.ndarray  # [K] raw units
    am_uncertainty: np.ndarray  # [K] calibrated variance over the ensemble, raw units squared
    face: np.ndarray  # [T, 3]
    speech_s: float
    repeats: int

    def table(self) -> list[dict]:
        """One row per AM: value, 95 % interval (value -/+ 1.96 sqrt(uncertainty)), flags."""
        half = Z_95 * np.sqrt(self.am_uncertainty)
        return [{"am_id": int(a), "label": label, "kind": kind, "value": float(v), "low": float(v - h),
                 "high": float(v + h), "predictable": bool(p), "guides_face": bool(g), "ci_u": float(c)}
                for a, label, kind, v, h, p, g, c in zip(self.fit.table.am_id, self.fit.table.label,
                                                         self.fit.table.kind, self.am_mean, half,
                                                         self.fit.predictable, self.fit.guides, self.fit.ci_u)]


def load_models(models_dir: Path, gender: str) -> tuple[list[StoredRepeat], Eigenface, FaceFit]:
    """The trained estimators, the eigenface model and the face fit of one gender."""
    try:
        gender = Gender(gender)
    except ValueError:
        raise PredictError(f"unknown gender {gender!r}; use one of {', '.join(g.value for g in Gender)}") from None
    paths = {"estimators": sorted((models_dir / "estimators" / str(gender)).glob("repeat_*.npz")),
             "eigenface": models_dir / "eigenface" / f"{gender}.npz",
             "face fit": models_dir / "reconstruct" / f"{gender}.npz"}
    if not paths["estimators"]:
        raise PredictError(f"{models_dir / 'estimators' / str(gender)}: no trained estimators (repeat_*.npz); "
                           f"run `dvc repro` first, or point --models at a models folder")
    for what in ("eigenface", "face fit"):
        if not paths[what].is_file():
            raise PredictError(f"{paths[what]}: the {what} model is missing; run `dvc repro` first")
    return ([load_repeat(p) for p in paths["estimators"]], Eigenface.load(paths["eigenface"]),
            FaceFit.load(paths["face fit"]))


def voice_features(paths: list[Path], front_end: FrontEnd, device: torch.device
                   ) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """Normalised log-mel speech frames of each recording, its speech samples (the VAD's
    segments joined, what the embeddings stage reads), and the seconds of speech found."""
    detector = front_end.detector()
    waves, spans = [], []
    for path in paths:
        try:
            wave = load_audio(path, front_end.sample_rate, speaker_id="(new voice)")
        except AudioError as err:
            raise PredictError(str(err)) from None
        segments = front_end.speech(wave, detector, str(path))
        if len(segments) == 0:
            raise PredictError(f"{path} {front_end.no_speech(wave)}.")
        waves.append(wave)
        spans.append(segments)
    features = front_end.features(waves, spans, front_end.extractor(device), device)
    speech = [speech_samples(w, front_end.sample_rate, s) for w, s in zip(waves, spans)]
    return features, speech, float(sum(np.sum(s[:, 1] - s[:, 0]) for s in spans))


def model_inputs(repeats: list[StoredRepeat], features: list[np.ndarray], speech: list[np.ndarray],
                 sample_rate: int, device: torch.device) -> list[np.ndarray]:
    """What the repeats' models read: the log-mel recordings, or, for a model on encoder
    vectors, the speaker's row, from the encoders its repeats were trained with."""
    inputs = {getattr(r.model, "inputs", None) for r in repeats}
    if len(inputs) > 1:
        raise PredictError("the repeats were trained on different voice encoders; re-run `dvc repro`")
    (embedding,) = inputs
    if embedding is None:
        return features
    try:
        vectors = EncoderSet.build(embedding.settings(), device).embed(speech, sample_rate)
    except (EncoderError, AudioError) as err:
        raise PredictError(f"the new voice's embedding ({', '.join(embedding.encoders)}): {err}") from None
    return [embedding.row(vectors, features if embedding.with_logmel else None)[None]]


def predict_voice(paths: list[Path], gender: str, models_dir: Path, device: torch.device) -> VoicePrediction:
    """AMs with their uncertainty and the reconstructed face for one speaker's recordings."""
    repeats, eigenface, fit = load_models(models_dir, gender)
    front_ends = {r.front_end for r in repeats}
    if len(front_ends) > 1:
        raise PredictError(f"{models_dir / 'estimators' / str(gender)}: the repeats were trained on different voice "
                           f"front ends; re-run `dvc repro`")
    if not np.array_equal(repeats[0].am_ids, fit.table.am_id):
        raise PredictError(f"{models_dir}: the estimators and the face fit use different AM tables; "
                           f"re-run `dvc repro`")
    front_end = repeats[0].front_end
    features, speech, speech_s = voice_features(paths, front_end, device)
    inputs = model_inputs(repeats, features, speech, front_end.sample_rate, device)
    mean, uncertainty = predict_ensemble(repeats, inputs, device)
    faces, _, _ = fit.fit(eigenface, mean[None], device)
    return VoicePrediction(fit, mean, uncertainty, faces[0], speech_s, len(repeats))
