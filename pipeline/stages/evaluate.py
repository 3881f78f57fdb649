"""evaluate stage: the reconstructions of D_e against the true faces and against baselines.

Per gender, every method puts one face on every D_e speaker: SfV (the reconstruct stage), the
mean face, the direct voice -> coefficient regression (regress stage) and the oracle fit
(the reconstruct stage's own fit, models/reconstruct, with the speakers' true AMs as targets). Speakers are dropped
by SfV's uncertainty for every method alike, so the curves compare the same people.
reports/metrics.json merges the select stage's keys with these.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_table
from ..config import load_params
from ..dataset import DatasetError
from ..reconstruction.eigenface import Eigenface
from ..reconstruction.evaluation import (face_distances, matching_1v2, matching_interval, most_certain,
                                         paired_gain, ratio_errors, region_means, vertex_errors)
from ..reconstruction.bundle import FaceFit
from ..settings import GENDER_CODES, device_for
from . import run

METHODS = ("sfv", "mean_face", "regression", "oracle_ams")
MAP_SHARES = (0.0, 0.25, 0.5)


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
    if not selection_metrics.is_file():
        raise DatasetError(f"{selection_metrics}: not found (the select stage writes it)")
    metrics = json.loads(selection_metrics.read_text())
    detail, curves, figures = {}, {}, {}
    for gender in params.sfv.genders:
        folder = reconstructions_dir / gender
        info = read_table(folder / "speakers.csv")
        ids = list(info["speaker_id"])
        truth = np.stack([np.asarray(registered[row_of[s]], np.float64) for s in ids])
        model = Eigenface.load(eigenface_dir / f"{gender}.npz")
        fit = FaceFit.load(fits_dir / f"{gender}.npz")
        true_ams = ams.loc[ids, [f"am_{k}" for k in fit.table.am_id]].to_numpy(np.float64)
        faces = {"sfv": model.shapes(np.load(folder / "coefficients.npy")),
                 "mean_face": np.repeat(model.mean[None], len(ids), axis=0),
                 "regression": model.shapes(_regression_coefficients(regression_dir / f"{gender}.csv", ids)),
                 # The same fit as SfV's, with the speakers' true AMs as targets: the AM route's bound.
                 "oracle_ams": fit.fit(model, true_ams, device_for(params.device))[0]}
        errors = {m: vertex_errors(faces[m], truth) for m in METHODS}
        uncertainty = info["uncertainty"].to_numpy()
        curve = pd.DataFrame([{"dropped_percent": round(100 * share), "speakers": int(most_certain(uncertainty, share).sum()),
                               **{f"{m}_mm": float(errors[m][most_certain(uncertainty, share)].mean()) for m in METHODS}}
                              for share in settings.drop_shares])
        distances = {m: face_distances(faces[m], truth) for m in METHODS}
        seed = int(np.random.SeedSequence([params.seed, list(GENDER_CODES).index(gender)]).generate_state(1)[0])
        low, high = matching_interval(distances["sfv"], settings.bootstrap, settings.confidence, seed)
        at_half = most_certain(uncertainty, 0.5)
        per_speaker = {m: errors[m].mean(axis=1) for m in METHODS}
        gain, gain_low, gain_high = paired_gain(per_speaker["mean_face"], per_speaker["sfv"], settings.bootstrap,
                                                settings.confidence, seed + 1)
        gap = float(per_speaker["mean_face"].mean() - per_speaker["oracle_ams"].mean())
        metrics.setdefault(gender, {}).update({
            "reconstruction": {"vertex_error_mm": float(errors["sfv"].mean()),
                               "vertex_error_mm_50": float(errors["sfv"][at_half].mean()),
                               "guiding_ams": int(fit.guides.sum()), "speakers": len(ids),
                               # mean face minus SfV, paired by speaker, with a bootstrap interval
                               "gain_over_mean_face_mm": gain,
                               "gain_over_mean_face_ci": {"low": gain_low, "high": gain_high},
                               # the share of the mean-face-to-oracle gap that SfV closes
                               "gap_closed": _finite(gain / gap) if gap > 0 else None},
            "baseline": {f"{m}_mm": float(errors[m].mean()) for m in METHODS if m != "sfv"},
            "matching_1v2": _finite(matching_1v2(distances["sfv"])),  # null with a single D_e speaker
            "matching_1v2_ci": {"low": _finite(low), "high": _finite(high)},  # bootstrap over speakers
        })
        true_landmarks = truth[:, fit.landmark_idx]
        detail[gender] = {
            "region_mm": {m: region_means(errors[m], regions) for m in METHODS},
            "are": {m: ratio_errors(faces[m][:, fit.landmark_idx], true_landmarks) for m in METHODS},
            "matching_1v2": {m: _finite(matching_1v2(distances[m])) for m in METHODS},
        }
        curves[gender] = curve
        maps = [(f"SfV, {round(100 * s)}% dropped\n({int(most_certain(uncertainty, s).sum())} speakers)",
                 errors["sfv"][most_certain(uncertainty, s)].mean(axis=0)) for s in MAP_SHARES]
        maps.append((f"mean face\n({len(ids)} speakers)", errors["mean_face"].mean(axis=0)))
        figures[gender] = (model.mean, maps)
    # Everything is computed before anything is written.
    curves_dir.mkdir(parents=True, exist_ok=True)
    maps_dir.mkdir(parents=True, exist_ok=True)
    for gender, curve in curves.items():
        curve.to_csv(curves_dir / f"{gender}.csv", index=False, float_format="%.6g")
        mean, maps = figures[gender]  # drawn by the error_map stage
        np.savez(maps_dir / f"{gender}_maps.npz", mean_face=mean, labels=np.array([label for label, _ in maps]),
                 errors=np.stack([values for _, values in maps]))
    detail_path.write_text(json.dumps(detail, indent=2, sort_keys=True) + "\n")
    metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def _finite(value: float) -> float | None:
    """JSON has no NaN: an undefined figure is null."""
    return None if np.isnan(value) else value


def _regression_coefficients(path: Path, ids: list[str]) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(f"{path}: not found (the regress stage writes it)")
    table = read_table(path).set_index("speaker_id")
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
