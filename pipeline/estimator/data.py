"""Per-repeat training data: features by speaker and recording, AM targets z-scored on D_t."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import read_table, speaker_file
from ..audio.features import speech_samples
from ..audio.io import load_audio
from .base import RepeatData


def load_features(features_dir: Path) -> dict[str, list[np.ndarray]]:
    """Each speaker's recordings as feature arrays [frames, n_mels] (features stage layout)."""
    index = read_table(features_dir / "index.csv")
    out: dict[str, list[np.ndarray]] = {}
    for speaker_id, rows in index.groupby("speaker_id", sort=False):
        frames = np.load(speaker_file(features_dir, speaker_id, ".npy"))
        bounds = np.cumsum(rows["frames"].to_numpy())[:-1]
        out[speaker_id] = [r for r in np.split(frames, bounds) if len(r)]
    return out


def joined_features(features: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Each speaker's recordings as one array [frames, n_mels], made once and shared by every
    repeat's D_t: joined per repeat, the copies grew with repeats × cohort (14 GB in the train
    stage at the source's scale, docs/planning.md); now one copy of the features serves them all."""
    return {speaker: recordings[0] if len(recordings) == 1 else np.concatenate(recordings)
            for speaker, recordings in features.items()}


def load_waveforms(root: Path, segments: pd.DataFrame, speakers: list[str], sample_rate: int
                   ) -> dict[str, list[np.ndarray]]:
    """Each speaker's speech samples per recording (float32, VAD segments only), in the order
    the features stage stored the recordings: the phonatory module's v′."""
    out: dict[str, list[np.ndarray]] = {}
    wanted = set(speakers)
    for speaker_id, rows in tqdm(segments[segments.speaker_id.isin(wanted)].groupby("speaker_id", sort=False),
                                 total=len(wanted), desc="waveforms", unit="speaker"):
        waves = []
        for recording, spans in rows.groupby("recording", sort=False):
            wave = load_audio(root / recording, sample_rate, speaker_id=speaker_id, shown_as=recording)
            waves.append(speech_samples(wave, sample_rate, spans[["start_s", "end_s"]].to_numpy()))
        out[speaker_id] = [w for w in waves if len(w)]
    return out


def standardiser(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD (ddof=1) per AM of training targets [n_t, K]; a constant AM gets SD 1."""
    mean = targets.mean(axis=0)
    sd = targets.std(axis=0, ddof=1) if len(targets) > 1 else np.ones(targets.shape[1])
    return mean, np.where(sd > 0, sd, 1.0)


def repeat_data(repeat: int, seed: int, split: dict[str, str], features: dict[str, list[np.ndarray]],
                targets: pd.DataFrame, waveforms: dict[str, list[np.ndarray]] | None = None,
                joined: dict[str, np.ndarray] | None = None) -> tuple[RepeatData, np.ndarray, np.ndarray]:
    """The repeat's training and scoring data, and the D_t mean and SD used to z-score it.

    `split` maps speaker_id -> t | v1 | v2 | e; `targets` is indexed by speaker_id (raw AMs).
    Only D_t speakers enter the standardiser, and only their `waveforms` (the phonatory
    module's targets) are passed on. `joined` (joined_features) saves each repeat its own copy
    of D_t's frames.
    """
    train_ids = [s for s, part in split.items() if part == "t"]
    scored = [s for s, part in split.items() if part != "t"]
    mean, sd = standardiser(targets.loc[train_ids].to_numpy(np.float64))
    z = lambda ids: (targets.loc[ids].to_numpy(np.float64) - mean) / sd  # noqa: E731
    data = RepeatData(
        repeat=repeat, seed=seed,
        train_features=[joined[s] if joined is not None else np.concatenate(features[s]) for s in train_ids],
        train_targets=z(train_ids),
        scored_ids=scored, scored_splits=[split[s] for s in scored],
        scored_recordings=[features[s] for s in scored], scored_targets=z(scored),
        train_recordings=[features[s] for s in train_ids],
        train_waveforms=[waveforms[s] for s in train_ids] if waveforms is not None else [],
    )
    return data, mean, sd
