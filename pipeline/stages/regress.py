"""regress stage: the direct voice -> eigenface-coefficient baseline, per gender.

Trained on repeat 1's D_t, its step chosen on repeat 1's D_v1, and applied to D_e, the
speakers the AM route is evaluated on; D_e is never seen in training or selection.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import read_output, save_npz, write_csv
from ..cohort import Gender
from ..config import Params
from ..device import device_for
from ..errors import DatasetError
from ..estimator.data import load_features
from ..face.registered import RegisteredFaces
from ..reconstruction.eigenface import Eigenface
from ..reconstruction.regression import RegressionSettings, load_network, predict_coefficients, train_regression
from ..seeds import regression_seed
from ..splits import Splits
from . import Paths


def main(params: Params, paths: Paths) -> None:
    device = device_for(params.device)
    features = load_features(paths.features)
    registered = RegisteredFaces.load(paths.registered, paths.face_speakers)
    outputs = {}
    for gender in map(Gender, params.sfv.genders):
        model = Eigenface.load(paths.eigenface / f"{gender}.npz")
        splits_path = paths.splits / f"{gender}.csv"
        splits = Splits(read_output(splits_path, "splits"))
        ids = {part: splits.members(1, part) for part in ("t", "v1", "e")}
        missing = [s for part in ids.values() for s in part if s not in features or s not in registered]
        if missing:
            raise DatasetError(f"{splits_path}: speakers {missing[:5]} have no features "
                               f"or no registered face (re-run the pipeline from features and register)")
        coefficients = {part: model.coefficients(registered.of(members)) for part, members in ids.items()}
        settings = RegressionSettings.from_params(params, regression_seed(params.seed, gender))
        with tqdm(total=1, desc=f"regress {gender}", unit="network") as bar:
            result = train_regression([np.concatenate(features[s]) for s in ids["t"]], coefficients["t"],
                                      [features[s] for s in ids["v1"]], coefficients["v1"], settings, device)
            bar.update()
        net = load_network(result.state, result.n_outputs, features[ids["t"][0]][0].shape[1], device)
        predicted = predict_coefficients(net, [features[s] for s in ids["e"]], settings.train.eval_frames,
                                         settings.train.batch_size, device)
        outputs[gender] = (result, settings, predicted, ids["e"])
    # Everything is computed before anything is written.
    for gender, (result, settings, predicted, held_out) in outputs.items():
        save_npz(paths.regression_models / f"{gender}.npz", **{f"state/{k}": v for k, v in result.state.items()},
                 spec=json.dumps({"n_outputs": result.n_outputs, "eval_frames": settings.train.eval_frames,
                                  "best_step": result.best_step}))
        columns = {f"beta_{c + 1}": predicted[:, c] for c in range(predicted.shape[1])}
        write_csv(pd.DataFrame({"speaker_id": held_out, **columns}), paths.regression / f"{gender}.csv")
        write_csv(pd.DataFrame(result.log, columns=["step", "train_loss", "v1_l2"]),
                  paths.regression_log / f"{gender}.csv")
