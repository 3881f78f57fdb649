"""evaluate stage: the reconstructions of D_e against the true faces and against baselines.

Per gender, every method puts one face on every D_e speaker: SfV (the reconstruct stage), the
mean face, the direct voice -> coefficient regression (regress stage) and the oracle fit
(the reconstruct stage's own fit, models/reconstruct, with the speakers' true AMs as targets). Speakers are dropped
by SfV's uncertainty for every method alike, so the curves compare the same people.
reports/metrics.json merges the select stage's keys with these.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_json, read_output, read_table, save_npz, write_csv, write_json
from ..cohort import Gender
from ..config import Params
from ..device import device_for
from ..errors import DatasetError
from ..face.registered import RegisteredFaces
from ..reconstruction.bundle import FaceFit
from ..reconstruction.comparison import compare_methods
from ..reconstruction.eigenface import Eigenface
from ..seeds import evaluation_seed
from . import Paths


def main(params: Params, paths: Paths) -> None:
    settings = params.evaluate
    ams = read_table(paths.ams).set_index("speaker_id")
    registered = RegisteredFaces.load(paths.registered, paths.face_speakers)
    regions = pd.read_csv(paths.template_regions)["region"].to_numpy()
    metrics = read_json(paths.selection_metrics, "select")
    results, mean_faces = {}, {}
    for gender in map(Gender, params.sfv.genders):
        folder = paths.reconstructions / gender
        info = read_table(folder / "speakers.csv")
        ids = list(info["speaker_id"])
        model = Eigenface.load(paths.eigenface / f"{gender}.npz")
        fit = FaceFit.load(paths.face_fits / f"{gender}.npz")
        true_ams = ams.loc[ids, [f"am_{k}" for k in fit.table.am_id]].to_numpy(np.float64)
        faces = {"sfv": model.shapes(np.load(folder / "coefficients.npy")),
                 "mean_face": np.repeat(model.mean[None], len(ids), axis=0),
                 "regression": model.shapes(_regression_coefficients(paths.regression / f"{gender}.csv", ids)),
                 # The same fit as SfV's, with the speakers' true AMs as targets: the AM route's bound.
                 "oracle_ams": fit.fit(model, true_ams, device_for(params.device))[0]}
        results[gender] = compare_methods(
            faces, registered.of(ids), info["uncertainty"].to_numpy(), regions, fit.landmark_idx,
            int(fit.guides.sum()), settings.drop_shares, settings.bootstrap, settings.confidence,
            evaluation_seed(params.seed, gender))
        metrics.setdefault(str(gender), {}).update(results[gender].metrics)
        mean_faces[gender] = model.mean
    # Everything is computed before anything is written.
    for gender, result in results.items():
        write_csv(result.curve, paths.evaluation_curves / f"{gender}.csv")
        save_npz(paths.error_maps / f"{gender}_maps.npz", mean_face=mean_faces[gender],  # drawn by error_map
                 labels=np.array([label for label, _ in result.maps]),
                 errors=np.stack([values for _, values in result.maps]))
    write_json({str(g): r.detail for g, r in results.items()}, paths.evaluation)
    write_json(metrics, paths.metrics)


def _regression_coefficients(path: Path, ids: list[str]) -> np.ndarray:
    table = read_output(path, "regress").set_index("speaker_id")
    missing = sorted(set(ids) - set(table.index))
    if missing:
        raise DatasetError(f"{path}: no regression prediction for D_e speakers {missing[:5]}")
    return table.loc[ids].to_numpy(np.float64)
