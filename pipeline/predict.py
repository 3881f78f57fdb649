"""`sfv predict`: the face a new voice implies, from the models a `dvc repro` left behind.

The same path as the pipeline, step for step: VAD (segments rounded to the millisecond, as the
vad stage writes them), log-mels normalised over the speech frames of each recording, the
estimators of every repeat fused by inverse variance, and the reconstruct stage's own fit
(`models/reconstruct/<gender>.npz`). A D_e speaker's audio therefore gives the pipeline's
reconstruction of that speaker.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .audio.features import LogMel, log_mel_batch, speech_frames
from .audio.io import AudioError, load_audio
from .audio.vad import make_detector, stored_segments
from .estimator.store import load_repeat, predict_ensemble
from .reconstruction.bundle import FaceFit
from .reconstruction.eigenface import Eigenface

GENDERS = ("male", "female")
Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


class PredictError(ValueError):
    """Input `sfv predict` cannot use; the message says which file and why."""


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


def load_models(models_dir: Path, gender: str) -> tuple[list, Eigenface, FaceFit]:
    """The trained estimators, the eigenface model and the face fit of one gender."""
    if gender not in GENDERS:
        raise PredictError(f"unknown gender {gender!r}; use one of {', '.join(GENDERS)}")
    paths = {"estimators": sorted((models_dir / "estimators" / gender).glob("repeat_*.npz")),
             "eigenface": models_dir / "eigenface" / f"{gender}.npz",
             "face fit": models_dir / "reconstruct" / f"{gender}.npz"}
    if not paths["estimators"]:
        raise PredictError(f"{models_dir / 'estimators' / gender}: no trained estimators (repeat_*.npz); "
                           f"run `dvc repro` first, or point --models at a models folder")
    for what in ("eigenface", "face fit"):
        if not paths[what].is_file():
            raise PredictError(f"{paths[what]}: the {what} model is missing; run `dvc repro` first")
    return ([load_repeat(p) for p in paths["estimators"]], Eigenface.load(paths["eigenface"]),
            FaceFit.load(paths["face fit"]))


def voice_features(paths: list[Path], audio: dict, device: torch.device) -> tuple[list[np.ndarray], float]:
    """Normalised log-mel speech frames of each recording, and the seconds of speech found."""
    rate = int(audio["sample_rate"])
    detect = make_detector(audio["vad"], rate, vad_threshold=audio["vad_threshold"],
                           energy_threshold_db=audio["energy_threshold_db"], min_speech_s=audio["min_speech_s"],
                           min_silence_s=audio["min_silence_s"])
    waves, spans = [], []
    for path in paths:
        try:
            wave = load_audio(path, rate, speaker_id="(new voice)")
        except AudioError as err:
            raise PredictError(str(err)) from None
        segments = stored_segments(detect(wave))
        if len(segments) == 0:
            raise PredictError(f"{path}: no speech found by the {audio['vad']} VAD "
                               f"(0.00 s of {len(wave) / rate:.1f} s)")
        waves.append(wave)
        spans.append(segments)
    extractor = LogMel(rate, int(audio["n_mels"]), float(audio["window_ms"]), float(audio["hop_ms"])).to(device)
    features, speech_s = [], 0.0
    for mel, segments in zip(log_mel_batch(waves, extractor, device), spans):
        features.append(speech_frames(mel, audio["hop_ms"] / 1000.0, segments))
        speech_s += float(np.sum(segments[:, 1] - segments[:, 0]))
    return features, speech_s


def predict_voice(paths: list[Path], gender: str, models_dir: Path,
                  device: torch.device = torch.device("cpu")) -> VoicePrediction:
    """AMs with their uncertainty and the reconstructed face for one speaker's recordings."""
    repeats, eigenface, fit = load_models(models_dir, gender)
    features, speech_s = voice_features(paths, fit.audio, device)
    if not np.array_equal(repeats[0].am_ids, fit.table.am_id):
        raise PredictError(f"{models_dir}: the estimators and the face fit use different AM tables; "
                           f"re-run `dvc repro`")
    mean, uncertainty = predict_ensemble(repeats, features, device)
    faces, _, _ = fit.fit(eigenface, mean[None], device)
    return VoicePrediction(fit, mean, uncertainty, faces[0], speech_s, len(repeats))
