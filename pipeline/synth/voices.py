"""A voice-only synthetic cohort in memory: normalised log-mels and true AMs, no scans.

The full `synth` stage simulates scans and writes files, which the training experiments,
tests and benchmarks do not need: they need many voices with their faces' true AMs. This
draws the faces on their landmarks alone, records each voice through the same channel as
the stage, and computes the features the `features` stage would (speech frames from the
known alignment instead of a VAD).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..audio.features import LogMel, speech_frames, speech_samples
from ..audio.frontend import FrontEnd
from ..cohort import Gender
from ..embeddings import EmbeddingSettings, EncoderSet
from ..face.ams import AmTable, default_am_table, measure_landmarks
from ..parallel import map_with_state
from ..seeds import world_rng, world_voice_rng
from .cohort import VoiceSettings, record
from .link import draw_latents, voice_params
from .shape_model import ShapeModel
from .speech import SAMPLE_RATE


@dataclass(frozen=True)
class VoiceCohort:
    features: list[np.ndarray]  # per speaker, speech frames [frames, n_mels] (float32)
    ams: np.ndarray  # [n, K] true AMs
    latents: np.ndarray  # [n, len(link.LATENTS)]
    am_ids: np.ndarray  # [K]
    snr_db: np.ndarray  # [n] each recording's realised SNR
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  # encoder spec -> [n, D] of the same speech


def voice_cohort(n: int, gender: Gender, voice: VoiceSettings, seed: int, front_end: FrontEnd, model: ShapeModel,
                 table: AmTable | None = None, workers: int | None = None,
                 embedding: EmbeddingSettings | None = None) -> VoiceCohort:
    """n speakers of one gender, with the log-mels of `front_end` (its VAD replaced by the
    known alignment) and, given `embedding`, its encoders' vectors of the same speech;
    deterministic in `seed` whatever the worker count."""
    if front_end.sample_rate != SAMPLE_RATE:
        raise ValueError(f"the synthetic voices are {SAMPLE_RATE} Hz; the front end asks for {front_end.sample_rate}")
    table = table or default_am_table()
    gender = Gender(gender)
    rng = world_rng(seed, gender)
    factors, landmarks = model.sample_landmarks(rng, gender.code, n)
    latents = draw_latents(model, factors, gender.code, rng, voice.coupling, voice.planted)
    with torch.no_grad():
        ams = measure_landmarks(torch.from_numpy(landmarks), table).numpy()
    jobs = [(latents[i], (seed, i), voice) for i in range(n)]
    extractor_args = (front_end.sample_rate, front_end.n_mels, front_end.window_ms, front_end.hop_ms)
    done = list(map_with_state(_features, jobs, _Extractors, (extractor_args, embedding), workers))
    embeddings = {spec: np.stack([v[spec] for _, _, v in done]) for spec in (embedding.specs if embedding else ())}
    return VoiceCohort([f for f, _, _ in done], ams, latents, np.asarray(table.am_id), np.array([s for _, s, _ in done]),
                       embeddings)


class _Extractors:
    """A worker's log-mel extractor and, when asked for, its encoders (built once per worker)."""

    def __init__(self, extractor_args: tuple, embedding: EmbeddingSettings | None) -> None:
        self.log_mel = LogMel(*extractor_args)
        self.encoders = EncoderSet.build(embedding, torch.device("cpu")) if embedding else None


def _features(state: _Extractors, job) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    latents, stream, voice = job
    recording = record(voice_params(latents), world_voice_rng(*stream), voice)
    extractor = state.log_mel
    with torch.no_grad():
        mel = extractor(torch.from_numpy(recording.audio.astype(np.float32))[None])[0].numpy()
    speech_spans = np.array([(a, b) for phone, a, b in recording.phones if phone != "sil"])
    vectors = {}
    if state.encoders:
        speech = speech_samples(recording.audio.astype(np.float32), SAMPLE_RATE, speech_spans)
        joined = state.encoders.embed([speech], SAMPLE_RATE)[0]
        dims = state.encoders.dims()
        vectors = dict(zip(dims, np.split(joined, np.cumsum(list(dims.values()))[:-1])))
    return speech_frames(mel, extractor.hop_length / SAMPLE_RATE, speech_spans), recording.snr_db, vectors
