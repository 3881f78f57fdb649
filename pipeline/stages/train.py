"""train stage: speaker-disjoint splits, AM estimators for every repeat, their predictions.

Per gender: the splits, the repeats (pipeline/estimator/protocol.py: in groups, on this
machine or on Ray, resumable), the permutation null, then the tables that summarise all
repeats (predictions, null, training log), written last and atomically.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..artifacts import read_table, write_csv
from ..config import load_params
from ..dataset import DatasetError
from ..estimator.data import load_features, load_waveforms
from ..estimator.null import permutation_seed, permutation_table
from ..estimator.protocol import predictions_table, pretraining_log, repeat_path, train_repeats, training_log
from ..estimator.splits import make_splits
from ..estimator.store import load_repeat
from ..settings import GENDER_CODES, device_for, train_settings
from . import run


def main(params_path: Path, features_dir: Path, segments_path: Path, ams_path: Path, splits_dir: Path,
         models_dir: Path, predictions_dir: Path, log_dir: Path, phonatory_dir: Path) -> None:
    params = load_params(params_path)
    settings = train_settings(params)
    device = device_for(params.device)
    features = load_features(features_dir)
    segments = read_table(segments_path) if settings.phonatory else None
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
        write_csv(splits, splits_dir / f"{gender}.csv")
        # The phonatory module's targets: only speakers that are in some repeat's D_t are read.
        trained = sorted(set(splits.speaker_id[splits.split == "t"]))
        waveforms = load_waveforms(Path(params.data.root), segments, trained, params.audio.sample_rate) \
            if settings.phonatory else None
        train_repeats(settings, device, gender, splits, features, targets, am_ids, models_dir / gender,
                      seed=params.seed, requested_group_size=params.sfv.group_size, backend=params.sfv.backend,
                      waveforms=waveforms)
        stored = [load_repeat(repeat_path(models_dir / gender, r)) for r in range(1, params.sfv.repeats + 1)]
        null = permutation_table(splits, features, targets, params.sfv.estimator, params.sfv.permutations,
                                 permutation_seed(params.seed, gender), desc=f"permutations {gender}")
        write_csv(predictions_table(stored, targets), predictions_dir / f"{gender}.csv")
        write_csv(null, predictions_dir / f"{gender}_permutations.csv")
        write_csv(training_log(stored), log_dir / f"{gender}.csv")
        write_csv(pretraining_log(stored), phonatory_dir / f"{gender}.csv")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--segments", type=Path, default=Path("data/vad/segments.csv"))
    parser.add_argument("--ams", type=Path, default=Path("data/ams/ams.csv"))
    parser.add_argument("--splits", type=Path, default=Path("data/splits"))
    parser.add_argument("--models", type=Path, default=Path("models/estimators"))
    parser.add_argument("--predictions", type=Path, default=Path("data/predictions"))
    parser.add_argument("--log", type=Path, default=Path("reports/train"))
    parser.add_argument("--phonatory", type=Path, default=Path("reports/phonatory"))
    args = parser.parse_args()
    run(main, args.params, args.features, args.segments, args.ams, args.splits, args.models, args.predictions,
        args.log, args.phonatory)
