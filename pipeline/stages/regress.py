"""regress stage: the direct voice -> eigenface-coefficient baseline, per gender.

Trained on repeat 1's D_t, its step chosen on repeat 1's D_v1, and applied to D_e, the
speakers the AM route is evaluated on; D_e is never seen in training or selection.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import read_table, save_npz, write_csv
from ..config import load_params
from ..dataset import DatasetError
from ..estimator.data import load_features, repeat_seed
from ..reconstruction.eigenface import Eigenface
from ..reconstruction.regression import RegressionSettings, load_network, predict_coefficients, train_regression
from ..settings import device_for, train_settings
from . import run


def main(params_path: Path, features_dir: Path, faces_dir: Path, splits_dir: Path, eigenface_dir: Path,
         models_dir: Path, out_dir: Path, log_dir: Path) -> None:
    params = load_params(params_path)
    device = device_for(params.device)
    train = train_settings(params)
    features = load_features(features_dir)
    speakers = read_table(faces_dir / "speakers.csv")
    registered = np.load(faces_dir / "registered.npy", mmap_mode="r")
    row_of = {s: i for i, s in enumerate(speakers["speaker_id"])}
    outputs = {}
    for gender in params.sfv.genders:
        model = Eigenface.load(eigenface_dir / f"{gender}.npz")
        splits = read_table(splits_dir / f"{gender}.csv")
        first = splits[splits["repeat"] == splits["repeat"].min()]
        ids = {part: list(first.loc[first["split"] == part, "speaker_id"]) for part in ("t", "v1", "e")}
        missing = [s for part in ids.values() for s in part if s not in features or s not in row_of]
        if missing:
            raise DatasetError(f"{splits_dir / f'{gender}.csv'}: speakers {missing[:5]} have no features "
                               f"or no registered face (re-run the pipeline from features and register)")
        coefficients = {part: model.coefficients(np.stack([np.asarray(registered[row_of[s]], np.float64)
                                                           for s in members])) for part, members in ids.items()}
        settings = RegressionSettings(train, params.evaluate.triplet_weight, params.evaluate.triplet_margin,
                                      seed=repeat_seed(params.seed, gender, 0))  # repeat 0: a stream no estimator uses
        with tqdm(total=1, desc=f"regress {gender}", unit="network") as bar:
            result = train_regression([np.concatenate(features[s]) for s in ids["t"]], coefficients["t"],
                                      [features[s] for s in ids["v1"]], coefficients["v1"], settings, device)
            bar.update()
        net = load_network(result.state, result.n_outputs, features[ids["t"][0]][0].shape[1], device)
        predicted = predict_coefficients(net, [features[s] for s in ids["e"]], train.eval_frames,
                                         train.batch_size, device)
        outputs[gender] = (result, settings, predicted, ids["e"])
    # Everything is computed before anything is written.
    for gender, (result, settings, predicted, held_out) in outputs.items():
        save_npz(models_dir / f"{gender}.npz", **{f"state/{k}": v for k, v in result.state.items()},
                 spec=json.dumps({"n_outputs": result.n_outputs, "eval_frames": settings.train.eval_frames,
                                  "best_step": result.best_step}))
        columns = {f"beta_{c + 1}": predicted[:, c] for c in range(predicted.shape[1])}
        write_csv(pd.DataFrame({"speaker_id": held_out, **columns}), out_dir / f"{gender}.csv")
        write_csv(pd.DataFrame(result.log, columns=["step", "train_loss", "v1_l2"]), log_dir / f"{gender}.csv")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    parser.add_argument("--splits", type=Path, default=Path("data/splits"))
    parser.add_argument("--eigenface", type=Path, default=Path("models/eigenface"))
    parser.add_argument("--models", type=Path, default=Path("models/regression"))
    parser.add_argument("--out", type=Path, default=Path("data/regression"))
    parser.add_argument("--log", type=Path, default=Path("reports/regression"))
    args = parser.parse_args()
    run(main, args.params, args.features, args.faces, args.splits, args.eigenface, args.models, args.out,
        args.log)
