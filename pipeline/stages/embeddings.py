"""embeddings stage: one vector per recording from its speech (the VAD segments), by the
encoders of embedding.encoder (docs/embeddings.md). When sfv.estimator reads no embeddings the
stage writes the empty layout and runs no encoder: the default run pays nothing for them."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import read_output
from ..audio.features import speech_samples
from ..audio.io import load_audio
from ..config import Params
from ..dataset import skip_reason
from ..device import device_for
from ..embeddings import EmbeddingSettings, EncoderSet
from ..embeddings.encoders import MIN_SPEECH_S
from ..embeddings.store import package_versions, write_embeddings
from ..errors import AudioError
from ..estimator.registry import estimator_class
from . import Paths

RECORDINGS_PER_BATCH = 8
SKIP_HINT = "Check the recording, or set data.on_error: skip to drop this speaker."


def main(params: Params, paths: Paths) -> None:
    settings = EmbeddingSettings.from_params(params.embedding)
    rate = params.audio.sample_rate
    if not estimator_class(params.sfv.estimator).needs_embeddings:
        write_embeddings(paths.embeddings, pd.DataFrame(columns=["speaker_id", "recording", "seconds"]),
                         np.zeros((0, 0), np.float32),
                         {"specs": [], "dim": 0, "feature_names": [], "encoders": [], "recordings": 0,
                          "not_needed": f"sfv.estimator {params.sfv.estimator} reads no embeddings"}, [])
        return
    root = Path(params.data.root)
    segments = read_output(paths.segments, "vad")
    encoders = EncoderSet.build(settings, device_for(params.device))
    by_speaker = {sid: group for sid, group in segments.groupby("speaker_id", sort=False)}

    rows, vectors, skipped = [], [], []
    started = time.perf_counter()
    with tqdm(total=len(segments.drop_duplicates(["speaker_id", "recording"])), desc="embeddings",
              unit="recording") as progress:
        for sid, group in by_speaker.items():
            try:
                found = _speaker(sid, group, root, rate, encoders)
            except AudioError as err:
                if params.data.on_error == "fail":
                    raise
                skipped.append((sid, "embeddings", skip_reason(err)))
                found = []
            rows += [(sid, rel, seconds) for rel, seconds, _ in found]
            vectors += [v for _, _, v in found]
            progress.update(group.recording.nunique())
    dim = len(encoders.feature_names())
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(rows), dim)
    index = pd.DataFrame(rows, columns=["speaker_id", "recording", "seconds"])
    audio_s = float(index.seconds.sum())
    meta = {"specs": list(settings.specs), "dim": dim, "feature_names": encoders.feature_names(),
            "encoders": [{"spec": spec, "dim": len(e.feature_names()), "sample_rate": e.sample_rate,
                          "feature_names": e.feature_names(), "wall_s": round(encoders.wall_s[e.name], 3),
                          "realtime": round(audio_s / encoders.wall_s[e.name], 2) if encoders.wall_s[e.name] else None}
                         for spec, e in zip(settings.specs, encoders.encoders)],
            "layers": list(settings.layers), "window_s": settings.window_s, "batch_size": settings.batch_size,
            "input_sample_rate": rate, "recordings": len(index), "speakers": int(index.speaker_id.nunique()),
            "audio_s": round(audio_s, 3), "wall_s": round(time.perf_counter() - started, 3),
            "undefined": {n: int(c) for n, c in zip(encoders.feature_names(), np.isnan(matrix).sum(0)) if c},
            "packages": package_versions()}
    write_embeddings(paths.embeddings, index, matrix, meta, skipped)


def _speaker(sid: str, group: pd.DataFrame, root: Path, rate: int,
             encoders: EncoderSet) -> list[tuple[str, float, np.ndarray]]:
    """(recording, seconds of speech, vector) of each of one speaker's recordings."""
    recordings = list(group.recording.unique())
    waves = []
    for rel in recordings:
        wave = load_audio(root / rel, rate, speaker_id=sid, shown_as=rel)
        speech = speech_samples(wave, rate, group.loc[group.recording == rel, ["start_s", "end_s"]].to_numpy())
        if len(speech) < MIN_SPEECH_S * rate:
            raise AudioError(f"speaker {sid}: {rel} has {len(speech) / rate:.2f} s of speech in the VAD segments, "
                             f"under the {MIN_SPEECH_S} s an embedding needs. {SKIP_HINT}")
        waves.append(speech)
    found = []
    for start in range(0, len(waves), RECORDINGS_PER_BATCH):
        chunk = waves[start:start + RECORDINGS_PER_BATCH]
        for rel, wave, vector in zip(recordings[start:], chunk, encoders.embed(chunk, rate)):
            if not (np.isfinite(vector) | encoders.may_be_undefined()).all():
                undefined = ~np.isfinite(vector) & ~encoders.may_be_undefined()
                bad = [n for n, no in zip(encoders.feature_names(), undefined) if no]
                raise AudioError(f"speaker {sid}: {rel}: {len(bad)} measures undefined ({', '.join(bad[:4])}"
                                 f"{', ...' if len(bad) > 4 else ''}): no voiced speech found? {SKIP_HINT}")
            found.append((rel, len(wave) / rate, vector))
    return found
