"""data/embeddings/: the layout the embeddings stage writes and the estimators read.

index.csv (speaker_id, recording, seconds: one row per vector, in order), vectors.npy
(float32 [recordings, D]), meta.json (encoders, dims, feature names, rates, windowing, package
versions, seconds of audio and wall seconds per encoder), skipped.csv (speakers dropped under
data.on_error: skip).
"""
from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import partial_folder, read_table, save_npy, write_csv, write_json
from ..dataset import SKIPPED_COLUMNS
from ..errors import DatasetError

INDEX_COLUMNS = ["speaker_id", "recording", "seconds"]
PACKAGES = ("opensmile", "praat-parselmouth", "resemblyzer", "speechbrain", "transformers", "torch", "numpy")


def package_versions() -> dict[str, str | None]:
    """The installed version of each package an encoder may use (None: not installed)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_embeddings(folder: str | Path, index: pd.DataFrame, vectors: np.ndarray, meta: dict,
                     skipped: list[tuple[str, str, str]]) -> None:
    """The whole folder, or nothing (partial_folder)."""
    if len(index) != len(vectors):
        raise ValueError(f"{len(index)} index rows for {len(vectors)} vectors")
    with partial_folder(folder) as partial:
        write_csv(index[INDEX_COLUMNS], partial / "index.csv", "%.4f")
        save_npy(np.asarray(vectors, dtype=np.float32), partial / "vectors.npy")
        write_json(meta, partial / "meta.json")
        write_csv(pd.DataFrame(skipped, columns=SKIPPED_COLUMNS), partial / "skipped.csv", None)


def load_embeddings(folder: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """speaker_id -> vectors [recordings, D] in index order, and meta.json."""
    folder = Path(folder)
    if not (folder / "vectors.npy").is_file():
        raise DatasetError(f"{folder}: no vectors.npy (the embeddings stage writes it)")
    index = read_table(folder / "index.csv")
    vectors = np.load(folder / "vectors.npy")
    meta = json.loads((folder / "meta.json").read_text())
    if len(index) != len(vectors) or vectors.shape[1] != meta["dim"]:
        raise DatasetError(f"{folder}: index.csv has {len(index)} rows, vectors.npy is {vectors.shape} and "
                           f"meta.json says dim {meta['dim']}; run the embeddings stage again")
    rows = index.groupby("speaker_id", sort=False).indices
    return {sid: vectors[np.sort(at)] for sid, at in rows.items()}, meta
