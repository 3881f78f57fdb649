"""reconstruct stage: the face each D_e speaker's voice implies, fitted to the top predictable AMs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_output, read_table, save_npy, speaker_file, write_csv
from ..cohort import Gender
from ..config import Params
from ..device import device_for
from ..face.ams import read_am_table
from ..face.io import read_landmark_vertices, read_triangles, write_mesh
from ..face.registered import RegisteredFaces
from ..reconstruction.bundle import FaceFit
from ..reconstruction.eigenface import Eigenface
from ..reconstruction.targets import am_scale, ensemble_predictions, guiding_ams
from ..splits import Splits
from . import Paths


def main(params: Params, paths: Paths) -> None:
    table = read_am_table(Path(params.face.ams))
    device = device_for(params.device)
    ams = read_table(paths.ams).set_index("speaker_id")
    am_columns = [f"am_{k}" for k in table.am_id]
    registered = RegisteredFaces.load(paths.registered, paths.face_speakers)
    landmark_idx = read_landmark_vertices(paths.landmark_vertices)
    triangles = read_triangles(paths.template)
    for gender in map(Gender, params.sfv.genders):
        model = Eigenface.load(paths.eigenface / f"{gender}.npz")
        ensemble = ensemble_predictions(read_table(paths.predictions / f"{gender}.csv"))
        held_out = Splits(read_output(paths.splits / f"{gender}.csv", "splits")).held_out
        am_mean, am_sd = am_scale(ams, gender, held_out, am_columns)
        selection = read_output(paths.selection / f"{gender}.csv", "select").set_index("am_id").loc[table.am_id]
        guide = guiding_ams(selection.reset_index(), params.reconstruct.top_k)
        fit = FaceFit(table, am_mean, am_sd, selection["z"].to_numpy() == 1, selection["ci_u"].to_numpy(),
                      np.isin(table.am_id, guide), params.reconstruct.lam, landmark_idx, triangles)
        mean = ensemble.pivot(index="speaker_id", columns="am_id", values="mean")[table.am_id]
        uncertainty = ensemble.pivot(index="speaker_id", columns="am_id", values="uncertainty")[table.am_id]
        faces, beta, value = fit.fit(model, mean.to_numpy(), device)
        errors = np.linalg.norm(faces - registered.of(list(mean.index)), axis=2)
        # A speaker's uncertainty: mean z-scale uncertainty over the guiding AMs (all AMs if none).
        used = fit.guides if fit.guides.any() else np.ones(len(table), bool)
        speaker_uncertainty = (uncertainty.to_numpy()[:, used] / am_sd[used] ** 2).mean(axis=1)
        target = paths.reconstructions / str(gender)
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("*.ply"):
            stale.unlink()
        for speaker, face in zip(mean.index, faces):
            write_mesh(speaker_file(target, speaker, ".ply"), face, triangles)
        save_npy(errors.astype(np.float32), target / "errors.npy")
        save_npy(beta, target / "coefficients.npy")
        write_csv(pd.DataFrame({"speaker_id": mean.index, "uncertainty": speaker_uncertainty, "objective": value,
                                "vertex_error_mm": errors.mean(axis=1)}), target / "speakers.csv")
        write_csv(pd.DataFrame({"am_id": table.am_id, "guides": fit.guides.astype(int)}), target / "guiding_ams.csv")
        fit.save(paths.face_fits / f"{gender}.npz")
