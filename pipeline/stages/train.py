"""train stage: speaker-disjoint splits, AM estimators for every repeat, their predictions.

Per gender: the splits, then the repeats in groups of `sfv.group_size` (stacked into one
network each), on the local machine or on Ray. A repeat whose stored fingerprint matches is
kept, so an interrupted run resumes where it stopped; the outputs that summarise all repeats
(predictions, training log) are written last, through temporary files.
"""
from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import read_table
from ..config import Params, load_params
from ..dataset import DatasetError
from ..estimator.backend import BACKENDS
from ..estimator.data import load_features, repeat_data, repeat_seed
from ..estimator.estimators import is_cnn, progress_units
from ..estimator.null import permutation_seed, permutation_table
from ..estimator.splits import make_splits
from ..estimator.store import array_digest, fingerprint, load_repeat, save_repeat, stored_fingerprint
from ..estimator.training import TrainSettings
from ..estimator.network import WIDTHS
from ..settings import GENDER_CODES, device_for, train_settings
from . import run

RIDGE_GROUP = 10
PREDICTION_COLUMNS = ["repeat", "split", "speaker_id", "am_id", "mean", "var", "mean_z", "var_z",
                      "n_segments", "step", "target", "target_z"]


def main(params_path: Path, features_dir: Path, ams_path: Path, splits_dir: Path, models_dir: Path,
         predictions_dir: Path, log_dir: Path) -> None:
    params = load_params(params_path)
    settings = train_settings(params)
    device = device_for(params.device)
    features = load_features(features_dir)
    ams = read_table(ams_path).set_index("speaker_id")
    am_columns = [c for c in ams.columns if c.startswith("am_")]
    am_ids = np.array([int(c.removeprefix("am_")) for c in am_columns])
    for gender in params.sfv.genders:
        speakers = [s for s in ams.index[ams["gender"] == GENDER_CODES[gender]] if s in features]
        try:
            splits = make_splits(speakers, params.sfv.repeats, params.seed, gender, params.sfv.evaluation_share)
        except ValueError as err:
            raise DatasetError(f"{ams_path}: {len(speakers)} {gender} speakers have both features and AMs, "
                               f"too few for an evaluation set and 7/1/1 splits ({err})") from None
        targets = ams.loc[speakers, am_columns]
        _write_csv(splits, splits_dir / f"{gender}.csv")
        train_gender(params, settings, device, gender, splits, features, targets, am_ids,
                     models_dir / gender)
        stored = [load_repeat(_repeat_path(models_dir / gender, r)) for r in range(1, params.sfv.repeats + 1)]
        null = permutation_table(splits, features, targets, params.sfv.estimator, params.sfv.permutations,
                                 permutation_seed(params.seed, gender), desc=f"permutations {gender}")
        _write_csv(predictions_table(stored, targets), predictions_dir / f"{gender}.csv")
        _write_csv(null, predictions_dir / f"{gender}_permutations.csv")
        _write_csv(training_log(stored), log_dir / f"{gender}.csv")


def train_gender(params: Params, settings: TrainSettings, device, gender: str, splits: pd.DataFrame,
                 features: dict[str, list[np.ndarray]], targets: pd.DataFrame, am_ids: np.ndarray,
                 models_dir: Path) -> None:
    """Train every repeat whose stored result is missing or stale, in fixed groups, and drop
    files of repeats beyond `sfv.repeats`."""
    repeats = params.sfv.repeats
    # The ridge's results do not depend on its grouping: groups of 10 share the speakers'
    # statistics, and the fingerprint leaves the size out, so a longer run keeps the first repeats.
    size = group_size(params.sfv.group_size, repeats, device) if is_cnn(settings.estimator) else RIDGE_GROUP
    prints = {}
    data_digest = {s: array_digest(*features[s], targets.loc[s].to_numpy(np.float64)) for s in targets.index}
    for r, rows in splits.groupby("repeat"):
        split = dict(zip(rows["speaker_id"], rows["split"]))
        prints[r] = fingerprint({"settings": asdict(settings), "seed": params.seed, "gender": gender,
                                 "repeat": r, "group_size": size if is_cnn(settings.estimator) else None,
                                 "split": split,
                                 "data": [data_digest[s] for s in sorted(split)]})
    for path in models_dir.glob("repeat_*.npz"):
        if int(path.stem.removeprefix("repeat_")) > repeats:
            path.unlink()
    # Groups are fixed chunks of 1..N, so a resumed run stacks exactly the same networks.
    chunks = [list(range(start, min(start + size, repeats + 1))) for start in range(1, repeats + 1, size)]
    todo = [c for c in chunks if any(stored_fingerprint(_repeat_path(models_dir, r)) != prints[r] for r in c)]
    if not todo:
        return
    context = {}

    def build(r: int):
        rows = splits[splits["repeat"] == r]
        split = dict(zip(rows["speaker_id"], rows["split"]))
        data, mean, sd = repeat_data(r, repeat_seed(params.seed, gender, r), split, features, targets)
        context[r] = (data, mean, sd)
        return data

    groups = [[build(r) for r in chunk] for chunk in todo]
    n_mels = groups[0][0].train_features[0].shape[1]
    spec = {"n_mels": n_mels, "estimator": settings.estimator}
    if is_cnn(settings.estimator):
        spec.update({"n_outputs": 1 if settings.estimator == "per_am" else len(am_ids), "widths": list(WIDTHS),
                     "eval_frames": settings.eval_frames})

    def save(results) -> None:
        for result in results:
            data, mean, sd = context.pop(result.repeat)
            save_repeat(_repeat_path(models_dir, result.repeat), result, fingerprint=prints[result.repeat],
                        spec=spec, am_ids=am_ids, target_mean=mean, target_sd=sd,
                        scored_ids=data.scored_ids, scored_splits=data.scored_splits)
        bar.set_postfix(saved=f"repeat {results[-1].repeat}")

    with tqdm(total=sum(progress_units(settings, len(g)) for g in groups), desc=f"train {gender}",
              unit="step" if is_cnn(settings.estimator) else "repeat", smoothing=0.1) as bar:
        BACKENDS[params.sfv.backend](groups, settings, device, save, bar.update)


def group_size(requested: int, repeats: int, device) -> int:
    """Repeats per stacked network; 0 = auto. On a CPU one network at a time is fastest (a
    grouped convolution there costs more than the separate ones, see README "Benchmark"); on
    a GPU stacking is what fills the device."""
    if requested:
        return requested
    return min(repeats, 25) if device.type == "cuda" else 1


def predictions_table(stored, targets: pd.DataFrame) -> pd.DataFrame:
    """Long table of every repeat's D_v1, D_v2 and D_e predictions, raw scale and z-scale."""
    frames = []
    for rep in stored:
        n_s, k = rep.mean_z.shape
        raw_targets = targets.loc[list(rep.scored_ids)].to_numpy(np.float64)
        frames.append(pd.DataFrame({
            "repeat": rep.repeat,
            "split": np.repeat(rep.scored_splits, k),
            "speaker_id": np.repeat(rep.scored_ids, k),
            "am_id": np.tile(rep.am_ids, n_s),
            "mean": (rep.mean_z * rep.target_sd + rep.target_mean).ravel(),
            "var": (rep.var_z * rep.target_sd ** 2).ravel(),
            "mean_z": rep.mean_z.ravel(),
            "var_z": rep.var_z.ravel(),
            "n_segments": np.repeat(rep.n_segments, k),
            "step": np.tile(rep.best_step, n_s),
            "target": raw_targets.ravel(),
            "target_z": ((raw_targets - rep.target_mean) / rep.target_sd).ravel(),
        }))
    return pd.concat(frames, ignore_index=True)[PREDICTION_COLUMNS]


def training_log(stored) -> pd.DataFrame:
    rows = [(rep.repeat, int(step), nll, mse) for rep in stored for step, nll, mse in rep.log]
    return pd.DataFrame(rows, columns=["repeat", "step", "train_loss", "v1_mse"])


def _repeat_path(models_dir: Path, repeat: int) -> Path:
    return models_dir / f"repeat_{repeat:03d}.npz"


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--ams", type=Path, default=Path("data/ams/ams.csv"))
    parser.add_argument("--splits", type=Path, default=Path("data/splits"))
    parser.add_argument("--models", type=Path, default=Path("models/estimators"))
    parser.add_argument("--predictions", type=Path, default=Path("data/predictions"))
    parser.add_argument("--log", type=Path, default=Path("reports/train"))
    args = parser.parse_args()
    run(main, args.params, args.features, args.ams, args.splits, args.models, args.predictions, args.log)
