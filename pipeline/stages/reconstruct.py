"""reconstruct stage: the face each D_e speaker's voice implies, fitted to the top predictable AMs."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_output, read_table, save_npy, write_csv
from ..config import load_params
from ..face.ams import read_am_table
from ..face.io import read_landmark_vertices, read_triangles, write_mesh
from ..reconstruction.eigenface import Eigenface
from ..reconstruction.bundle import FaceFit
from ..reconstruction.targets import am_scale, ensemble_predictions, guiding_ams
from ..settings import GENDER_CODES, device_for
from . import run


def main(params_path: Path, predictions_dir: Path, selection_dir: Path, eigenface_dir: Path, ams_path: Path,
         faces_dir: Path, splits_dir: Path, out_dir: Path, models_dir: Path) -> None:
    params = load_params(params_path)
    table = read_am_table(Path(params.face.ams))
    device = device_for(params.device)
    ams = read_table(ams_path).set_index("speaker_id")
    am_columns = [f"am_{k}" for k in table.am_id]
    speakers = read_table(faces_dir / "speakers.csv")
    registered = np.load(faces_dir / "registered.npy", mmap_mode="r")
    row_of = {s: i for i, s in enumerate(speakers["speaker_id"])}
    landmark_idx = read_landmark_vertices(faces_dir / "landmark_vertices.csv")
    triangles = read_triangles(faces_dir / "template.ply")
    for gender in params.sfv.genders:
        model = Eigenface.load(eigenface_dir / f"{gender}.npz")
        ensemble = ensemble_predictions(read_table(predictions_dir / f"{gender}.csv"))
        splits = read_table(splits_dir / f"{gender}.csv")
        held_out = set(splits.loc[splits["split"] == "e", "speaker_id"])
        am_mean, am_sd = am_scale(ams, GENDER_CODES[gender], held_out, am_columns)
        selection = read_output(selection_dir / f"{gender}.csv", "select").set_index("am_id").loc[table.am_id]
        guide = guiding_ams(selection.reset_index(), params.reconstruct.top_k)
        fit = FaceFit(table, am_mean, am_sd, selection["z"].to_numpy() == 1, selection["ci_u"].to_numpy(),
                      np.isin(table.am_id, guide), params.reconstruct.lam, landmark_idx, triangles,
                      params.audio.model_dump())
        mean = ensemble.pivot(index="speaker_id", columns="am_id", values="mean")[table.am_id]
        uncertainty = ensemble.pivot(index="speaker_id", columns="am_id", values="uncertainty")[table.am_id]
        faces, beta, value = fit.fit(model, mean.to_numpy(), device)
        truth = np.stack([np.asarray(registered[row_of[s]], dtype=np.float64) for s in mean.index])
        errors = np.linalg.norm(faces - truth, axis=2)
        # A speaker's uncertainty: mean z-scale uncertainty over the guiding AMs (all AMs if none).
        used = fit.guides if fit.guides.any() else np.ones(len(table), bool)
        speaker_uncertainty = (uncertainty.to_numpy()[:, used] / am_sd[used] ** 2).mean(axis=1)
        target = out_dir / gender
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("*.ply"):
            stale.unlink()
        for speaker, face in zip(mean.index, faces):
            write_mesh(target / f"{speaker}.ply", face, triangles)
        save_npy(errors.astype(np.float32), target / "errors.npy")
        save_npy(beta, target / "coefficients.npy")
        write_csv(pd.DataFrame({"speaker_id": mean.index, "uncertainty": speaker_uncertainty, "objective": value,
                                "vertex_error_mm": errors.mean(axis=1)}), target / "speakers.csv")
        write_csv(pd.DataFrame({"am_id": table.am_id, "guides": fit.guides.astype(int)}), target / "guiding_ams.csv")
        fit.save(models_dir / f"{gender}.npz")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--predictions", type=Path, default=Path("data/predictions"))
    parser.add_argument("--selection", type=Path, default=Path("reports/selection"))
    parser.add_argument("--eigenface", type=Path, default=Path("models/eigenface"))
    parser.add_argument("--ams", type=Path, default=Path("data/ams/ams.csv"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    parser.add_argument("--splits", type=Path, default=Path("data/splits"))
    parser.add_argument("--out", type=Path, default=Path("data/reconstructions"))
    parser.add_argument("--models", type=Path, default=Path("models/reconstruct"))
    args = parser.parse_args()
    run(main, args.params, args.predictions, args.selection, args.eigenface, args.ams, args.faces, args.splits,
        args.out, args.models)
