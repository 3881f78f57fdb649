"""evaluate stage: the reconstructions of D_e against the true faces and against baselines.

Per gender, every method puts one face on every D_e speaker: SfV (the reconstruct stage), the
mean face, the direct voice -> coefficient regression (regress stage) and the oracle fit
(the reconstruct stage's own fit, models/reconstruct, with the speakers' true AMs as targets). Speakers are dropped
by SfV's uncertainty for every method alike, so the curves compare the same people.
reports/metrics.json merges the select stage's keys with these.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_json, read_output, read_table, save_npz, write_csv, write_json
from ..config import load_params
from ..dataset import DatasetError
from ..reconstruction.bundle import FaceFit
from ..reconstruction.comparison import compare_methods
from ..reconstruction.eigenface import Eigenface
from ..settings import GENDER_CODES, device_for
from . import run


def main(params_path: Path, reconstructions_dir: Path, regression_dir: Path, eigenface_dir: Path,
         fits_dir: Path, ams_path: Path, faces_dir: Path, selection_metrics: Path, metrics_path: Path,
         detail_path: Path, curves_dir: Path, maps_dir: Path) -> None:
    params = load_params(params_path)
    settings = params.evaluate
    ams = read_table(ams_path).set_index("speaker_id")
    speakers = read_table(faces_dir / "speakers.csv")
    registered = np.load(faces_dir / "registered.npy", mmap_mode="r")
    row_of = {s: i for i, s in enumerate(speakers["speaker_id"])}
    regions = pd.read_csv(faces_dir / "template_regions.csv")["region"].to_numpy()
    metrics = read_json(selection_metrics, "select")
    results, mean_faces = {}, {}
    for gender in params.sfv.genders:
        folder = reconstructions_dir / gender
        info = read_table(folder / "speakers.csv")
        ids = list(info["speaker_id"])
        model = Eigenface.load(eigenface_dir / f"{gender}.npz")
        fit = FaceFit.load(fits_dir / f"{gender}.npz")
        true_ams = ams.loc[ids, [f"am_{k}" for k in fit.table.am_id]].to_numpy(np.float64)
        faces = {"sfv": model.shapes(np.load(folder / "coefficients.npy")),
                 "mean_face": np.repeat(model.mean[None], len(ids), axis=0),
                 "regression": model.shapes(_regression_coefficients(regression_dir / f"{gender}.csv", ids)),
                 # The same fit as SfV's, with the speakers' true AMs as targets: the AM route's bound.
                 "oracle_ams": fit.fit(model, true_ams, device_for(params.device))[0]}
        seed = int(np.random.SeedSequence([params.seed, list(GENDER_CODES).index(gender)]).generate_state(1)[0])
        results[gender] = compare_methods(
            faces, np.stack([np.asarray(registered[row_of[s]], np.float64) for s in ids]),
            info["uncertainty"].to_numpy(), regions, fit.landmark_idx, int(fit.guides.sum()), settings.drop_shares,
            settings.bootstrap, settings.confidence, seed)
        metrics.setdefault(gender, {}).update(results[gender].metrics)
        mean_faces[gender] = model.mean
    # Everything is computed before anything is written.
    for gender, result in results.items():
        write_csv(result.curve, curves_dir / f"{gender}.csv")
        save_npz(maps_dir / f"{gender}_maps.npz", mean_face=mean_faces[gender],  # drawn by the error_map stage
                 labels=np.array([label for label, _ in result.maps]),
                 errors=np.stack([values for _, values in result.maps]))
    write_json({g: r.detail for g, r in results.items()}, detail_path)
    write_json(metrics, metrics_path)


def _regression_coefficients(path: Path, ids: list[str]) -> np.ndarray:
    table = read_output(path, "regress").set_index("speaker_id")
    missing = sorted(set(ids) - set(table.index))
    if missing:
        raise DatasetError(f"{path}: no regression prediction for D_e speakers {missing[:5]}")
    return table.loc[ids].to_numpy(np.float64)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--reconstructions", type=Path, default=Path("data/reconstructions"))
    parser.add_argument("--regression", type=Path, default=Path("data/regression"))
    parser.add_argument("--eigenface", type=Path, default=Path("models/eigenface"))
    parser.add_argument("--fits", type=Path, default=Path("models/reconstruct"))
    parser.add_argument("--ams", type=Path, default=Path("data/ams/ams.csv"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    parser.add_argument("--selection-metrics", type=Path, default=Path("reports/selection.json"))
    parser.add_argument("--metrics", type=Path, default=Path("reports/metrics.json"))
    parser.add_argument("--detail", type=Path, default=Path("reports/evaluation.json"))
    parser.add_argument("--curves", type=Path, default=Path("reports/evaluation"))
    parser.add_argument("--maps", type=Path, default=Path("data/evaluation"))
    args = parser.parse_args()
    run(main, args.params, args.reconstructions, args.regression, args.eigenface, args.fits, args.ams, args.faces,
        args.selection_metrics, args.metrics, args.detail, args.curves, args.maps)
