"""eigenface stage: per gender, the PCA model of the registered faces of every speaker outside D_e."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..artifacts import read_table, write_json
from ..config import load_params
from ..dataset import DatasetError
from ..reconstruction.eigenface import fit_eigenface
from ..settings import GENDER_CODES
from . import run


def main(params_path: Path, faces_dir: Path, splits_dir: Path, out_dir: Path, summary_path: Path) -> None:
    params = load_params(params_path)
    speakers = read_table(faces_dir / "speakers.csv")
    faces = np.load(faces_dir / "registered.npy", mmap_mode="r")
    models, summary = {}, {}
    for gender in params.sfv.genders:
        splits = read_table(splits_dir / f"{gender}.csv")
        held_out = set(splits.loc[splits["split"] == "e", "speaker_id"])
        rows = np.flatnonzero((speakers["gender"] == GENDER_CODES[gender]) & ~speakers["speaker_id"].isin(held_out))
        if len(rows) < 3:
            raise DatasetError(f"{faces_dir / 'speakers.csv'}: {len(rows)} {gender} faces outside D_e; "
                               f"an eigenface model needs at least 3")
        model = fit_eigenface(np.asarray(faces[rows], dtype=np.float64), params.reconstruct.variance_share,
                              params.reconstruct.max_components)
        models[gender] = model
        n_vertices = model.mean.shape[0]
        summary[gender] = {"faces": int(len(rows)), "components": model.n_components,
                           # RMS per vertex (mm) of the cohort along the first and the last kept component
                           "first_component_rms_mm": float(model.stddev[0] / np.sqrt(n_vertices)),
                           "last_component_rms_mm": float(model.stddev[-1] / np.sqrt(n_vertices))}
    for gender, model in models.items():
        model.save(out_dir / f"{gender}.npz")
    write_json(summary, summary_path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    parser.add_argument("--splits", type=Path, default=Path("data/splits"))
    parser.add_argument("--out", type=Path, default=Path("models/eigenface"))
    parser.add_argument("--summary", type=Path, default=Path("reports/eigenface.json"))
    args = parser.parse_args()
    run(main, args.params, args.faces, args.splits, args.out, args.summary)
