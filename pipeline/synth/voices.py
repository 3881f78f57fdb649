"""A voice-only synthetic cohort in memory: normalised log-mels and true AMs, no scans.

The full `synth` stage simulates scans and writes files, which the training experiments,
tests and benchmarks do not need: they need many voices with their faces' true AMs. This
draws the faces on their landmarks alone, records each voice through the same channel as
the stage, and computes the features the `features` stage would (speech frames from the
known alignment instead of a VAD).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..audio.features import LogMel, speech_frames
from ..face.ams import AmTable, default_am_table, measure_landmarks
from ..parallel import map_with_state
from .cohort import VoiceSettings, record
from .link import draw_latents, voice_params
from .shape_model import build_shape_model
from .speech import SAMPLE_RATE
from .template import build_template


@dataclass(frozen=True)
class VoiceCohort:
    features: list[np.ndarray]  # per speaker, speech frames [frames, n_mels] (float32)
    ams: np.ndarray  # [n, K] true AMs
    latents: np.ndarray  # [n, len(link.LATENTS)]
    am_ids: np.ndarray  # [K]
    snr_db: np.ndarray  # [n] each recording's realised SNR


def voice_cohort(n: int, sex: str, voice: VoiceSettings, seed: int = 0, n_mels: int = 64,
                 table: AmTable | None = None, workers: int | None = None) -> VoiceCohort:
    """n speakers of one sex ('M' | 'F'), deterministic in `seed` whatever the worker count."""
    table = table or default_am_table()
    model = build_shape_model(build_template())
    rng = np.random.default_rng([seed, 0 if sex == "M" else 1])
    factors, landmarks = model.sample_landmarks(rng, sex, n)
    latents = draw_latents(model, factors, sex, rng, voice.coupling, voice.planted)
    with torch.no_grad():
        ams = measure_landmarks(torch.from_numpy(landmarks), table).numpy()
    jobs = [(latents[i], (seed, i), voice) for i in range(n)]
    done = list(map_with_state(_features, jobs, LogMel, (SAMPLE_RATE, n_mels), workers))
    return VoiceCohort([f for f, _ in done], ams, latents, np.asarray(table.am_id), np.array([s for _, s in done]))


def _features(extractor: LogMel, job) -> tuple[np.ndarray, float]:
    latents, stream, voice = job
    recording = record(voice_params(latents), np.random.default_rng([*stream, 1]), voice)
    with torch.no_grad():
        mel = extractor(torch.from_numpy(recording.audio.astype(np.float32))[None])[0].numpy()
    speech_spans = np.array([(a, b) for phone, a, b in recording.phones if phone != "sil"])
    return speech_frames(mel, extractor.hop_length / SAMPLE_RATE, speech_spans), recording.snr_db
