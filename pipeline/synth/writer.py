"""Write a synthetic cohort as a dataset root (the layout every later stage reads).

<root>/manifest.csv, scans/<id>.ply, landmarks/<id>.csv and truth/ (docs/own-data.md).
Files are written with fixed formatting so the same seed gives byte-identical output.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import torch
from scipy.io import wavfile

from ..artifacts import speaker_file
from ..face.ams import AmTable, measure
from ..face.io import write_mesh
from ..face.template import REGIONS, Template
from ..parallel import map_with_state
from .cohort import Person, ScanSettings, VoiceSettings, simulate_person
from .link import LATENT_NAMES
from .scans import UNITS, Annotation
from .shape_model import FACTOR_NAMES, ShapeModel
from .speech import SAMPLE_RATE

MANIFEST_COLUMNS = ("speaker_id", "gender", "audio", "scan", "landmarks")


def write_landmarks(path: Path, points: np.ndarray, unit: str) -> None:
    """65 rows x,y,z (scan coordinates, in `unit`, a key of UNITS), row i = landmark i+1, to
    1e-4 mm or finer."""
    decimals = 4 + max(0, round(-np.log10(UNITS[unit])))
    pd.DataFrame(points, columns=["x", "y", "z"]).to_csv(path, index=False, float_format=f"%.{decimals}f")


def write_audio(path: Path, audio: np.ndarray) -> None:
    """16-bit PCM mono WAV at SAMPLE_RATE."""
    wavfile.write(path, SAMPLE_RATE, np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16))


def read_audio(path: Path) -> np.ndarray:
    """A WAV written by `write_audio`, as float64 in [-1, 1]."""
    return wavfile.read(path)[1].astype(np.float64) / 32767.0


def recording_paths(speaker_id: str, n: int) -> list[str]:
    """audio/<id>.wav, then audio/<id>_2.wav, ...: a first recording keeps its name whatever n is."""
    return [f"audio/{speaker_id}.wav"] + [f"audio/{speaker_id}_{k}.wav" for k in range(2, n + 1)]


def write_person(root: Path, person: Person) -> dict[str, str]:
    """Write one person's recordings, alignment, scan and annotation; return their manifest row
    (several recordings `;`-separated, as the layout allows)."""
    sid = person.speaker_id
    audio = recording_paths(sid, len(person.recordings))
    paths = {"scan": f"scans/{sid}.ply", "landmarks": f"landmarks/{sid}.csv"}
    for folder in ("audio", "scans", "landmarks", "alignments"):
        (root / folder).mkdir(exist_ok=True)
    rows = []
    for path, recording in zip(audio, person.recordings):
        write_audio(root / path, recording.audio)
        rows += [(path, start, end, phone) for phone, start, end in recording.phones]
    pd.DataFrame(rows, columns=["recording", "start_s", "end_s", "phone"]).to_csv(
        speaker_file(root / "alignments", sid, ".csv"), index=False, float_format="%.5f")
    write_mesh(root / paths["scan"], person.scan.vertices, person.scan.faces)
    write_landmarks(root / paths["landmarks"], person.annotation.points, person.scan.unit)
    return {"speaker_id": sid, "gender": person.sex, "audio": ";".join(audio), **paths}


@dataclass(frozen=True)
class Written:
    """What stays in memory of a person once their scan and annotation are on disk."""

    manifest_row: dict[str, str]
    factors: np.ndarray
    vertices: np.ndarray  # float32 [T, 3]
    pose: np.ndarray
    annotation: Annotation
    latents: np.ndarray
    snr_db: float  # of the first recording


def write_people(root: Path, model: ShapeModel, cohort: list[tuple[str, str]], seed: int,
                 settings: ScanSettings, voice: VoiceSettings,
                 workers: int | None = None) -> Iterator[Written]:
    """Simulate and write every person, in cohort order, on `workers` processes.

    Each person has their own random stream, so the output does not depend on `workers`.
    """
    jobs = [(root, speaker_id, sex, index, seed, settings, voice)
            for index, (speaker_id, sex) in enumerate(cohort)]
    yield from map_with_state(_simulate_and_write, jobs, _model_state, (model,), workers)


def _model_state(model: ShapeModel) -> ShapeModel:
    return model


def _simulate_and_write(model: ShapeModel, job) -> Written:
    root, speaker_id, sex, index, seed, settings, voice = job
    person = simulate_person(model, speaker_id, sex, index, seed, settings, voice)
    row = write_person(root, person)
    return Written(row, person.factors, person.vertices.astype(np.float32), person.scan.pose,
                   person.annotation, person.latents, person.recordings[0].snr_db)


def write_truth(root: Path, template: Template, speakers: pd.DataFrame, factors: np.ndarray,
                shapes: np.ndarray, poses: np.ndarray, annotations: list[Annotation],
                latents: np.ndarray, snr_db: np.ndarray, oracle: pd.DataFrame, am_table: AmTable) -> None:
    """truth/: what the pipeline may only use to report figures against the truth.

    `speakers` (speaker_id, gender) gives the row order of every array.
    """
    truth = root / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    shapes = np.asarray(shapes, np.float32)
    np.save(truth / "shapes.npy", shapes)
    np.save(truth / "landmarks.npy", shapes[:, template.landmark_idx])
    np.save(truth / "poses.npy", np.asarray(poses, np.float64))
    speakers = speakers.reset_index(drop=True)
    speakers.to_csv(truth / "speakers.csv", index=False)
    factor_table = pd.DataFrame(factors, columns=list(FACTOR_NAMES))
    pd.concat([speakers, factor_table], axis=1).to_csv(truth / "factors.csv", index=False, float_format="%.4f")
    latent_table = pd.DataFrame(latents, columns=list(LATENT_NAMES)).assign(snr_db=snr_db)
    pd.concat([speakers, latent_table], axis=1).to_csv(truth / "latents.csv", index=False, float_format="%.5f")
    oracle.to_csv(truth / "oracle.csv", index=False, float_format="%.4f")

    with torch.no_grad():
        ams = measure(torch.from_numpy(shapes.astype(np.float64)),
                      torch.from_numpy(template.landmark_idx), am_table).numpy()
    am_cols = pd.DataFrame(ams, columns=[f"am_{i}" for i in am_table.am_id])
    pd.concat([speakers, am_cols], axis=1).to_csv(truth / "ams.csv", index=False, float_format="%.5f")

    n_landmarks = len(template.landmark_idx)
    pd.DataFrame({
        "speaker_id": np.repeat(speakers["speaker_id"].to_numpy(), n_landmarks),
        "landmark": np.tile(np.arange(1, n_landmarks + 1), len(speakers)),
        "mislabelled": np.concatenate([a.mislabelled for a in annotations]).astype(int),
        "error_mm": np.concatenate([a.error_mm for a in annotations]),
    }).to_csv(truth / "annotations.csv", index=False, float_format="%.4f")

    write_mesh(truth / "template.ply", template.vertices, template.faces)
    pd.DataFrame({"landmark": np.arange(1, n_landmarks + 1),
                  "vertex_index": template.landmark_idx}).to_csv(truth / "template_landmarks.csv", index=False)
    pd.DataFrame({"vertex_index": np.arange(len(template.region)),
                  "region": np.asarray(REGIONS)[template.region]}).to_csv(truth / "template_regions.csv", index=False)


def write_manifest(root: Path, rows: Iterable[dict[str, str]]) -> None:
    pd.DataFrame(list(rows), columns=list(MANIFEST_COLUMNS)).to_csv(root / "manifest.csv", index=False)
